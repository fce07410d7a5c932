/** Waiting for the scan verdict of a completed upload. */
import type { ApiFile, CitadelClient } from './client';
import { ScanTimeoutError } from './errors';
import { sleep } from './retry';

/** States a file reaches once the upload is complete. */
export const COMPLETED_STATES: ReadonlySet<string> = new Set([
  'scanning',
  'clean',
  'infected',
  'rejected',
  'scan_failed',
]);

/**
 * Polls `GET /v1/files/{id}` with backoff until the file leaves `scanning`; throws {@link ScanTimeoutError}
 * after `timeoutMs`.
 */
export async function waitForScan(
  client: CitadelClient,
  id: string,
  options: {
    timeoutMs?: number;
    signal?: AbortSignal;
    onState?: (state: string) => void;
  } = {},
): Promise<ApiFile> {
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const started = Date.now();
  let delay = 250;
  for (;;) {
    const file = await client.getFile(id, { signal: options.signal });
    options.onState?.(file.state);
    if (file.state !== 'scanning' && file.state !== 'uploading') return file;
    const waited = Date.now() - started;
    if (waited + delay > timeoutMs) throw new ScanTimeoutError(id, file.state, waited);
    await sleep(delay, options.signal);
    delay = Math.min(10_000, Math.round(delay * 1.6));
  }
}
