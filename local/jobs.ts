/**
 * LOCAL — `npm run dev`. The Api stack's scheduled jobs, run on a timer in the dev process as EventBridge
 * schedules run them in AWS, so that an upload abandoned locally ends `failed` and a rotated key's overlap closes
 * as they would deployed. The intervals are the stack's (a test compares them with the synthesized schedules).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handler as expireApiKeys } from '../lambda/admin/expire-api-keys';
import { handler as expireUploads } from '../lambda/uploads/expire-uploads';
import { LocalContext } from './lambda-context';

export interface LocalJob {
  /** The job function's `POWERTOOLS_SERVICE_NAME` in the Api stack. */
  readonly serviceName: string;
  readonly everyMs: number;
  readonly run: (now: Date) => Promise<unknown>;
}

/** A job run every `everyMs`: an EventBridge scheduled event and a Lambda context, handed over as Lambda would. */
const job = (
  serviceName: string,
  everyMs: number,
  handler: (event: unknown, context: Context) => Promise<unknown>,
): LocalJob => ({
  serviceName,
  everyMs,
  run: (now: Date) => {
    const id = randomUUID();
    const event = { id, 'detail-type': 'Scheduled Event', source: 'aws.events', time: now.toISOString() };
    return handler(event, new LocalContext(`${serviceName}-local`, id, { timeoutSeconds: 300 }));
  },
});

export const LOCAL_JOBS: readonly LocalJob[] = [
  job('citadel-expire-uploads', 60 * 60_000, expireUploads),
  job('citadel-expire-api-keys', 15 * 60_000, expireApiKeys),
];

export interface LocalJobsOptions {
  /** @default LOCAL_JOBS */
  readonly jobs?: readonly LocalJob[];
  /** A run's failure (the Lambda would retry, then dead-letter). @default logged to stderr */
  readonly onError?: (job: LocalJob, error: unknown) => void;
  /** Each job's result. */
  readonly onResult?: (job: LocalJob, result: unknown) => void;
}

export interface LocalJobs {
  /** Stops the timers and waits for runs in progress. */
  stop(): Promise<void>;
}

/**
 * Runs each job once at start (what was abandoned while the server was down ends now, as the next scheduled run
 * would end it) and then every `everyMs`, never two runs of one job at once.
 */
export function startLocalJobs(options: LocalJobsOptions = {}): LocalJobs {
  const running = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const onError =
    options.onError ??
    ((job: LocalJob, error: unknown) =>
      process.stderr.write(`[local-jobs] ${job.serviceName} failed: ${String(error)}\n`));
  for (const job of options.jobs ?? LOCAL_JOBS) {
    let busy = false;
    const tick = () => {
      if (busy) return;
      busy = true;
      const run = job
        .run(new Date())
        .then((result) => options.onResult?.(job, result))
        .catch((error: unknown) => onError(job, error))
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    tick();
    const timer = setInterval(tick, job.everyMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running]);
    },
  };
}
