/**
 * The one Powertools logger, metrics and tracer of every handler. Handlers import these and
 * never build their own, so service name, namespace and redaction are the same everywhere.
 */
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { FLOW_DIMENSION, METRICS_NAMESPACE, UPLOAD_FLOW, UPLOAD_FLOW_METRICS } from '../../contract/metrics';
import { redact } from './redact';

/** Powertools' JSON layout, with secrets and tokens redacted from every attribute. */
class RedactingLogFormatter extends LogFormatter {
  public formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      xray_trace_id: attributes.xRayTraceId,
      sampling_rate: attributes.sampleRateValue,
    };
    return new LogItem({ attributes: redact(base) as LogAttributes }).addAttributes(
      redact(additional) as LogAttributes,
    );
  }
}

export const logger = new Logger({ logFormatter: new RedactingLogFormatter() });

/**
 * Powertools Metrics reports its own housekeeping through this logger. A request that records no
 * business metric is normal here, so that notice is demoted to DEBUG instead of a WARN per request.
 */
const metricsLogger = {
  debug: (message: unknown) => logger.debug(String(message)),
  info: (message: unknown) => logger.info(String(message)),
  warn: (message: unknown) =>
    String(message).startsWith('No application metrics')
      ? logger.debug(String(message))
      : logger.warn(String(message)),
  error: (message: unknown) => logger.error(String(message)),
};

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  logger: metricsLogger,
});

export type MetricUnit = Parameters<typeof metrics.addMetric>[1];

/**
 * Records a metric of this function; an upload outcome (`UPLOAD_FLOW_METRICS`) also for the whole stage: once more,
 * immediately, with the single dimension `flow = uploads` instead of this function's `service` (see
 * `contract/metrics.ts`), so the upload-failure alarm reads one series however many functions record it.
 */
export function addMetric(name: string, unit: MetricUnit, value: number): void {
  metrics.addMetric(name, unit, value);
  if (!UPLOAD_FLOW_METRICS.has(name)) return;
  const single = metrics.singleMetric();
  single.clearDefaultDimensions();
  single.setDefaultDimensions({ [FLOW_DIMENSION]: UPLOAD_FLOW });
  single.addMetric(name, unit, value);
}

/**
 * X-Ray works only inside Lambda with tracing on. Elsewhere (tests, `npm run dev`, stages with tracing off)
 * the X-Ray SDK is never loaded: importing it installs an async hook on every promise of the process.
 */
export const tracingEnabled =
  process.env.POWERTOOLS_TRACE_ENABLED !== 'false' && process.env.AWS_EXECUTION_ENV !== undefined;

let loaded: Tracer | undefined;
let loading: Promise<Tracer> | undefined;
const untracedClients: object[] = [];

/**
 * The tracer, loaded on first use (no top-level await, so the same code bundles as ESM or CommonJS).
 * `undefined` whenever tracing is off.
 */
export function loadTracer(): Promise<Tracer> | undefined {
  if (!tracingEnabled) return undefined;
  loading ??= import('@aws-lambda-powertools/tracer').then(({ Tracer }) => {
    loaded = new Tracer();
    for (const client of untracedClients.splice(0)) loaded.captureAWSv3Client(client);
    return loaded;
  });
  return loading;
}

/** Instruments an AWS SDK v3 client for X-Ray once the tracer is loaded; a no-op when tracing is off. */
export function traced<T extends object>(client: T): T {
  if (!tracingEnabled) return client;
  if (loaded) loaded.captureAWSv3Client(client);
  else untracedClients.push(client);
  return client;
}
