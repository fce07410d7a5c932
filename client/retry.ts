/** Backoff shared by API calls and part uploads. Browser-safe (no Node built-ins). */

export interface RetryPolicy {
  /** Retries after the first attempt. @default 4 */
  readonly retries?: number;
  /** First backoff ceiling (ms); doubles per attempt. @default 250 */
  readonly baseDelayMs?: number;
  /** Largest backoff (ms), `Retry-After` included. @default 20000 */
  readonly maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryPolicy> = { retries: 4, baseDelayMs: 250, maxDelayMs: 20_000 };

/**
 * "Full jitter" backoff: a uniform delay in [ceiling/2, ceiling], where the ceiling doubles per attempt up to
 * `maxDelayMs`. The floor keeps a burst of clients from retrying at once without ever waiting zero.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy = {}, random: () => number = Math.random) {
  const base = policy.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const max = policy.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const ceiling = Math.min(max, base * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * HTTP statuses worth retrying an idempotent request on: throttling and the gateway's "try again" answers.
 * Never other 4xx. A request that is not safe to repeat is retried only on 429, and on 503 with Retry-After.
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
