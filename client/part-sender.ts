/**
 * Sends a set of parts of one upload session straight to S3: `concurrency` workers take the next part whenever
 * they are free and the upload is not paused, each part's URL comes from a batch-signing cache, and each failed
 * attempt is re-signed (403), retried with backoff (network, throttling, 5xx) or given up.
 */
import { setMaxListeners } from 'node:events';
import { MAX_PARTS_PER_CALL, partBytes } from '../contract/api/uploads';
import type { CitadelClient, SignedParts } from './client';
import { StorageRequestError, UploadGoneError } from './errors';
import { PartUrlCache } from './part-url-cache';
import { backoffDelay, sleep } from './retry';
import type { PreparedSource } from './sources';
import { type AnyAgent, isTransientTransferError, putPart, type RateLimiter } from './transfer';
import type { Session, UploadControl, UploadEvent, UploadFileOptions } from './upload-types';

const MAX_RESIGNS_PER_PART = 3;

type SignedPart = SignedParts['parts'][number];

/** What a part sender needs from the upload it belongs to. */
export interface PartSenderContext {
  readonly client: CitadelClient;
  readonly prepared: PreparedSource;
  readonly size: number;
  readonly concurrency: number;
  readonly control: UploadControl;
  readonly options: Pick<UploadFileOptions, 'signBatchSize' | 'partRetries' | 'idleTimeoutMs'>;
  readonly limiter: RateLimiter | undefined;
  readonly emit: (event: UploadEvent) => void;
  /** The keep-alive agent for the storage host (made on first use, shared by every sender of the upload). */
  readonly agentFor: (url: string) => AnyAgent;
  /** Part `n` is stored (before its progress and its event). */
  readonly stored: (partNumber: number) => void;
}

/** `promise`, or the signal's reason as soon as it aborts (the promise is left to settle on its own). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

/** Retry and re-sign counts of one part. */
interface Attempts {
  retries: number;
  resigns: number;
}

/** One run of sending `parts` of `session`. Use {@link PartSender.send}. */
export class PartSender {
  /** Stops every worker: the caller's abort, or the first part that failed for good. */
  private readonly inner = new AbortController();
  private readonly etags = new Map<number, string>();
  private readonly signer: PartUrlCache<SignedPart>;
  /** Index in `parts` of the next part a free worker takes. */
  private next = 0;

  /** Uploads `parts` of `session` with the upload's concurrency; returns their ETags. */
  static async send(
    context: PartSenderContext,
    session: Session,
    parts: readonly number[],
  ): Promise<Map<number, string>> {
    if (parts.length === 0) return new Map();
    return new PartSender(context, session, parts).run();
  }

  private constructor(
    private readonly context: PartSenderContext,
    private readonly session: Session,
    private readonly parts: readonly number[],
  ) {
    const { client, concurrency, options, emit } = context;
    setMaxListeners(concurrency * 2 + 10, this.inner.signal);
    this.signer = new PartUrlCache({
      sign: (partNumbers) => client.signParts(session.id, partNumbers, { signal: this.inner.signal }),
      // Parts not yet started, in the order the workers will take them.
      ahead: () => parts.slice(this.next),
      batchSize:
        options.signBatchSize ??
        Math.min(MAX_PARTS_PER_CALL, Math.max(concurrency * 2, Math.ceil(1024 ** 3 / session.partSize))),
      onSigned: (partNumbers) => emit({ type: 'signed', id: session.id, partNumbers }),
    });
  }

  private async run(): Promise<Map<number, string>> {
    const userSignal = this.context.control.signal;
    const forward = () => this.inner.abort(userSignal.reason);
    userSignal.addEventListener('abort', forward, { once: true });
    if (userSignal.aborted) forward();
    try {
      const workers = Math.min(this.context.concurrency, this.parts.length);
      const results = await Promise.allSettled(
        Array.from({ length: workers }, (_, slot) =>
          this.worker(slot).catch((error: unknown) => {
            // One part failing for good stops the others; the first real error is reported.
            if (!this.inner.signal.aborted) this.inner.abort(error);
            throw error;
          }),
        ),
      );
      if (userSignal.aborted) throw userSignal.reason;
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw this.inner.signal.reason ?? (failed as PromiseRejectedResult).reason;
      return this.etags;
    } finally {
      userSignal.removeEventListener('abort', forward);
      this.session.progress.flush();
    }
  }

  /** Worker `slot` takes the next part whenever it is free and the upload is not paused. */
  private async worker(slot: number): Promise<void> {
    const { control, stored, emit, size } = this.context;
    for (;;) {
      while (control.gate.paused) await control.gate.wait(this.inner.signal);
      this.inner.signal.throwIfAborted();
      if (this.next >= this.parts.length) return;
      const n = this.parts[this.next++] as number;
      control.partStarted();
      let etag: string;
      try {
        etag = await this.sendPart(n, slot);
      } finally {
        control.partSettled(); // before the event: a `pause()` made in its listener counts only the others
      }
      this.etags.set(n, etag);
      stored(n);
      this.session.progress.partDone();
      emit({ type: 'part-uploaded', partNumber: n, bytes: partBytes(n, size, this.session.partSize), etag });
    }
  }

  /** Sends part `n` from the worker's buffer `slot`; its bytes are read once, retries re-send them. */
  private async sendPart(n: number, slot: number): Promise<string> {
    const { prepared, size } = this.context;
    const length = partBytes(n, size, this.session.partSize);
    const start = (n - 1) * this.session.partSize;
    // Both asked for before any await: a stream hands out its parts in the order the workers took them, and
    // the first part's signing call takes the parts the other workers have just taken into its batch. Each
    // attempt asks the signer again (a cache hit unless the URL expired meanwhile).
    const [body] = await Promise.all([
      raceAbort(prepared.part(n, start, length, slot), this.inner.signal),
      this.signer.get(n),
    ]);
    const attempts: Attempts = { retries: 0, resigns: 0 };
    for (;;) {
      const signed = await this.signer.get(n);
      if (signed.size !== length) {
        throw new Error(
          `The API signed part ${n} for ${signed.size} bytes; it has ${length}. The client and the API disagree on the contract.`,
        );
      }
      let sent = 0;
      try {
        return await putPart({
          url: signed.url,
          ...body,
          start,
          length,
          partNumber: n,
          agent: this.context.agentFor(signed.url),
          signal: this.inner.signal,
          limiter: this.context.limiter,
          idleTimeoutMs: this.context.options.idleTimeoutMs,
          onBytes: (b) => {
            sent += b;
            this.session.progress.add(b, b);
          },
        });
      } catch (error) {
        this.session.progress.add(-sent);
        await this.recover(n, error, attempts);
      }
    }
  }

  /**
   * After a failed attempt at part `n`: returns when it is worth another attempt (its URL re-signed, or after a
   * backoff wait that a pause extends), throws when it is not.
   */
  private async recover(n: number, error: unknown, attempts: Attempts): Promise<void> {
    const { emit, control, options } = this.context;
    if (this.inner.signal.aborted) throw this.inner.signal.reason ?? error;
    if (error instanceof StorageRequestError && error.code === 'NoSuchUpload') {
      throw new UploadGoneError(
        this.session.id,
        'S3 no longer knows the multipart upload (aborted or expired)',
      );
    }
    if (
      error instanceof StorageRequestError &&
      error.status === 403 &&
      attempts.resigns < MAX_RESIGNS_PER_PART
    ) {
      attempts.resigns++;
      this.signer.invalidate(n);
      emit({ type: 'part-resigned', partNumber: n, reason: error.s3Message ?? error.code ?? '403' });
      return;
    }
    if (!isTransientTransferError(error) || attempts.retries >= (options.partRetries ?? 5)) throw error;
    const delayMs = backoffDelay(attempts.retries, { baseDelayMs: 500, maxDelayMs: 30_000 });
    attempts.retries++;
    emit({ type: 'part-retry', partNumber: n, attempt: attempts.retries, delayMs, reason: String(error) });
    // Nothing is sent while waiting: a pause() made meanwhile need not wait for this part, and the retry waits
    // for resume().
    control.partSettled();
    try {
      await sleep(delayMs, this.inner.signal);
      while (control.gate.paused) await control.gate.wait(this.inner.signal);
    } finally {
      control.partStarted();
    }
  }
}
