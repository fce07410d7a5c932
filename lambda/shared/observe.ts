import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './powertools';

/**
 * Wraps a Lambda handler the house way, once for every function: X-Ray (when tracing is on), the
 * Lambda context and a per-invocation reset of log keys, and metrics flushed with a cold-start count.
 * Whole events are never logged (`logEvent` stays off).
 */
export function observe<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  const wrapped = middy<TEvent, TResult>(handler);
  if (tracer) wrapped.use(captureLambdaHandler(tracer, { captureResponse: false }));
  return wrapped
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
