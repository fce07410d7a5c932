/**
 * Request/response I/O used by the operation handlers: receiving a verified body into a temporary file or into
 * memory (small XML documents), and streaming a byte range of an object from its data segments to the response
 * or (UploadPartCopy) into a temporary file.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { MAX_PUT_SIZE } from './attributes';
import { bodySpec, MemorySink, type ReceivedBody, receiveBody } from './body';
import type { RequestContext, Services } from './context';
import { S3Error } from './errors';
import type { ObjectRecord } from './store';

const READ_CHUNK = 512 * 1024;
const WRITE_CHUNK = 1024 * 1024;

/** A verified body stored in a temporary file, which the caller must commit or discard. */
export interface ReceivedFile extends ReceivedBody {
  readonly path: string;
}

/**
 * Receives a PutObject/UploadPart body into a temporary file, verifying length, payload hash, Content-MD5 and
 * checksums. Nothing is left on disk when it throws.
 */
export async function receiveToFile(ctx: RequestContext, services: Services): Promise<ReceivedFile> {
  const spec = bodySpec((name) => ctx.header(name), ctx.auth);
  if (spec.declaredLength === undefined) {
    throw new S3Error('MissingContentLength', 411, 'You must provide the Content-Length HTTP header.');
  }
  if (spec.declaredLength > MAX_PUT_SIZE) {
    throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(spec.declaredLength),
      MaxSizeAllowed: String(MAX_PUT_SIZE),
    });
  }
  const path = services.store.tempPath();
  const sink = createWriteStream(path, { flags: 'wx', highWaterMark: WRITE_CHUNK });
  try {
    const body = await receiveBody(ctx.req, spec, ctx.auth, sink, MAX_PUT_SIZE);
    return { ...body, path };
  } catch (error) {
    // The file may still be opening; remove it only once the stream has let go of it.
    if (!sink.closed) await once(sink, 'close').catch(() => undefined);
    await services.store.discard(path);
    throw error;
  }
}

/** Receives a small verified body (an XML document) as text. */
export async function receiveText(ctx: RequestContext, limit: number): Promise<string> {
  const spec = bodySpec((name) => ctx.header(name), ctx.auth);
  const sink = new MemorySink(limit);
  await receiveBody(ctx.req, spec, ctx.auth, sink, limit);
  return sink.text();
}

/** Read streams covering bytes `start..end` (inclusive) of an object, one per segment touched, opened lazily. */
function* rangeStreams(
  services: Services,
  bucket: string,
  record: ObjectRecord,
  start: number,
  end: number,
): Generator<ReadStream> {
  let offset = 0;
  for (const segment of record.segments) {
    const segmentStart = offset;
    offset += segment.size;
    if (segment.size === 0 || offset - 1 < start) continue;
    if (segmentStart > end) break;
    yield createReadStream(services.store.segmentPath(bucket, segment), {
      start: Math.max(start, segmentStart) - segmentStart,
      end: Math.min(end, offset - 1) - segmentStart,
      highWaterMark: READ_CHUNK,
    });
  }
}

/** The chunks of each stream in turn, opening the next only when the previous one has ended. */
async function* chained(streams: Iterable<ReadStream>): AsyncGenerator<Buffer> {
  for (const stream of streams) {
    for await (const chunk of stream) yield chunk as Buffer;
  }
}

/**
 * Streams bytes `start..end` (inclusive) of an object to the response, segment by segment, keeping the data
 * pinned against concurrent overwrite/delete until done.
 */
export async function streamObject(
  ctx: RequestContext,
  services: Services,
  bucket: string,
  record: ObjectRecord,
  start: number,
  end: number,
): Promise<void> {
  const release = services.store.acquire(bucket, record);
  try {
    // One pipeline for every segment: a pipeline per segment would add listeners to the response each time.
    await pipeline(chained(rangeStreams(services, bucket, record, start, end)), ctx.res);
  } finally {
    release();
  }
}

/** Bytes of an object copied into a temporary file, which the caller must commit or discard. */
export interface CopiedFile {
  readonly path: string;
  readonly size: number;
  readonly md5Hex: string;
}

/**
 * Copies bytes `start..end` (inclusive) of an object into a temporary file, hashing them on the way (UploadPartCopy).
 * The data is streamed, never held in memory, and stays pinned against concurrent overwrite/delete until copied.
 * Nothing is left on disk when it throws.
 */
export async function copyToFile(
  services: Services,
  bucket: string,
  record: ObjectRecord,
  start: number,
  end: number,
): Promise<CopiedFile> {
  const release = services.store.acquire(bucket, record);
  const path = services.store.tempPath();
  const md5 = createHash('md5');
  let size = 0;
  async function* hashed(): AsyncGenerator<Buffer> {
    for (const source of rangeStreams(services, bucket, record, start, end)) {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        md5.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    }
  }
  const sink = createWriteStream(path, { flags: 'wx', highWaterMark: WRITE_CHUNK });
  try {
    await pipeline(hashed, sink);
    if (size !== Math.max(0, end - start + 1)) throw new Error(`copied ${size} bytes of ${end - start + 1}`);
    return { path, size, md5Hex: md5.digest('hex') };
  } catch (error) {
    if (!sink.closed) await once(sink, 'close').catch(() => undefined);
    await services.store.discard(path);
    throw error;
  } finally {
    release();
  }
}
