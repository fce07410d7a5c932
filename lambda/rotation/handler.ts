/**
 * Secrets Manager rotation function for PostgreSQL passwords: the RDS master (`single-user`) and the
 * read-only reporting user (`alternating-users`), chosen by `ROTATION_STRATEGY`.
 *
 * Every invocation runs the standard guards, then one step, and emits exactly one metric
 * (`RotationSucceeded` or `RotationFailed`, dimension `Step`) and one outcome log line. Failures are
 * rethrown without secret values so Secrets Manager retries the rotation.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { ROTATION_METRICS } from '../../contract/metrics';
import { type Connect, pgConnect } from '../shared/db/direct';
import { observe } from '../shared/observe';
import { logger, metrics, traced } from '../shared/powertools';
import { describeError } from './db';
import {
  checkRotation,
  performStep,
  ROTATION_STEPS,
  ROTATION_STRATEGIES,
  type RotationEvent,
  type RotationStrategy,
} from './steps';

export type { RotationEvent, RotationStep, RotationStrategy } from './steps';

export const METRIC_SUCCEEDED = ROTATION_METRICS.succeeded;
export const METRIC_FAILED = ROTATION_METRICS.failed;

/** One client per container, reused by every invocation. */
const secretsManager = traced(new SecretsManagerClient({}));

/** The error the function fails with: names the step and the cause, never a secret value. */
export class RotationStepFailed extends Error {
  override readonly name = 'RotationStepFailed';
}

export interface RotationHandlerOptions {
  /** @default the container's SecretsManagerClient */
  readonly client?: SecretsManagerClient;
  /** @default a `pg.Client` with `pgTls()` straight to the secret's host */
  readonly connect?: Connect;
  /** @default `ROTATION_STRATEGY`, read at each invocation */
  readonly strategy?: RotationStrategy;
}

/** Reads `ROTATION_STRATEGY`; refuses anything but `single-user` or `alternating-users`. */
export function strategyFromEnv(value = process.env.ROTATION_STRATEGY): RotationStrategy {
  if (!ROTATION_STRATEGIES.includes(value as RotationStrategy)) {
    throw new Error(
      `ROTATION_STRATEGY must be one of ${ROTATION_STRATEGIES.join(', ')}, got ${value ?? 'nothing'}`,
    );
  }
  return value as RotationStrategy;
}

/** Builds the rotation handler; the exported `handler` uses the defaults, tests inject a client or `connect`. */
export function createRotationHandler(options: RotationHandlerOptions = {}) {
  const core = async (event: RotationEvent, _context: Context): Promise<void> => {
    const started = Date.now();
    const step = ROTATION_STEPS.includes(event?.Step) ? event.Step : 'invalid';
    const fields: Record<string, unknown> = {
      arn: event?.SecretId,
      step,
      strategy: options.strategy ?? process.env.ROTATION_STRATEGY,
      versionId: event?.ClientRequestToken,
    };
    const sensitive = new Set<string>();
    if (event?.RotationToken) sensitive.add(event.RotationToken);
    try {
      if (
        step === 'invalid' ||
        typeof event.SecretId !== 'string' ||
        typeof event.ClientRequestToken !== 'string'
      ) {
        throw new Error('the event is not a Secrets Manager rotation event');
      }
      const strategy = options.strategy ?? strategyFromEnv();
      const client = options.client ?? secretsManager;
      const target = await checkRotation(client, event);
      fields.arn = target.arn;
      fields.currentVersionId = target.currentVersionId;
      const action =
        target.state === 'current'
          ? 'nothing to do: the version is already AWSCURRENT'
          : await performStep(
              { client, connect: options.connect ?? pgConnect, strategy, sensitive },
              target,
              event,
            );
      metrics.addDimension('Step', step);
      metrics.addMetric(METRIC_SUCCEEDED, MetricUnit.Count, 1);
      logger.info('rotation step succeeded', {
        ...fields,
        outcome: 'succeeded',
        action,
        durationMs: Date.now() - started,
      });
    } catch (error) {
      const cause = describeError(error, [...sensitive]);
      metrics.addDimension('Step', step);
      metrics.addMetric(METRIC_FAILED, MetricUnit.Count, 1);
      logger.error('rotation step failed', {
        ...fields,
        outcome: 'failed',
        cause,
        durationMs: Date.now() - started,
      });
      throw new RotationStepFailed(
        `${step} failed for ${String(fields.arn)} (version ${String(fields.versionId)}): ${cause}`,
      );
    }
  };

  return observe(core);
}

/** The Lambda entry point (`ROTATION_STRATEGY` = `single-user` | `alternating-users`). */
export const handler = createRotationHandler();
