/**
 * Node-only byte transfer against presigned S3 URLs: parts stream from disk (or a Blob, or a buffer) with an
 * explicit Content-Length (the URL signs it), downloads stream to disk. Memory stays constant whatever the size.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, rename, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import { DownloadTargetError, FileChangedError, StorageRequestError } from './errors';

export type AnyAgent = http.Agent | https.Agent;

/** Keep-alive agents for `url`'s protocol, sized for `sockets` parallel requests. */
export function agentFor(url: string, sockets: number): AnyAgent {
  const options = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets };
  return url.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
}

/** What a stream held back by a {@link RateLimiter} tells its user. */
export interface RateLimitHooks {
  /** The stream holds bytes back: nothing is sent until `released`, and that is no network stall. */
  readonly holding?: () => void;
  /** The held bytes went on. */
  readonly released?: () => void;
}

/**
 * A shared bandwidth cap (bytes per second) across every part in flight: each slice of a chunk (at most a
 * quarter second's worth) reserves its share of the timeline and waits for its slot, so parts in flight take
 * turns in small steps rather than whole chunks.
 */
export class RateLimiter {
  private next = 0;
  /** The most one reservation takes: a quarter second's worth (at least 1 KiB). */
  private readonly slice: number;
  constructor(readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError('the rate limit must be a positive number of bytes/s');
    this.slice = Math.max(1024, Math.floor(bytesPerSecond / 4));
  }

  /** A pass-through stream that holds each slice until the limiter lets it through. */
  stream(hooks: RateLimitHooks = {}): Transform {
    let timer: NodeJS.Timeout | undefined;
    const throttle: Transform = new Transform({
      transform: (chunk: Buffer, _encoding, done: TransformCallback) => {
        const pass = (from: number): void => {
          if (from >= chunk.length) {
            done();
            return;
          }
          const piece = chunk.subarray(from, from + this.slice);
          const now = Date.now();
          const at = Math.max(now, this.next);
          this.next = at + (piece.length / this.bytesPerSecond) * 1000;
          if (at <= now) {
            throttle.push(piece);
            pass(from + piece.length);
            return;
          }
          hooks.holding?.();
          timer = setTimeout(() => {
            timer = undefined;
            hooks.released?.();
            throttle.push(piece);
            pass(from + piece.length);
          }, at - now);
        };
        pass(0);
      },
      destroy: (error, callback) => {
        clearTimeout(timer);
        callback(error);
      },
    });
    return throttle;
  }
}

/** Parses `1048576`, `512k`, `8MiB`, `1.5GB`, `3GiB` (binary units; `k`/`KB` are 1024 too). */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`not a size: "${text}" (e.g. 512k, 8MiB, 3GiB)`);
  const power = ['', 'k', 'm', 'g', 't'].indexOf((m[2] ?? '').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

interface S3ErrorBody {
  code?: string;
  message?: string;
  requestId?: string;
}

/** The few fields of S3's XML error document a client reports. */
export function parseS3Error(xml: string): S3ErrorBody {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  return { code: field('Code'), message: field('Message'), requestId: field('RequestId') };
}

const readSmallBody = (res: IncomingMessage, limit = 64 * 1024): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < limit) chunks.push(c);
      size += c.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

export interface PutPartInput {
  /** A presigned UploadPart URL, signed for exactly `length` bytes. */
  readonly url: string;
  /** The file the part is read from, at `start`; or give `body`. */
  readonly path?: string;
  /** Byte offset of the part in the file (with `body`: in the source, for messages only). @default 0 */
  readonly start?: number;
  /** The part's bytes when they are not read from a file: a Blob (streamed) or a buffer. */
  readonly body?: Blob | Uint8Array;
  readonly length: number;
  readonly partNumber: number;
  readonly agent?: AnyAgent;
  readonly signal?: AbortSignal;
  /** Called with each chunk's size as it is read from disk. */
  readonly onBytes?: (bytes: number) => void;
  readonly limiter?: RateLimiter;
  /**
   * No byte moving for this long fails the attempt (`ETIMEDOUT`, retried). Time the `limiter` holds bytes
   * back does not count: that is no network stall. @default 120000
   */
  readonly idleTimeoutMs?: number;
}

/** No byte moved for `idleTimeoutMs`. */
const idleTimeout = (what: string): Error =>
  Object.assign(new Error(`${what}: no progress, timed out`), { code: 'ETIMEDOUT' });

const CHUNK = 256 * 1024;

/** A buffer as a stream of 256 KiB views (no copy), so progress and the rate limit see it chunk by chunk. */
function* chunksOf(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CHUNK) yield bytes.subarray(at, at + CHUNK);
}

/** The part's bytes as a stream: a file range, a Blob, or a buffer. */
function partStream(input: PutPartInput): Readable {
  if (input.body instanceof Blob) {
    return Readable.fromWeb(input.body.stream() as unknown as NodeWebStream<Uint8Array>);
  }
  if (input.body) return Readable.from(chunksOf(input.body), { objectMode: false });
  if (input.path === undefined) throw new TypeError('putPart needs a path or a body');
  const start = input.start ?? 0;
  return createReadStream(input.path, { start, end: start + input.length - 1, highWaterMark: CHUNK });
}

/** Settles a part's promise once: the first error or ETag wins. */
type Settle = (error: Error | undefined, etag?: string) => void;

/**
 * PUTs one part: its bytes (a file range read with `fs.createReadStream({start, end})`, a Blob or a buffer)
 * piped into an `http(s).request` with an explicit Content-Length. Resolves with S3's ETag. A refusal is a
 * {@link StorageRequestError} naming S3's code; a source that no longer has the bytes is a
 * {@link FileChangedError}.
 */
export function putPart(input: PutPartInput): Promise<string> {
  const url = new URL(input.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const settle: Settle = (error, etag) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(etag as string);
    };
    const req = transport.request(url, {
      method: 'PUT',
      agent: input.agent,
      signal: input.signal,
      headers: { 'content-length': String(input.length) },
    });
    const file = partStream(input);
    watchSource(input, file, req, settle);
    const idle = watchIdle(input, req);
    req.on('response', (res) => void answered(input, res, file, req, settle));
    req.on('error', (error) => settle(error));
    const throttle = input.limiter?.stream({
      holding: () => idle.hold(true),
      released: () => idle.hold(false),
    });
    // pipe() never closes its source: when the request ends early (refused, aborted, failed), close the file.
    req.on('close', () => {
      idle.stop();
      throttle?.destroy();
      if (!file.destroyed) file.destroy();
    });
    if (throttle) file.pipe(throttle).pipe(req);
    else file.pipe(req);
  });
}

/** Counts the part's bytes as they are read; a source that ends short or fails to read changed under us. */
function watchSource(input: PutPartInput, file: Readable, req: http.ClientRequest, settle: Settle): void {
  let read = 0;
  file.on('data', (chunk) => {
    read += chunk.length;
    input.onBytes?.(chunk.length);
  });
  file.on('end', () => {
    if (read !== input.length) {
      const error = new FileChangedError(
        `${input.path ?? 'the source'} changed while uploading: part ${input.partNumber} should have ${input.length} bytes from offset ${input.start ?? 0}, the ${input.path ? 'file' : 'source'} had ${read}. Start the upload again.`,
      );
      settle(error);
      req.destroy(error);
    }
  });
  file.on('error', (cause) => {
    // A file-backed Blob (fs.openAsBlob) refuses to be read once the file changed.
    const error =
      cause.name === 'NotReadableError'
        ? new FileChangedError(
            `the source changed while uploading: part ${input.partNumber} could not be read (${cause.message}). Start the upload again.`,
          )
        : cause;
    settle(error);
    req.destroy(error);
  });
}

/**
 * The socket's idle timer, paused while the rate limiter holds the bytes back (with many parts in flight and a
 * low rate, each waits its turn far longer than any network stall would last).
 */
function watchIdle(input: PutPartInput, req: http.ClientRequest) {
  const idleMs = input.idleTimeoutMs ?? 120_000;
  let socket: Socket | undefined;
  let holding = false;
  const arm = () => {
    if (socket && !socket.connecting && !socket.destroyed) socket.setTimeout(holding ? 0 : idleMs);
  };
  const onIdle = () => req.destroy(idleTimeout(`part ${input.partNumber}`));
  req.on('socket', (s: Socket) => {
    socket = s;
    s.on('timeout', onIdle);
    if (s.connecting) s.once('connect', arm);
    else arm();
  });
  return {
    hold(on: boolean) {
      holding = on;
      arm();
    },
    stop: () => socket?.off('timeout', onIdle),
  };
}

/** S3's answer to a part: its ETag, or a refusal naming S3's code (and the rest of the body is not sent). */
async function answered(
  input: PutPartInput,
  res: http.IncomingMessage,
  file: Readable,
  req: http.ClientRequest,
  settle: Settle,
): Promise<void> {
  const status = res.statusCode ?? 0;
  const text = await readSmallBody(res);
  if (status >= 200 && status < 300) {
    const etag = res.headers.etag;
    if (!etag) {
      const error = `part ${input.partNumber}: S3 returned no ETag`;
      return settle(new StorageRequestError(error, status, undefined, undefined, undefined));
    }
    return settle(undefined, etag);
  }
  // S3 answered before reading the whole body (e.g. a 403): stop sending it.
  file.destroy();
  const s3 = parseS3Error(text);
  settle(
    new StorageRequestError(
      describePartRefusal(input, status, s3),
      status,
      s3.code,
      s3.message,
      s3.requestId ?? (res.headers['x-amz-request-id'] as string | undefined),
    ),
  );
  req.destroy();
}

function describePartRefusal(input: PutPartInput, status: number, s3: S3ErrorBody): string {
  const what = `S3 refused part ${input.partNumber} (${status}${s3.code ? ` ${s3.code}` : ''}${s3.message ? `: ${s3.message}` : ''})`;
  if (s3.code === 'SignatureDoesNotMatch') {
    return `${what}. The URL is signed for exactly the part's size; this request sent ${input.length} bytes. Either the URL was altered, or the body is not the size the API signed it for.`;
  }
  if (s3.code === 'AccessDenied' && /expired/i.test(s3.message ?? '')) {
    return `${what}. The presigned URL expired; ask the API to sign the part again.`;
  }
  if (s3.code === 'NoSuchUpload')
    return `${what}. The multipart upload no longer exists (aborted or expired).`;
  return `${what}.`;
}

/** Whether a failed part attempt is worth retrying as is (network trouble, S3 throttling or 5xx). */
export function isTransientTransferError(error: unknown): boolean {
  if (error instanceof StorageRequestError) {
    return (
      error.status >= 500 ||
      error.status === 429 ||
      error.code === 'RequestTimeout' ||
      error.code === 'SlowDown' ||
      error.code === 'IncompleteBody'
    );
  }
  if (error instanceof FileChangedError) return false;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    (typeof code === 'string' &&
      [
        'ECONNRESET',
        'ECONNREFUSED',
        'EPIPE',
        'ETIMEDOUT',
        'EAI_AGAIN',
        'ENOTFOUND',
        'ENETUNREACH',
        'EHOSTUNREACH',
        'ECONNABORTED',
        'UND_ERR_SOCKET',
        'ERR_STREAM_PREMATURE_CLOSE',
      ].includes(code)) ||
    (error as Error | undefined)?.message === 'socket hang up'
  );
}

export interface DownloadToFileResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Streams a GET of `url` into `destPath`: the bytes go to a temporary file next to it, which is renamed into
 * place only once the whole body arrived (with `expectedBytes` when given); on any failure it is removed.
 */
export async function downloadToFile(
  url: string,
  destPath: string,
  options: {
    expectedBytes?: number;
    expectedSha256?: string | null;
    signal?: AbortSignal;
    /** No byte arriving for this long fails the download (`ETIMEDOUT`). @default 120000 */
    idleTimeoutMs?: number;
    /** Replace a file already at `destPath`. @default true */
    overwrite?: boolean;
  } = {},
): Promise<DownloadToFileResult> {
  const overwrite = options.overwrite ?? true;
  await checkDestination(destPath, overwrite);
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const temp = join(dirname(destPath), `.${basename(destPath)}.${process.pid}.${Date.now()}.citadel-part`);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const req = transport.get(target, { signal: options.signal }, (r) => {
      response = r;
      resolve(r);
    });
    req.on('error', reject);
    // Before and while the body streams in: the response fails with the same error, which ends the pipeline.
    req.setTimeout(options.idleTimeoutMs ?? 120_000, () => {
      const error = idleTimeout('download');
      response?.destroy(error);
      req.destroy(error);
    });
  });
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    const s3 = parseS3Error(await readSmallBody(res));
    throw new StorageRequestError(
      `The download was refused (${status}${s3.code ? ` ${s3.code}` : ''}${s3.message ? `: ${s3.message}` : ''}).`,
      status,
      s3.code,
      s3.message,
      s3.requestId,
    );
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(res, count, createWriteStream(temp, { mode: 0o600 }), { signal: options.signal });
    if (options.expectedBytes !== undefined && bytes !== options.expectedBytes) {
      throw new FileChangedError(`The download ended after ${bytes} of ${options.expectedBytes} bytes.`);
    }
    const sha256 = hash.digest('hex');
    if (options.expectedSha256 && options.expectedSha256 !== sha256) {
      throw new FileChangedError(
        `The downloaded bytes do not match the SHA-256 declared at upload (${options.expectedSha256}); got ${sha256}.`,
      );
    }
    await moveIntoPlace(temp, destPath, overwrite);
    return { path: destPath, bytes, sha256 };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Fails before any byte is fetched when `destPath` cannot be written (no directory, or a file not to replace). */
async function checkDestination(destPath: string, overwrite: boolean): Promise<void> {
  const directory = await stat(dirname(destPath)).catch(() => undefined);
  if (!directory?.isDirectory()) throw new DownloadTargetError(destPath, 'no-directory');
  if (!overwrite && (await stat(destPath).catch(() => undefined)))
    throw new DownloadTargetError(destPath, 'exists');
}

/**
 * Renames the finished temporary file into place; without `overwrite`, links it instead, which fails
 * atomically if a file appeared at `destPath` meanwhile.
 */
async function moveIntoPlace(temp: string, destPath: string, overwrite: boolean): Promise<void> {
  if (overwrite) return rename(temp, destPath);
  try {
    await link(temp, destPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new DownloadTargetError(destPath, 'exists');
    throw error;
  }
  await rm(temp, { force: true });
}

/** SHA-256 of a file, streamed (constant memory). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
