/**
 * The one Powertools logger, metrics and tracer of every handler. Handlers import these and
 * never build their own, so service name, namespace and redaction are the same everywhere.
 */
import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { redact } from './redact';

/** Metric namespace of every Citadel metric (alarms and dashboards read it). */
export const METRICS_NAMESPACE = 'Citadel';

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

/**
 * X-Ray works only inside Lambda with tracing on. Elsewhere (tests, `npm run dev`, stages with tracing off)
 * the X-Ray SDK is never loaded: importing it installs an async hook on every promise of the process.
 */
export const tracingEnabled =
  process.env.POWERTOOLS_TRACE_ENABLED !== 'false' && process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;

export const tracer: Tracer | undefined = tracingEnabled
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer()
  : undefined;

/** Instruments an AWS SDK v3 client for X-Ray when tracing is on; returns it unchanged otherwise. */
export const traced = <T>(client: T): T => (tracer ? tracer.captureAWSv3Client(client) : client);
