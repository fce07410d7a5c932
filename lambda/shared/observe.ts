import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadTracer, logger, metrics } from './powertools';

/** Powertools' X-Ray middleware, wired once the tracer has loaded. */
function lazyTracing(load: Promise<Tracer>): middy.MiddlewareObj {
  const inner = load.then((tracer) => captureLambdaHandler(tracer, { captureResponse: false }));
  return {
    before: async (request) => (await inner).before?.(request),
    after: async (request) => (await inner).after?.(request),
    onError: async (request) => (await inner).onError?.(request),
  };
}

/**
 * Wraps a Lambda handler the house way, once for every function: X-Ray (when tracing is on), the
 * Lambda context and a per-invocation reset of log keys, and metrics flushed with a cold-start count.
 * Whole events are never logged (`logEvent` stays off).
 */
export function observe<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  const wrapped = middy<TEvent, TResult>(handler);
  const tracer = loadTracer();
  if (tracer) wrapped.use(lazyTracing(tracer));
  return wrapped
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
