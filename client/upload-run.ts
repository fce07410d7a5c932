/**
 * One upload from a prepared source, as a small state machine over explicit state:
 *
 *   resume (from a record on disk) or create → send the missing parts → complete → wait for the scan
 *
 * with a start-over (back to create) when the server or S3 lost the upload, and a clean-up on failure that
 * keeps the upload only when something can resume it. Each step is a method; the fields below are everything
 * the steps share.
 */
import { setMaxListeners } from 'node:events';
import { partBytes, partCountFor, partSizeFor } from '../contract/api/uploads';
import type { ApiFile, CitadelClient, UploadStatus } from './client';
import { CitadelProblemError, FileChangedError, UploadGoneError } from './errors';
import { PartSender, type PartSenderContext } from './part-sender';
import { type FileIdentity, type ResumeRecord, ResumeStore } from './resume-state';
import { COMPLETED_STATES, waitForScan } from './scan-wait';
import { type PreparedSource, SourceNotReplayableError } from './sources';
import { type AnyAgent, agentFor, RateLimiter } from './transfer';
import { progressReporter } from './upload-progress';
import type {
  Session,
  UploadControl,
  UploadEvent,
  UploadFileOptions,
  UploadFileResult,
} from './upload-types';

const MAX_RESTARTS = 2;

/** Why a recorded upload cannot be continued, or `undefined` when it can. */
type Refusal = string | undefined;

export class UploadRun {
  private readonly size: number;
  private readonly identity: FileIdentity | undefined;
  private readonly store: ResumeStore | undefined;
  private readonly concurrency: number;
  private readonly filename: string;
  private readonly signal: AbortSignal;
  private readonly parts: PartSenderContext;
  /** What is declared (or will be): given as options, or learned from the source (hash, sniffed type). */
  private declaredSha: string | undefined;
  private contentType: string | undefined;
  /** The upload being sent. Set before it is recorded, so that a failure from then on deletes it. */
  private session: Session | undefined;
  /** `session` has a resume record on disk: another process (or a later call) can continue it. */
  private recorded = false;
  private completed = false;
  private resumed = false;
  private restarts = 0;
  private partsUploaded = new Set<number>();
  private partsSkipped: number[] = [];
  private bytesSent = 0;
  private agent: AnyAgent | undefined;

  constructor(
    private readonly client: CitadelClient,
    private readonly prepared: PreparedSource,
    private readonly options: UploadFileOptions,
    control: UploadControl,
    private readonly started: number,
  ) {
    this.size = prepared.size;
    if (options.size !== undefined && options.size !== this.size) {
      throw new RangeError(`the source has ${this.size} bytes, not the ${options.size} given as \`size\``);
    }
    this.signal = control.signal;
    this.identity = prepared.identity?.(client.baseUrl);
    this.store =
      options.resume === false || this.identity === undefined ? undefined : new ResumeStore(options.stateDir);
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    // Every part in flight listens to the signals (its request, its read, a retry's wait): more than Node's
    // default of 10 is no leak.
    setMaxListeners(this.concurrency * 2 + 10, this.signal);
    this.filename = options.filename ?? prepared.filename;
    this.declaredSha = typeof options.sha256 === 'string' ? options.sha256 : undefined;
    this.contentType = options.contentType;
    this.parts = {
      client,
      prepared,
      size: this.size,
      concurrency: this.concurrency,
      control,
      options,
      limiter: options.rateLimitBytesPerSecond ? new RateLimiter(options.rateLimitBytesPerSecond) : undefined,
      emit: this.emit,
      agentFor: (url) => {
        this.agent ??= agentFor(url, this.concurrency);
        return this.agent;
      },
      stored: (n) => this.partsUploaded.add(n),
    };
  }

  /** Runs every step; on failure, cleans up and rethrows (the caller's abort reason when aborted). */
  async run(): Promise<UploadFileResult> {
    try {
      let file = (await this.resumeRecorded()) ?? (await this.uploadUntilComplete());
      this.completed = true;
      await this.forget();
      this.emit({ type: 'completed', file });
      if (this.options.waitForScan) file = await this.awaitVerdict(file);
      return this.result(file);
    } catch (error) {
      await this.cleanUp(error);
      // The caller's reason, whatever was interrupted (hashing, creating, sending, waiting for the scan).
      if (this.signal.aborted) throw this.signal.reason;
      throw error;
    } finally {
      this.agent?.destroy();
    }
  }

  private readonly emit = (event: UploadEvent): void => this.options.onEvent?.(event);

  private async forget(): Promise<void> {
    if (this.identity) await this.store?.remove(this.identity);
  }

  /** The upload started over: counted, said, and its record forgotten. */
  private async gone(previousId: string, reason: string): Promise<void> {
    this.restarts++;
    this.emit({ type: 'restarted', previousId, reason });
    await this.forget();
  }

  // Step 1a: resume.

  /**
   * Continues the upload recorded for this source, if any and if the server still has it: `session` is set to
   * it, or the file is returned when that upload was completed already.
   */
  private async resumeRecorded(): Promise<ApiFile | undefined> {
    const record = this.store && this.identity ? await this.store.load(this.identity) : undefined;
    if (!record) return undefined;
    const found = await this.resumeFrom(record);
    if (found && 'held' in found) {
      this.session = found;
      this.resumed = true;
      return undefined;
    }
    if (found) {
      this.resumed = true;
      await this.forget();
    }
    return found;
  }

  /** The upload from the resume record, if the server still has it; `ApiFile` if it was completed already. */
  private async resumeFrom(record: ResumeRecord): Promise<Session | ApiFile | undefined> {
    const differs = this.declaredDiffers(record) ?? (await this.digestDiffers(record));
    if (differs) {
      await this.client.abortUpload(record.id, { signal: this.signal }).catch(() => undefined);
      await this.gone(record.id, differs);
      return undefined;
    }
    const status = await this.statusOf(record);
    if (!status) return undefined;
    if (COMPLETED_STATES.has(status.file.state)) return status.file;
    if (!(await this.stillResumable(record, status))) return undefined;
    const held = new Map<number, string>();
    for (const p of status.parts) {
      if (p.partNumber <= record.partCount && p.size === partBytes(p.partNumber, this.size, record.partSize))
        held.set(p.partNumber, p.etag);
    }
    this.emit({ type: 'resumed', id: record.id, partsHeld: held.size, partCount: record.partCount });
    this.recorded = true;
    return this.newSession(record.id, record.partSize, record.partCount, held);
  }

  /** Why the recorded upload does not declare what this call would, if it does not. */
  private declaredDiffers(record: ResumeRecord): Refusal {
    const { options, filename } = this;
    const why = (text: string) => `upload ${record.id} does not match: ${text}`;
    if (filename !== record.filename)
      return why(`it was declared as "${record.filename}", this upload as "${filename}"`);
    if (options.contentType !== undefined && options.contentType !== record.contentType)
      return why(`it was declared as ${record.contentType}, this upload as ${options.contentType}`);
    if (options.sha256 === true && !record.sha256)
      return why('it declared no SHA-256, and this upload declares one');
    if (typeof options.sha256 === 'string' && options.sha256.toLowerCase() !== record.sha256?.toLowerCase())
      return why(
        record.sha256
          ? `it declared another SHA-256 (${record.sha256})`
          : 'it declared no SHA-256, and this upload declares one',
      );
    return undefined;
  }

  /** A Blob's key and size say nothing of its bytes: its SHA-256 must be the recorded upload's. */
  private async digestDiffers(record: ResumeRecord): Promise<Refusal> {
    const { prepared, options } = this;
    if (!(prepared.resumeNeedsDigest && options.sha256 === true && prepared.hash)) return undefined;
    this.emit({ type: 'hashing', path: this.identity?.path ?? this.filename });
    this.declaredSha = await prepared.hash(this.signal);
    if (this.declaredSha === record.sha256) return undefined;
    return `the Blob's SHA-256 is not the one upload ${record.id} declared: its bytes changed`;
  }

  /** The server's view of the recorded upload, or `undefined` (and a start-over) when it forgot it. */
  private async statusOf(record: ResumeRecord): Promise<UploadStatus | undefined> {
    try {
      return await this.client.getUpload(record.id, { signal: this.signal });
    } catch (error) {
      if (error instanceof CitadelProblemError && error.status === 404) {
        await this.gone(record.id, 'the API no longer knows this upload');
        return undefined;
      }
      throw error;
    }
  }

  /** Whether the server's upload is the recorded one, still uploading and unexpired; otherwise starts over. */
  private async stillResumable(record: ResumeRecord, status: UploadStatus): Promise<boolean> {
    const { file } = status;
    const same =
      file.state === 'uploading' &&
      status.uploadId === record.uploadId &&
      status.partSize === record.partSize &&
      status.partCount === record.partCount &&
      file.size === this.size;
    if (!same) {
      await this.gone(
        record.id,
        `the upload is ${file.state}${file.failureReason ? `: ${file.failureReason}` : ''}`,
      );
      return false;
    }
    if (Date.parse(record.expiresAt) <= Date.now()) {
      await this.client.abortUpload(record.id, { signal: this.signal }).catch(() => undefined);
      await this.gone(record.id, 'the upload expired (the bucket lifecycle aborts incomplete uploads)');
      return false;
    }
    return true;
  }

  // Step 1b: create.

  /** Declares a new upload; it is `session` (so a failure from here on deletes it) before it is recorded. */
  private async create(): Promise<Session> {
    const { client, prepared, options, size, filename } = this;
    this.contentType ??= (await prepared.sniffType()) ?? 'application/octet-stream';
    if (options.sha256 === true && this.declaredSha === undefined && prepared.hash) {
      this.emit({ type: 'hashing', path: this.identity?.path ?? filename });
      this.declaredSha = await prepared.hash(this.signal);
    }
    const declaredSha = this.declaredSha;
    const created = await client.createUpload(
      { filename, size, contentType: this.contentType, ...(declaredSha ? { sha256: declaredSha } : {}) },
      { signal: this.signal },
    );
    const expected = partSizeFor(size);
    if (created.partSize !== expected || created.partCount !== partCountFor(size, expected)) {
      await client.abortUpload(created.id).catch(() => undefined);
      throw new Error(
        `The API chose ${created.partCount} parts of ${created.partSize} bytes; this client expects ${partCountFor(size, expected)} of ${expected}. The client and the API disagree on the contract: update the client.`,
      );
    }
    const session = this.newSession(created.id, created.partSize, created.partCount, new Map());
    this.session = session;
    this.recorded = false;
    if (this.store && this.identity) {
      await this.store.save({
        version: 1,
        ...this.identity,
        id: created.id,
        uploadId: created.uploadId,
        key: created.key,
        partSize: created.partSize,
        partCount: created.partCount,
        filename,
        contentType: this.contentType,
        ...(declaredSha ? { sha256: declaredSha } : {}),
        createdAt: new Date().toISOString(),
        expiresAt: created.expiresAt,
      });
      this.recorded = true;
    }
    const { id, partSize, partCount } = session;
    this.emit({ type: 'created', id, partSize, partCount, contentType: this.contentType });
    return session;
  }

  /** A session's state, its progress seeded with the parts S3 holds (reported once, when there are any). */
  private newSession(id: string, partSize: number, partCount: number, held: Map<number, string>): Session {
    let heldBytes = 0;
    for (const n of held.keys()) heldBytes += partBytes(n, this.size, partSize);
    const progress = progressReporter(
      this.options.onProgress,
      this.size,
      partCount,
      held.size,
      heldBytes,
      (n) => {
        this.bytesSent += n;
      },
    );
    if (held.size > 0) progress.flush();
    return { id, partSize, partCount, held, progress };
  }

  // Steps 2 and 3: send the parts, complete; start over when the upload is gone.

  /** Creates (or keeps the resumed) session and completes it, starting over at most twice if it is lost. */
  private async uploadUntilComplete(): Promise<ApiFile> {
    for (;;) {
      this.session ??= await this.create();
      try {
        return await this.complete(this.session);
      } catch (error) {
        if (!(error instanceof UploadGoneError) || this.restarts >= MAX_RESTARTS || this.signal.aborted)
          throw error;
        if (!this.prepared.replayable) {
          throw new SourceNotReplayableError(
            `upload ${this.session.id} cannot continue (${error.reason}), and a stream cannot be read again to start over; upload a file or a Blob to survive this`,
          );
        }
        await this.gone(this.session.id, error.reason);
        this.session = undefined;
        this.resumed = false;
        this.partsUploaded = new Set();
      }
    }
  }

  /** Sends the parts S3 lacks, then completes (re-sending what S3 turns out to lack, twice at most). */
  private async complete(s: Session): Promise<ApiFile> {
    const early = await this.sendMissing(s);
    if (early) return early;
    for (let round = 0; ; round++) {
      while (this.parts.control.gate.paused) await this.parts.control.gate.wait(this.signal);
      const parts = [...s.held].sort(([a], [b]) => a - b).map(([partNumber, etag]) => ({ partNumber, etag }));
      try {
        return await this.client.completeUpload(s.id, parts, { signal: this.signal });
      } catch (error) {
        if (!(error instanceof CitadelProblemError) || ![400, 409].includes(error.status) || round >= 2)
          throw error;
        const status = await this.recheck(s);
        if (COMPLETED_STATES.has(status.file.state)) return status.file;
        await this.resend(s, status, error);
      }
    }
  }

  /** Sends every part S3 does not hold; the file, when a refused signing call shows it completed meanwhile. */
  private async sendMissing(s: Session): Promise<ApiFile | undefined> {
    const missing = Array.from({ length: s.partCount }, (_, i) => i + 1).filter((n) => !s.held.has(n));
    this.partsSkipped = [...s.held.keys()].sort((a, b) => a - b);
    try {
      const fresh = await PartSender.send(this.parts, s, missing);
      for (const [n, etag] of fresh) s.held.set(n, etag);
      return undefined;
    } catch (error) {
      if (error instanceof CitadelProblemError && (error.status === 409 || error.status === 404)) {
        const status = await this.recheck(s);
        if (COMPLETED_STATES.has(status.file.state)) return status.file;
      }
      throw error;
    }
  }

  /**
   * After a refused complete, the upload still uploading: S3 lacks a part (or holds a different one). Sends
   * those again; rethrows `refusal` when S3 lacks nothing.
   */
  private async resend(s: Session, status: UploadStatus, refusal: CitadelProblemError): Promise<void> {
    const { size } = this;
    const stored = new Map(status.parts.map((p) => [p.partNumber, p]));
    const redo = Array.from({ length: s.partCount }, (_, i) => i + 1).filter((n) => {
      const p = stored.get(n);
      return (
        !p ||
        p.size !== partBytes(n, size, s.partSize) ||
        p.etag.replace(/"/g, '') !== s.held.get(n)?.replace(/"/g, '')
      );
    });
    if (redo.length === 0) throw refusal;
    if (!this.prepared.replayable) {
      throw new SourceNotReplayableError(
        `S3 lacks part${redo.length === 1 ? '' : 's'} ${redo.join(', ')} of upload ${s.id}, and a stream cannot be read again to re-send ${redo.length === 1 ? 'it' : 'them'}; upload a file or a Blob to survive this`,
      );
    }
    // The same session's progress: those parts' bytes are taken back, then sent again.
    for (const n of redo) if (s.held.delete(n)) s.progress.partUndone(partBytes(n, size, s.partSize));
    const fresh = await PartSender.send(this.parts, s, redo);
    for (const [n, etag] of fresh) s.held.set(n, etag);
  }

  /**
   * The server's view after a refused complete or signing call: completed, gone (`UploadGoneError`), or still
   * uploading.
   */
  private async recheck(s: Session): Promise<UploadStatus> {
    let status: UploadStatus;
    try {
      status = await this.client.getUpload(s.id, { signal: this.signal });
    } catch (error) {
      if (error instanceof CitadelProblemError && error.status === 404)
        throw new UploadGoneError(s.id, 'the API no longer knows this upload');
      throw error;
    }
    const { state } = status.file;
    if (!COMPLETED_STATES.has(state) && state !== 'uploading')
      throw new UploadGoneError(s.id, `the upload is ${state}`);
    return status;
  }

  // Step 4: the verdict; then the result, or the clean-up.

  private awaitVerdict(file: ApiFile): Promise<ApiFile> {
    return waitForScan(this.client, file.id, {
      timeoutMs: this.options.scanTimeoutMs,
      signal: this.signal,
      onState: (state) => this.emit({ type: 'scan-state', id: file.id, state }),
    });
  }

  private result(file: ApiFile): UploadFileResult {
    return {
      file,
      id: file.id,
      resumed: this.resumed,
      restarts: this.restarts,
      partsUploaded: [...this.partsUploaded].sort((a, b) => a - b),
      partsSkipped: this.partsSkipped,
      bytesSent: this.bytesSent,
      seconds: (Date.now() - this.started) / 1000,
    };
  }

  /** An unfinished session is kept only when something can resume it: recorded, and still the source's bytes. */
  private async cleanUp(error: unknown): Promise<void> {
    const { session, signal, options } = this;
    if (!session || this.completed) return;
    const keep = signal.aborted
      ? options.keepOnAbort === true && this.recorded
      : this.recorded && !(error instanceof FileChangedError);
    if (keep) {
      if (signal.aborted) this.emit({ type: 'aborted', id: session.id, kept: true });
      return;
    }
    // Best effort: the bucket lifecycle removes what this misses after a day.
    await this.client.abortUpload(session.id).catch(() => undefined);
    await this.forget();
    this.emit({ type: 'aborted', id: session.id, kept: false });
  }
}
