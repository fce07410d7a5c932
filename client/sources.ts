/**
 * What an upload reads its bytes from: a file path, a Blob (or File), or a stream (a Node Readable or a web
 * ReadableStream). Paths and Blobs are read part by part wherever the uploader wants (in parallel, again after a
 * failure, again in a new process); a stream is read once, from start to end, one part-sized buffer per part
 * in flight, so memory stays within concurrency × part size and nothing is ever read twice.
 */
import { createHash, type Hash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileTypeFromBuffer, fileTypeFromFile } from 'file-type';
import { FileChangedError } from './errors';
import { normalizeMediaType } from './media-type';
import type { FileIdentity } from './resume-state';
import { sha256File } from './transfer';

/**
 * A stream source was asked for bytes it already passed (to start over, or to re-send a part S3 lacks): a
 * stream is read once. Upload a file or a Blob when the upload must survive that.
 */
export class SourceNotReplayableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceNotReplayableError';
  }
}

/** A file path, a Blob (a `File`, or `fs.openAsBlob(path)`), a Node Readable or a web ReadableStream. */
export type UploadSource = string | Blob | Readable | ReadableStream<Uint8Array>;

/** The bytes of one part, as `putPart` takes them. */
export type PartBody = { readonly path: string } | { readonly body: Blob | Uint8Array };

export interface PreparedSource {
  readonly size: number;
  /** The display name to declare unless the caller gives one. */
  readonly filename: string;
  /**
   * What identifies the bytes for resuming in another process; none for streams, nor for a Blob that is
   * not a File (it has no `lastModified`) unless it has a resume key and its SHA-256 is declared.
   */
  readonly identity: ((baseUrl: string) => FileIdentity) | undefined;
  /**
   * The identity cannot tell changed bytes apart (a Blob without `lastModified`: only its key and size): a
   * resumed upload must check the declared SHA-256 against the record's before reusing any part.
   */
  readonly resumeNeedsDigest: boolean;
  /** Whether a part can be read again (after a restart, or to re-send one S3 lacks). Streams cannot. */
  readonly replayable: boolean;
  /** The media type the first bytes show (file-type), if any. Streams: none (nothing is read ahead). */
  sniffType(): Promise<string | undefined>;
  /** SHA-256 of every byte, read ahead of the upload. Streams: not available. */
  readonly hash: ((signal?: AbortSignal) => Promise<string>) | undefined;
  /**
   * The bytes of part `n` (at `start`, `length` long). For streams, parts must be asked for in order and
   * `slot` names the caller's buffer (one per worker, reused part after part).
   */
  part(n: number, start: number, length: number, slot: number): Promise<PartBody>;
  /** Stops reading (streams: destroys or cancels the source, even while a read is pending). */
  close(): void;
}

export interface SourceOptions {
  /** Streams: the exact number of bytes (the API declares the size before any byte is read). */
  readonly size?: number;
  /** Blobs: what identifies these bytes for resuming in another process. @default a File's name (with its size and lastModified) */
  readonly resumeKey?: string;
  /**
   * Blobs: the upload declares a SHA-256 (given, or hashed first). A Blob without `lastModified` is
   * identified for resuming only then (and with a `resumeKey`), since the digest is what tells its bytes apart.
   */
  readonly declaresSha256?: boolean;
  /** Streams: the SHA-256 (hex) the bytes must have; checked as they are read, before completing. */
  readonly expectedSha256?: string;
}

const isWebStream = (s: unknown): s is ReadableStream<Uint8Array> =>
  typeof (s as ReadableStream | undefined)?.getReader === 'function';
const isNodeReadable = (s: unknown): s is Readable =>
  typeof (s as Readable | undefined)?.pipe === 'function' && typeof (s as Readable).read === 'function';

/** Reads `source` as an upload needs it; throws a TypeError naming what is missing. */
export async function prepareSource(
  source: UploadSource,
  options: SourceOptions = {},
): Promise<PreparedSource> {
  if (typeof source === 'string') return pathSource(source);
  if (source instanceof Blob) return blobSource(source, options);
  if (isNodeReadable(source) || isWebStream(source)) return streamSource(source, options);
  throw new TypeError('upload source must be a file path, a Blob, a Node Readable or a web ReadableStream');
}

async function pathSource(path: string): Promise<PreparedSource> {
  const abs = await realpath(resolve(path));
  const info = await stat(abs);
  if (!info.isFile()) throw new TypeError(`${path} is not a regular file`);
  if (info.size === 0) throw new RangeError(`${path} is empty; Citadel stores files of at least 1 byte`);
  return {
    size: info.size,
    filename: basename(abs),
    identity: (baseUrl) => ({ baseUrl, path: abs, size: info.size, mtimeMs: info.mtimeMs }),
    resumeNeedsDigest: false,
    replayable: true,
    sniffType: async () => (await fileTypeFromFile(abs))?.mime,
    hash: (signal) => sha256File(abs, signal),
    part: async () => ({ path: abs }),
    close: () => undefined,
  };
}

/**
 * A Blob is identified for resuming by its key (the `resumeKey`, else a File's name), its size and its
 * `lastModified`. A Blob that is not a File has no `lastModified`: key and size alone cannot tell changed
 * bytes apart, so it is identified only with an explicit `resumeKey` and a declared SHA-256, which a resumed
 * upload checks before reusing any part.
 */
function blobSource(blob: Blob, options: SourceOptions): PreparedSource {
  if (blob.size === 0) throw new RangeError('the Blob is empty; Citadel stores files of at least 1 byte');
  const file = blob as Partial<File>;
  const name = typeof file.name === 'string' && file.name ? file.name : undefined;
  const lastModified = typeof file.lastModified === 'number' ? file.lastModified : undefined;
  const key =
    lastModified !== undefined
      ? (options.resumeKey ?? name)
      : options.declaresSha256
        ? options.resumeKey
        : undefined;
  return {
    size: blob.size,
    filename: name ?? 'upload',
    identity:
      key === undefined
        ? undefined
        : (baseUrl) => ({ baseUrl, path: `blob:${key}`, size: blob.size, mtimeMs: lastModified ?? 0 }),
    resumeNeedsDigest: lastModified === undefined,
    replayable: true,
    sniffType: async () =>
      normalizeMediaType(blob.type) ??
      (await fileTypeFromBuffer(new Uint8Array(await blob.slice(0, 4100).arrayBuffer())))?.mime,
    hash: async (signal) => {
      const hash = createHash('sha256');
      for await (const chunk of blob.stream() as unknown as AsyncIterable<Uint8Array>) {
        signal?.throwIfAborted();
        hash.update(chunk);
      }
      return hash.digest('hex');
    },
    part: async (_n, start, length) => ({ body: blob.slice(start, start + length) }),
    close: () => undefined,
  };
}

function streamSource(stream: Readable | ReadableStream<Uint8Array>, options: SourceOptions): PreparedSource {
  const { size } = options;
  if (size === undefined || !Number.isSafeInteger(size) || size < 1) {
    throw new TypeError(
      'a stream source needs its exact length as `size` (the API declares the size before any byte is sent)',
    );
  }
  const expected = options.expectedSha256;
  if (expected !== undefined && !/^[0-9a-f]{64}$/i.test(expected)) {
    throw new TypeError('the expected SHA-256 must be 64 hexadecimal digits');
  }
  const reader = new SequentialReader(stream, size, expected?.toLowerCase());
  const buffers: Buffer[] = [];
  return {
    size,
    filename: 'upload',
    identity: undefined,
    resumeNeedsDigest: false,
    replayable: false,
    sniffType: async () => undefined,
    hash: undefined,
    part: async (n, start, length, slot) => {
      // One buffer per worker, sized by its first part (every part but the last is part-sized) and reused:
      // at most concurrency × part size in memory, whatever the size (a normal upload never grows one).
      let into = buffers[slot];
      if (!into || into.length < length) {
        into = Buffer.allocUnsafe(length);
        buffers[slot] = into;
      }
      return { body: await reader.read(n, start, into.subarray(0, length)) };
    },
    close: () => reader.close(),
  };
}

/**
 * Reads a stream from start to end into the buffers it is given, strictly in order: a part asked for out of
 * order is an error, never a silent reorder. Checks the length (and the SHA-256, when expected) at the end.
 */
class SequentialReader {
  private readonly pull: () => Promise<unknown>;
  private readonly cancel: () => void;
  private leftover: Uint8Array | undefined;
  private position = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly hash: Hash | undefined;

  constructor(
    stream: Readable | ReadableStream<Uint8Array>,
    private readonly size: number,
    private readonly expectedSha256: string | undefined,
  ) {
    if (isWebStream(stream)) {
      // A reader, not the async iterator: cancel() settles a pending read, return() would wait for it.
      const reader = stream.getReader();
      this.pull = async () => {
        const r = await reader.read();
        return r.done ? undefined : r.value;
      };
      this.cancel = () => void reader.cancel().catch(() => undefined);
    } else {
      const iterator = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      this.pull = async () => {
        const r = await iterator.next();
        return r.done ? undefined : r.value;
      };
      this.cancel = () => stream.destroy();
    }
    this.hash = expectedSha256 ? createHash('sha256') : undefined;
  }

  /** Fills `into` with the bytes at `start` (queued behind earlier reads). */
  read(n: number, start: number, into: Buffer): Promise<Buffer> {
    const run = this.queue.then(() => this.fill(n, start, into));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.cancel();
  }

  private async next(): Promise<Uint8Array | undefined> {
    if (this.leftover) {
      const chunk = this.leftover;
      this.leftover = undefined;
      return chunk;
    }
    const v = await this.pull();
    if (v === undefined) return undefined;
    return typeof v === 'string' ? Buffer.from(v) : (v as Uint8Array);
  }

  private async fill(n: number, start: number, into: Buffer): Promise<Buffer> {
    if (start !== this.position) {
      throw new SourceNotReplayableError(
        `part ${n} (at byte ${start}) was asked for after byte ${this.position}: a stream is read once, in order, and cannot be read again; upload a file or a Blob to resume or re-send parts`,
      );
    }
    let filled = 0;
    while (filled < into.length) {
      const chunk = await this.next();
      if (!chunk) {
        throw new FileChangedError(
          `the stream ended after ${this.position + filled} bytes; ${this.size} were declared as its size`,
        );
      }
      const take = Math.min(chunk.length, into.length - filled);
      into.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.length) this.leftover = chunk.subarray(take);
    }
    this.hash?.update(into);
    this.position += into.length;
    if (this.position === this.size) await this.atEnd();
    return into;
  }

  /** The stream must end exactly at `size`, with the expected digest. */
  private async atEnd(): Promise<void> {
    for (;;) {
      const more = await this.next();
      if (!more) break;
      if (more.length > 0) {
        this.close();
        throw new FileChangedError(`the stream has more than the ${this.size} bytes declared as its size`);
      }
    }
    const digest = this.hash?.digest('hex');
    if (digest !== undefined && digest !== this.expectedSha256) {
      throw new FileChangedError(
        `the stream's SHA-256 is ${digest}, not the ${this.expectedSha256} declared; the upload is not completed`,
      );
    }
  }
}

/**
 * Pause and resume: `wait()` resolves at once while running, and when `resume()` is called while paused.
 * Work that already started is not interrupted.
 */
export class PauseGate {
  private waiters: Array<() => void> = [];
  private pausedNow = false;

  get paused(): boolean {
    return this.pausedNow;
  }

  pause(): void {
    this.pausedNow = true;
  }

  resume(): void {
    this.pausedNow = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once not paused; rejects with the signal's reason when it aborts first. */
  wait(signal?: AbortSignal): Promise<void> {
    if (!this.pausedNow) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== go);
        reject(signal?.reason);
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return reject(signal.reason);
      this.waiters.push(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
