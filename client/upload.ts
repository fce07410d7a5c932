/**
 * Node-only resumable uploads (3 GB and more) and streaming downloads.
 *
 * `uploadFile` (alias `upload`) declares the file, signs part URLs ahead in batches, sends each part straight
 * from its source to S3 (a file range or a Blob slice streamed; a stream through one part-sized buffer per
 * worker), retries and re-signs per part, completes, and optionally waits for the scan verdict. A resume
 * record on disk lets a new process continue an interrupted upload of the same unchanged file (or Blob with a
 * resume key). `startUpload` returns a handle that also pauses and resumes.
 *
 * The steps live in `upload-run.ts` (one upload as a state machine over explicit state) and `part-sender.ts`
 * (the parts in flight); this module is the public surface.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { ApiFile, CitadelClient } from './client';
import { PauseGate, prepareSource, type UploadSource } from './sources';
import { type DownloadToFileResult, downloadToFile } from './transfer';
import { UploadRun } from './upload-run';
import type { UploadControl, UploadFileOptions, UploadFileResult } from './upload-types';

export { COMPLETED_STATES, waitForScan } from './scan-wait';
export type { UploadSource } from './sources';
export type { UploadEvent, UploadFileOptions, UploadFileResult, UploadProgress } from './upload-types';

/** A running upload: pause, resume or abort it, and await `done`. */
export interface UploadHandle {
  /** Resolves once the upload is complete (and, with `waitForScan`, once the verdict is in). */
  readonly done: Promise<UploadFileResult>;
  /** True between `pause()` and `resume()`. */
  readonly paused: boolean;
  /**
   * Starts no new part (nor the final complete call, nor a part's retry) until `resume()`; parts in flight
   * finish. Resolves once they have, i.e. once no byte is being sent (or once `resume()` is called first, or
   * the upload settles). Emits `{ type: 'paused' }`.
   */
  pause(): Promise<void>;
  /** Continues a paused upload. Emits `{ type: 'unpaused' }`. */
  resume(): void;
  /**
   * Aborts, like the `signal` option: the upload is deleted unless `keepOnAbort`, and `done` rejects with
   * `reason` (an `AbortError` by default). Works while paused.
   */
  abort(reason?: unknown): void;
}

/**
 * Starts an upload from a file path, a Blob, a Node Readable or a web ReadableStream (see
 * {@link UploadSource} and {@link UploadFileOptions}) and returns a handle to pause, resume or abort it.
 * Memory stays within `concurrency` × part size whatever the source.
 */
export function startUpload(
  client: CitadelClient,
  source: UploadSource,
  options: UploadFileOptions = {},
): UploadHandle {
  const gate = new PauseGate();
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let inFlight = 0;
  let settled = false;
  let idle: Array<() => void> = [];
  const whenIdle = (): Promise<void> =>
    inFlight === 0 || settled ? Promise.resolve() : new Promise((r) => idle.push(r));
  const releaseIdle = () => {
    const waiters = idle;
    idle = [];
    for (const w of waiters) w();
  };
  const flushIdle = () => {
    if (inFlight === 0 || settled) releaseIdle();
  };
  const control: UploadControl = {
    gate,
    signal,
    partStarted: () => {
      inFlight++;
    },
    partSettled: () => {
      inFlight--;
      flushIdle();
    },
  };
  const done = runUpload(client, source, options, control).finally(() => {
    settled = true;
    gate.resume(); // nothing waits on it any more; lets go of any waiter left
    flushIdle();
  });
  return {
    done,
    get paused() {
      return gate.paused;
    },
    pause() {
      if (!gate.paused && !settled) {
        gate.pause();
        options.onEvent?.({ type: 'paused', partsInFlight: inFlight });
      }
      return whenIdle();
    },
    resume() {
      if (!gate.paused || settled) return;
      gate.resume();
      // A pause() still waiting for the parts in flight is over: it resolves rather than hang.
      releaseIdle();
      options.onEvent?.({ type: 'unpaused' });
    },
    abort(reason?: unknown) {
      controller.abort(reason);
    },
  };
}

/**
 * Uploads a file path, a Blob or a stream of any size (3 GB and more) with bounded memory; see
 * {@link UploadFileOptions}. Resolves once the upload is complete (and, with `waitForScan`, once the verdict
 * is in). `startUpload` does the same and also returns a handle to pause, resume and abort.
 */
export function uploadFile(
  client: CitadelClient,
  source: UploadSource,
  options: UploadFileOptions = {},
): Promise<UploadFileResult> {
  return startUpload(client, source, options).done;
}

/** `upload(client, source, options)`: the same as {@link uploadFile}. */
export const upload = uploadFile;

async function runUpload(
  client: CitadelClient,
  source: UploadSource,
  options: UploadFileOptions,
  control: UploadControl,
): Promise<UploadFileResult> {
  const started = Date.now();
  const prepared = await prepareSource(source, {
    size: options.size,
    resumeKey: options.resumeKey,
    declaresSha256: options.sha256 !== undefined && options.sha256 !== false,
    // Streams only: checked as the bytes are read (paths and Blobs just declare it).
    expectedSha256: typeof options.sha256 === 'string' ? options.sha256 : undefined,
  });
  if (prepared.hash === undefined && options.sha256 === true) {
    prepared.close();
    throw new TypeError(
      '`sha256: true` hashes the source before uploading, and a stream can be read only once: give the expected digest as a hex string (checked as the stream is read, and declared), or upload a file or a Blob',
    );
  }
  try {
    return await new UploadRun(client, prepared, options, control, started).run();
  } finally {
    prepared.close();
  }
}

export interface DownloadFileOptions {
  readonly signal?: AbortSignal;
  /** No byte arriving for this long fails the download. @default 120000 */
  readonly idleTimeoutMs?: number;
  /**
   * Replace a file already at the destination. With `false`, an existing file is a {@link DownloadTargetError}
   * before any byte is fetched (and a file appearing meanwhile is never replaced). @default true
   */
  readonly overwrite?: boolean;
}

export interface DownloadFileResult extends DownloadToFileResult {
  readonly file: ApiFile;
}

/**
 * Downloads a clean file to `destPath` (a directory means "under the file's own name there"), streaming to
 * a temporary file that is renamed into place only when every byte arrived and, when the upload declared a
 * SHA-256, matched it.
 */
export async function downloadFile(
  client: CitadelClient,
  id: string,
  destPath: string,
  options: DownloadFileOptions = {},
): Promise<DownloadFileResult> {
  const [file, link] = await Promise.all([
    client.getFile(id, { signal: options.signal }),
    client.getDownloadLink(id, { signal: options.signal }),
  ]);
  let target = resolve(destPath);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) target = join(target, safeName(link.filename));
  const result = await downloadToFile(link.url, target, {
    expectedBytes: file.size,
    expectedSha256: file.sha256,
    signal: options.signal,
    idleTimeoutMs: options.idleTimeoutMs,
    overwrite: options.overwrite,
  });
  return { ...result, file };
}

/** A file name safe to create locally from a server-provided display name. */
const safeName = (name: string): string =>
  basename(name.replace(/[\\/]/g, '_')).replace(/^\.+/, '_') || 'download';
