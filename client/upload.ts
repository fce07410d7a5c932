/**
 * Node-only resumable uploads (3 GB and more) and streaming downloads.
 *
 * `uploadFile` (alias `upload`) declares the file, signs part URLs ahead in batches, sends each part straight
 * from its source to S3 (a file range or a Blob slice streamed; a stream through one part-sized buffer per
 * worker), retries and re-signs per part, completes, and optionally waits for the scan verdict. A resume
 * record on disk lets a new process continue an interrupted upload of the same unchanged file (or Blob with a
 * resume key). `startUpload` returns a handle that also pauses and resumes.
 */
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MAX_PARTS_PER_CALL, partBytes, partCountFor, partSizeFor } from '../contract/api/uploads';
import type { ApiFile, CitadelClient } from './client';
import {
  CitadelProblemError,
  FileChangedError,
  ScanTimeoutError,
  StorageRequestError,
  UploadGoneError,
} from './errors';
import { PartUrlCache } from './part-url-cache';
import { type FileIdentity, type ResumeRecord, ResumeStore } from './resume-state';
import { backoffDelay, sleep } from './retry';
import {
  PauseGate,
  type PreparedSource,
  prepareSource,
  SourceNotReplayableError,
  type UploadSource,
} from './sources';
import {
  type AnyAgent,
  agentFor,
  type DownloadToFileResult,
  downloadToFile,
  isTransientTransferError,
  putPart,
  RateLimiter,
} from './transfer';

export type { UploadSource } from './sources';

/** States a file reaches once the upload is complete. */
export const COMPLETED_STATES: ReadonlySet<string> = new Set([
  'scanning',
  'clean',
  'infected',
  'rejected',
  'scan_failed',
]);

export interface UploadProgress {
  /** Bytes S3 holds: `bytesHeld` and what this run sent since (less a failed attempt's, taken back). */
  readonly bytesUploaded: number;
  readonly bytesTotal: number;
  readonly partsDone: number;
  readonly partsTotal: number;
  /** Parts S3 already held when a resumed upload started. */
  readonly partsSkipped: number;
  /**
   * Bytes of those parts: counted in `bytesUploaded` from the first report on, but not sent by this run
   * (leave them out of a transfer rate). 0 unless resumed.
   */
  readonly bytesHeld: number;
}

/** What the uploader is doing, for logs and UIs. */
export type UploadEvent =
  | { readonly type: 'hashing'; readonly path: string }
  | {
      readonly type: 'created';
      readonly id: string;
      readonly partSize: number;
      readonly partCount: number;
      /** The declared media type: the `contentType` option, else the one the source's bytes showed. */
      readonly contentType: string;
    }
  | {
      readonly type: 'resumed';
      readonly id: string;
      readonly partsHeld: number;
      readonly partCount: number;
    }
  | { readonly type: 'restarted'; readonly previousId: string; readonly reason: string }
  | { readonly type: 'signed'; readonly id: string; readonly partNumbers: readonly number[] }
  | {
      readonly type: 'part-uploaded';
      readonly partNumber: number;
      readonly bytes: number;
      readonly etag: string;
    }
  | {
      readonly type: 'part-retry';
      readonly partNumber: number;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | { readonly type: 'part-resigned'; readonly partNumber: number; readonly reason: string }
  | { readonly type: 'completed'; readonly file: ApiFile }
  | { readonly type: 'aborted'; readonly id: string; readonly kept: boolean }
  | { readonly type: 'scan-state'; readonly id: string; readonly state: string }
  /** `pause()` was called: no new part starts; `partsInFlight` parts still finish. */
  | { readonly type: 'paused'; readonly partsInFlight: number }
  /** `resume()` was called after `pause()` (`resumed` is taken: it means an earlier upload continued). */
  | { readonly type: 'unpaused' };

export interface UploadFileOptions {
  /** Display name sent to the API. @default the file's base name (a File's name; `upload` otherwise) */
  readonly filename?: string;
  /**
   * Declared media type. @default a Blob's own type if valid, else sniffed from the first bytes (file-type);
   * streams are not read ahead: application/octet-stream
   */
  readonly contentType?: string;
  /** Parts in flight at once; a stream source holds one part-sized buffer per part in flight. @default 4 */
  readonly concurrency?: number;
  /**
   * `true`: hash the file or Blob first (one streaming pass) and declare its SHA-256; a stream cannot be read
   * twice, so `true` is a TypeError there. Or give the hex digest: it is declared (the scan checks it), and a
   * stream's bytes are also hashed as they are read, so a mismatch fails the upload before it completes.
   */
  readonly sha256?: boolean | string;
  /** Stream sources (required there): the exact number of bytes. Others: checked against the source's size. */
  readonly size?: number;
  /**
   * Blob sources: what identifies these bytes for resuming in another process (with the Blob's size and a
   * File's `lastModified`). Without it (and without a File's name) a Blob upload is not recorded for resuming.
   * A Blob that is not a File (e.g. `fs.openAsBlob`) has no `lastModified`, so key and size could not tell
   * changed bytes apart: it is recorded only with a `resumeKey` and `sha256` (`true` or the digest), and a
   * resumed upload checks the SHA-256 (hashing the Blob again for `true`) before reusing any part.
   * @default a File's name
   */
  readonly resumeKey?: string;
  /** Where resume records live. @default ~/.citadel/uploads */
  readonly stateDir?: string;
  /**
   * Resume an interrupted upload of the same unchanged file (or Blob with a resume key), and record this one.
   * Streams are never recorded: they cannot be read again. An upload recorded with another `filename`,
   * `contentType` or `sha256` than the ones given now is not resumed: it is aborted and the upload starts
   * over (a `restarted` event says why). @default true
   */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /**
   * On abort, keep the upload (and its resume record) instead of deleting it, if it is recorded for resuming
   * (not a stream, not `resume: false`, not a Blob without a resume identity); otherwise nothing could resume
   * it and it is deleted. An upload that fails for another reason is kept only when recorded, and never
   * when the source changed (FileChangedError). The `aborted` event says which. @default false
   */
  readonly keepOnAbort?: boolean;
  readonly onProgress?: (progress: UploadProgress) => void;
  readonly onEvent?: (event: UploadEvent) => void;
  /** After completing, poll until the scan verdict (not `scanning`). @default false */
  readonly waitForScan?: boolean;
  /** Longest wait for the verdict. @default 15 minutes */
  readonly scanTimeoutMs?: number;
  /** Retries of one part after network errors, throttling or 5xx. @default 5 */
  readonly partRetries?: number;
  /** Part URLs asked for per call (signed ahead of use). @default enough for ~1 GiB, at most 500 */
  readonly signBatchSize?: number;
  /** Overall bandwidth cap in bytes per second. @default unlimited */
  readonly rateLimitBytesPerSecond?: number;
  /**
   * A part attempt with no byte moving for this long fails (and is retried). Time the bandwidth cap holds
   * bytes back does not count. @default 120000
   */
  readonly idleTimeoutMs?: number;
}

export interface UploadFileResult {
  readonly file: ApiFile;
  readonly id: string;
  /** The upload continued one an earlier process started. */
  readonly resumed: boolean;
  /** Times the uploader started over (a stale resume record included) because the upload was gone. */
  readonly restarts: number;
  readonly partsUploaded: readonly number[];
  readonly partsSkipped: readonly number[];
  readonly bytesSent: number;
  readonly seconds: number;
}

const MAX_RESIGNS_PER_PART = 3;
const MAX_RESTARTS = 2;

interface Session {
  readonly id: string;
  readonly partSize: number;
  readonly partCount: number;
  /** Part number → ETag of parts S3 holds with the right size. */
  readonly held: Map<number, string>;
  /** Byte and part counts of this upload, from what S3 held when it started (resumed) on. */
  readonly progress: ProgressReporter;
}

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

interface UploadControl {
  readonly gate: PauseGate;
  /** The caller's signal and the handle's `abort()`, combined. */
  readonly signal: AbortSignal;
  /** A part starts sending (again, after a retry's wait). */
  readonly partStarted: () => void;
  /** A part stops sending: done, failed, or waiting to retry. */
  readonly partSettled: () => void;
}

/** `promise`, or the signal's reason as soon as it aborts (the promise is left to settle on its own). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

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
    return await transfer(client, prepared, options, control, started);
  } finally {
    prepared.close();
  }
}

/** The upload itself, once the source is prepared. */
async function transfer(
  client: CitadelClient,
  prepared: PreparedSource,
  options: UploadFileOptions,
  control: UploadControl,
  started: number,
): Promise<UploadFileResult> {
  const { gate, signal: userSignal } = control;
  const size = prepared.size;
  if (options.size !== undefined && options.size !== size) {
    throw new RangeError(`the source has ${size} bytes, not the ${options.size} given as \`size\``);
  }
  const identity: FileIdentity | undefined = prepared.identity?.(client.baseUrl);
  const store =
    options.resume === false || identity === undefined ? undefined : new ResumeStore(options.stateDir);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  // Every part in flight listens to the signals (its request, its read, a retry's wait): more than
  // Node's default of 10 is no leak.
  setMaxListeners(concurrency * 2 + 10, userSignal);
  const emit = (event: UploadEvent) => options.onEvent?.(event);
  const limiter = options.rateLimitBytesPerSecond
    ? new RateLimiter(options.rateLimitBytesPerSecond)
    : undefined;
  const filename = options.filename ?? prepared.filename;
  const forget = async () => {
    if (identity) await store?.remove(identity);
  };

  let session: Session | undefined;
  let resumed = false;
  let restarts = 0;
  let partsUploaded = new Set<number>();
  let partsSkipped: number[] = [];
  let bytesSent = 0;
  let agent: AnyAgent | undefined;
  let completed = false;
  /** The session has a resume record on disk: another process (or a later call) can continue it. */
  let recorded = false;

  const gone = async (previousId: string, reason: string) => {
    restarts++;
    emit({ type: 'restarted', previousId, reason });
    await forget();
  };

  /** A session's progress, seeded with the parts S3 holds (reported once, in one go, when there are any). */
  const sessionProgress = (partSize: number, partCount: number, held: ReadonlyMap<number, string>) => {
    let heldBytes = 0;
    for (const n of held.keys()) heldBytes += partBytes(n, size, partSize);
    const progress = progressReporter(options.onProgress, size, partCount, held.size, heldBytes, (n) => {
      bytesSent += n;
    });
    if (held.size > 0) progress.flush();
    return progress;
  };

  let declaredSha: string | undefined = typeof options.sha256 === 'string' ? options.sha256 : undefined;
  let contentType = options.contentType;

  /** Why the recorded upload does not declare what this call would, if it does not. */
  const declaredDiffers = (record: ResumeRecord): string | undefined => {
    if (filename !== record.filename)
      return `it was declared as "${record.filename}", this upload as "${filename}"`;
    if (options.contentType !== undefined && options.contentType !== record.contentType)
      return `it was declared as ${record.contentType}, this upload as ${options.contentType}`;
    if (options.sha256 === true && !record.sha256)
      return 'it declared no SHA-256, and this upload declares one';
    if (typeof options.sha256 === 'string' && options.sha256.toLowerCase() !== record.sha256?.toLowerCase())
      return record.sha256
        ? `it declared another SHA-256 (${record.sha256})`
        : 'it declared no SHA-256, and this upload declares one';
    return undefined;
  };

  /** Gives up the recorded upload (aborts it, best effort) and starts over, saying why. */
  const discard = async (record: ResumeRecord, reason: string) => {
    await client.abortUpload(record.id, { signal: userSignal }).catch(() => undefined);
    await gone(record.id, reason);
  };

  /** The upload from the resume record, if the server still has it; `ApiFile` if it was completed already. */
  const resumeFrom = async (record: ResumeRecord): Promise<Session | ApiFile | undefined> => {
    const differs = declaredDiffers(record);
    if (differs) {
      await discard(record, `upload ${record.id} does not match: ${differs}`);
      return undefined;
    }
    if (prepared.resumeNeedsDigest && options.sha256 === true && prepared.hash) {
      // The Blob's key and size say nothing of its bytes: its SHA-256 must be the recorded upload's.
      emit({ type: 'hashing', path: identity?.path ?? filename });
      declaredSha = await prepared.hash(userSignal);
      if (declaredSha !== record.sha256) {
        await discard(
          record,
          `the Blob's SHA-256 is not the one upload ${record.id} declared: its bytes changed`,
        );
        return undefined;
      }
    }
    let status: Awaited<ReturnType<CitadelClient['getUpload']>>;
    try {
      status = await client.getUpload(record.id, { signal: userSignal });
    } catch (error) {
      if (error instanceof CitadelProblemError && error.status === 404) {
        await gone(record.id, 'the API no longer knows this upload');
        return undefined;
      }
      throw error;
    }
    const { file } = status;
    if (COMPLETED_STATES.has(file.state)) return file;
    const same =
      file.state === 'uploading' &&
      status.uploadId === record.uploadId &&
      status.partSize === record.partSize &&
      status.partCount === record.partCount &&
      file.size === size;
    if (!same) {
      await gone(
        record.id,
        `the upload is ${file.state}${file.failureReason ? `: ${file.failureReason}` : ''}`,
      );
      return undefined;
    }
    if (Date.parse(record.expiresAt) <= Date.now()) {
      await client.abortUpload(record.id, { signal: userSignal }).catch(() => undefined);
      await gone(record.id, 'the upload expired (the bucket lifecycle aborts incomplete uploads)');
      return undefined;
    }
    const held = new Map<number, string>();
    for (const p of status.parts) {
      if (p.partNumber <= record.partCount && p.size === partBytes(p.partNumber, size, record.partSize))
        held.set(p.partNumber, p.etag);
    }
    emit({ type: 'resumed', id: record.id, partsHeld: held.size, partCount: record.partCount });
    recorded = true;
    return {
      id: record.id,
      partSize: record.partSize,
      partCount: record.partCount,
      held,
      progress: sessionProgress(record.partSize, record.partCount, held),
    };
  };

  /** Declares a new upload; it is `session` (so a failure from here on deletes it) before it is recorded. */
  const create = async (): Promise<Session> => {
    contentType ??= (await prepared.sniffType()) ?? 'application/octet-stream';
    if (options.sha256 === true && declaredSha === undefined && prepared.hash) {
      emit({ type: 'hashing', path: identity?.path ?? filename });
      declaredSha = await prepared.hash(userSignal);
    }
    const created = await client.createUpload(
      { filename, size, contentType, ...(declaredSha ? { sha256: declaredSha } : {}) },
      { signal: userSignal },
    );
    const expected = partSizeFor(size);
    if (created.partSize !== expected || created.partCount !== partCountFor(size, expected)) {
      await client.abortUpload(created.id).catch(() => undefined);
      throw new Error(
        `The API chose ${created.partCount} parts of ${created.partSize} bytes; this client expects ${partCountFor(size, expected)} of ${expected}. The client and the API disagree on the contract: update the client.`,
      );
    }
    const held = new Map<number, string>();
    session = {
      id: created.id,
      partSize: created.partSize,
      partCount: created.partCount,
      held,
      progress: sessionProgress(created.partSize, created.partCount, held),
    };
    recorded = false;
    if (store && identity) {
      await store.save({
        version: 1,
        ...identity,
        id: created.id,
        uploadId: created.uploadId,
        key: created.key,
        partSize: created.partSize,
        partCount: created.partCount,
        filename,
        contentType,
        ...(declaredSha ? { sha256: declaredSha } : {}),
        createdAt: new Date().toISOString(),
        expiresAt: created.expiresAt,
      });
      recorded = true;
    }
    emit({
      type: 'created',
      id: created.id,
      partSize: created.partSize,
      partCount: created.partCount,
      contentType,
    });
    return session;
  };

  /** Uploads `parts` of the session with `concurrency` workers; returns their ETags. */
  const sendParts = async (s: Session, parts: readonly number[]): Promise<Map<number, string>> => {
    const etags = new Map<number, string>();
    if (parts.length === 0) return etags;
    const inner = new AbortController();
    setMaxListeners(concurrency * 2 + 10, inner.signal);
    const forward = () => inner.abort(userSignal.reason);
    userSignal.addEventListener('abort', forward, { once: true });
    if (userSignal.aborted) forward();
    let next = 0;
    const signer = new PartUrlCache({
      sign: (partNumbers) => client.signParts(s.id, partNumbers, { signal: inner.signal }),
      // Parts not yet started, in the order the workers will take them.
      ahead: () => parts.slice(next),
      batchSize:
        options.signBatchSize ??
        Math.min(MAX_PARTS_PER_CALL, Math.max(concurrency * 2, Math.ceil(1024 ** 3 / s.partSize))),
      onSigned: (partNumbers) => emit({ type: 'signed', id: s.id, partNumbers }),
    });
    const { progress } = s;

    /** Sends part `n` from the worker's buffer `slot`; its bytes are read once, retries re-send them. */
    const one = async (n: number, slot: number): Promise<string> => {
      const length = partBytes(n, size, s.partSize);
      const start = (n - 1) * s.partSize;
      // Both asked for before any await: a stream hands out its parts in the order the workers took them,
      // and the first part's signing call takes the parts the other workers have just taken into its batch.
      // The loop asks the signer again (a cache hit unless the URL expired meanwhile).
      const [body] = await Promise.all([
        raceAbort(prepared.part(n, start, length, slot), inner.signal),
        signer.get(n),
      ]);
      let retries = 0;
      let resigns = 0;
      for (;;) {
        const signed = await signer.get(n);
        if (signed.size !== length) {
          throw new Error(
            `The API signed part ${n} for ${signed.size} bytes; it has ${length}. The client and the API disagree on the contract.`,
          );
        }
        agent ??= agentFor(signed.url, concurrency);
        let sent = 0;
        try {
          return await putPart({
            url: signed.url,
            ...body,
            start,
            length,
            partNumber: n,
            agent,
            signal: inner.signal,
            limiter,
            idleTimeoutMs: options.idleTimeoutMs,
            onBytes: (b) => {
              sent += b;
              progress.add(b, b);
            },
          });
        } catch (error) {
          progress.add(-sent);
          if (inner.signal.aborted) throw inner.signal.reason ?? error;
          if (error instanceof StorageRequestError && error.code === 'NoSuchUpload') {
            throw new UploadGoneError(s.id, 'S3 no longer knows the multipart upload (aborted or expired)');
          }
          if (
            error instanceof StorageRequestError &&
            error.status === 403 &&
            resigns < MAX_RESIGNS_PER_PART
          ) {
            resigns++;
            signer.invalidate(n);
            emit({ type: 'part-resigned', partNumber: n, reason: error.s3Message ?? error.code ?? '403' });
            continue;
          }
          if (isTransientTransferError(error) && retries < (options.partRetries ?? 5)) {
            const delayMs = backoffDelay(retries, { baseDelayMs: 500, maxDelayMs: 30_000 });
            retries++;
            emit({ type: 'part-retry', partNumber: n, attempt: retries, delayMs, reason: String(error) });
            // Nothing is sent while waiting: a pause() made meanwhile need not wait for this part, and the
            // retry waits for resume().
            control.partSettled();
            try {
              await sleep(delayMs, inner.signal);
              while (gate.paused) await gate.wait(inner.signal);
            } finally {
              control.partStarted();
            }
            continue;
          }
          throw error;
        }
      }
    };

    /** Worker `slot` takes the next part whenever it is free and the upload is not paused. */
    const worker = async (slot: number) => {
      for (;;) {
        while (gate.paused) await gate.wait(inner.signal);
        inner.signal.throwIfAborted();
        if (next >= parts.length) return;
        const n = parts[next++] as number;
        control.partStarted();
        let etag: string;
        try {
          etag = await one(n, slot);
        } finally {
          control.partSettled(); // before the event: a `pause()` made in its listener counts only the others
        }
        etags.set(n, etag);
        partsUploaded.add(n);
        progress.partDone();
        emit({ type: 'part-uploaded', partNumber: n, bytes: partBytes(n, size, s.partSize), etag });
      }
    };
    try {
      const results = await Promise.allSettled(
        Array.from({ length: Math.min(concurrency, parts.length) }, (_, slot) =>
          worker(slot).catch((error: unknown) => {
            // One part failing for good stops the others; the first real error is reported.
            if (!inner.signal.aborted) inner.abort(error);
            throw error;
          }),
        ),
      );
      if (userSignal.aborted) throw userSignal.reason;
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw inner.signal.reason ?? (failed as PromiseRejectedResult).reason;
      return etags;
    } finally {
      userSignal.removeEventListener('abort', forward);
      progress.flush();
    }
  };

  /** The server's view after a refused complete/sign: completed, gone, or still uploading. */
  const recheck = async (s: Session) => {
    try {
      return await client.getUpload(s.id, { signal: userSignal });
    } catch (error) {
      if (error instanceof CitadelProblemError && error.status === 404)
        throw new UploadGoneError(s.id, 'the API no longer knows this upload');
      throw error;
    }
  };

  const complete = async (s: Session): Promise<ApiFile> => {
    const missing = Array.from({ length: s.partCount }, (_, i) => i + 1).filter((n) => !s.held.has(n));
    partsSkipped = [...s.held.keys()].sort((a, b) => a - b);
    try {
      const fresh = await sendParts(s, missing);
      for (const [n, etag] of fresh) s.held.set(n, etag);
    } catch (error) {
      if (error instanceof CitadelProblemError && (error.status === 409 || error.status === 404)) {
        const status = await recheck(s);
        if (COMPLETED_STATES.has(status.file.state)) return status.file;
        if (status.file.state !== 'uploading')
          throw new UploadGoneError(s.id, `the upload is ${status.file.state}`);
      }
      throw error;
    }
    for (let round = 0; ; round++) {
      while (gate.paused) await gate.wait(userSignal);
      const parts = [...s.held].sort(([a], [b]) => a - b).map(([partNumber, etag]) => ({ partNumber, etag }));
      try {
        return await client.completeUpload(s.id, parts, { signal: userSignal });
      } catch (error) {
        if (!(error instanceof CitadelProblemError) || ![400, 409].includes(error.status) || round >= 2)
          throw error;
        const status = await recheck(s);
        if (COMPLETED_STATES.has(status.file.state)) return status.file;
        if (status.file.state !== 'uploading')
          throw new UploadGoneError(s.id, `the upload is ${status.file.state}`);
        // Still uploading: S3 lacks a part (or holds a different one); send those again, then complete.
        const stored = new Map(status.parts.map((p) => [p.partNumber, p]));
        const redo = Array.from({ length: s.partCount }, (_, i) => i + 1).filter((n) => {
          const p = stored.get(n);
          return (
            !p ||
            p.size !== partBytes(n, size, s.partSize) ||
            p.etag.replace(/"/g, '') !== s.held.get(n)?.replace(/"/g, '')
          );
        });
        if (redo.length === 0) throw error;
        if (!prepared.replayable) {
          throw new SourceNotReplayableError(
            `S3 lacks part${redo.length === 1 ? '' : 's'} ${redo.join(', ')} of upload ${s.id}, and a stream cannot be read again to re-send ${redo.length === 1 ? 'it' : 'them'}; upload a file or a Blob to survive this`,
          );
        }
        // The same session's progress: those parts' bytes are taken back, then sent again.
        for (const n of redo) if (s.held.delete(n)) s.progress.partUndone(partBytes(n, size, s.partSize));
        const fresh = await sendParts(s, redo);
        for (const [n, etag] of fresh) s.held.set(n, etag);
      }
    }
  };

  try {
    let file: ApiFile | undefined;
    const record = store && identity ? await store.load(identity) : undefined;
    if (record) {
      const found = await resumeFrom(record);
      if (found && 'held' in found) {
        session = found;
        resumed = true;
      } else if (found) {
        file = found;
        resumed = true;
        await forget();
      }
    }
    while (!file) {
      session ??= await create();
      try {
        file = await complete(session);
      } catch (error) {
        if (!(error instanceof UploadGoneError) || restarts >= MAX_RESTARTS || userSignal.aborted)
          throw error;
        if (!prepared.replayable) {
          throw new SourceNotReplayableError(
            `upload ${session.id} cannot continue (${error.reason}), and a stream cannot be read again to start over; upload a file or a Blob to survive this`,
          );
        }
        await gone(session.id, error.reason);
        session = undefined;
        resumed = false;
        partsUploaded = new Set();
      }
    }
    completed = true;
    await forget();
    emit({ type: 'completed', file });
    if (options.waitForScan) {
      file = await waitForScan(client, file.id, {
        timeoutMs: options.scanTimeoutMs,
        signal: userSignal,
        onState: (state) => emit({ type: 'scan-state', id: (file as ApiFile).id, state }),
      });
    }
    return {
      file,
      id: file.id,
      resumed,
      restarts,
      partsUploaded: [...partsUploaded].sort((a, b) => a - b),
      partsSkipped,
      bytesSent,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (error) {
    const aborted = userSignal.aborted;
    if (session && !completed) {
      // Kept only when something can resume it: recorded, and its bytes are still the source's.
      const keep = aborted
        ? options.keepOnAbort === true && recorded
        : recorded && !(error instanceof FileChangedError);
      if (keep) {
        if (aborted) emit({ type: 'aborted', id: session.id, kept: true });
      } else {
        // Best effort: the bucket lifecycle removes what this misses after a day.
        await client.abortUpload(session.id).catch(() => undefined);
        await forget();
        emit({ type: 'aborted', id: session.id, kept: false });
      }
    }
    // The caller's reason, whatever was interrupted (hashing, creating, sending, waiting for the scan).
    if (aborted) throw userSignal.reason;
    throw error;
  } finally {
    agent?.destroy();
  }
}

type ProgressReporter = ReturnType<typeof progressReporter>;

/**
 * Aggregates byte progress across parts and reports at most every 100 ms (and on every part), from the
 * parts S3 already held (`partsSkipped`, `bytesHeld`) on.
 */
function progressReporter(
  onProgress: ((p: UploadProgress) => void) | undefined,
  bytesTotal: number,
  partsTotal: number,
  partsSkipped: number,
  bytesHeld: number,
  onSent: (bytes: number) => void,
) {
  let bytes = bytesHeld;
  let partsDone = partsSkipped;
  let last = 0;
  const report = (force: boolean) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    onProgress({ bytesUploaded: bytes, bytesTotal, partsDone, partsTotal, partsSkipped, bytesHeld });
  };
  return {
    /** `delta` counts towards progress (negative when a failed attempt is rolled back); `sent` went out. */
    add(delta: number, sent = 0) {
      bytes += delta;
      if (sent) onSent(sent);
      report(false);
    },
    partDone() {
      partsDone++;
      report(true);
    },
    /** A part counted as done must be sent again (S3 lacks it): its bytes are taken back. */
    partUndone(partBytes: number) {
      partsDone--;
      bytes -= partBytes;
    },
    flush: () => report(true),
  };
}

export interface DownloadFileOptions {
  readonly signal?: AbortSignal;
  /** No byte arriving for this long fails the download. @default 120000 */
  readonly idleTimeoutMs?: number;
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
  });
  return { ...result, file };
}

/** A file name safe to create locally from a server-provided display name. */
const safeName = (name: string): string =>
  basename(name.replace(/[\\/]/g, '_')).replace(/^\.+/, '_') || 'download';
