/**
 * Upload sources (a Node Readable, a web ReadableStream, a Blob) and the upload handle (pause, resume,
 * abort) against the real local stack: the API handlers behind the emulated gateway, a real PostgreSQL, the
 * SigV4-verifying S3 server and the simulated GuardDuty scan.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, openAsBlob } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CitadelClient } from '../../client/client';
import { FileChangedError } from '../../client/errors';
import { prepareSource, SourceNotReplayableError } from '../../client/sources';
import {
  downloadFile,
  startUpload,
  type UploadEvent,
  type UploadHandle,
  type UploadProgress,
  upload,
  uploadFile,
} from '../../client/upload';
import { LOCAL_UPLOADS_BUCKET, startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { rewritingClient, startPartProxy } from './proxy';
import { MiB, sha256OfBuffer, until } from './support';

const PART = 8 * MiB;

let env: UploadEnvironment;
let dir: string;
let client: CitadelClient;
let token: string;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-sources-'));
  token = await env.token('user', 'alice');
  client = new CitadelClient({ baseUrl: env.url, token });
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `bytes` random bytes, in memory and in a file. */
async function randomData(name: string, bytes: number): Promise<{ data: Buffer; file: string }> {
  const data = randomBytes(bytes);
  const file = path.join(dir, name);
  await writeFile(file, data);
  return { data, file };
}

/** A Node Readable over `data` in 1 MiB chunks (buffering at most one), counting the bytes pulled from it. */
function countingReadable(data: Buffer): { stream: Readable; pulled: () => number } {
  let at = 0;
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (at >= data.length) {
        this.push(null);
        return;
      }
      const chunk = data.subarray(at, at + MiB);
      at += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, pulled: () => at };
}

/** A web ReadableStream over `data` in 256 KiB chunks, pulled on demand. */
function webStreamOf(data: Buffer): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= data.length) {
          controller.close();
          return;
        }
        controller.enqueue(new Uint8Array(data.subarray(at, at + 256 * 1024)));
        at += 256 * 1024;
      },
    },
    { highWaterMark: 0 },
  );
}

/** The SHA-256 of the stored object, read back through the API once the scan says clean. */
async function downloadedSha(id: string, name: string): Promise<string> {
  return (await downloadFile(client, id, path.join(dir, name))).sha256;
}

const objectKey = async (id: string): Promise<string> =>
  (await env.sql<{ object_key: string }>('SELECT object_key FROM citadel.files WHERE id = $1', [id]))[0]
    ?.object_key ?? 'missing';

/** Neither a finished object nor a multipart upload at S3, and the API says aborted. */
async function expectNothingStored(id: string): Promise<void> {
  const key = await objectKey(id);
  expect((await client.getFile(id)).state).toBe('aborted');
  expect(env.s3Server.multipartUploads().filter((u) => u.key === key)).toEqual([]);
  const listed = await env.uploads.s3.send(
    new ListObjectsV2Command({ Bucket: LOCAL_UPLOADS_BUCKET, Prefix: key }),
  );
  expect(listed.Contents ?? []).toEqual([]);
}

const createdId = (events: readonly UploadEvent[]): string => {
  const created = events.find((e) => e.type === 'created');
  if (!created) throw new Error('no upload was created');
  return created.id;
};

const uploadedParts = (events: readonly UploadEvent[]): number[] =>
  events.flatMap((e) => (e.type === 'part-uploaded' ? [e.partNumber] : [])).sort((a, b) => a - b);

/**
 * Starts an upload that pauses itself as the first part is uploaded; resolves with the handle once the
 * pause has taken hold (the parts in flight then have finished).
 */
async function startPausedAtFirstPart(
  source: Parameters<typeof startUpload>[1],
  options: Parameters<typeof startUpload>[2],
  events: UploadEvent[],
): Promise<UploadHandle> {
  let pausing: Promise<void> | undefined;
  let handle: UploadHandle | undefined;
  const paused = new Promise<void>((resolve, reject) => {
    handle = startUpload(client, source, {
      ...options,
      onEvent: (e) => {
        events.push(e);
        options?.onEvent?.(e);
        if (e.type === 'part-uploaded' && !pausing && handle) {
          pausing = handle.pause();
          resolve();
        }
      },
    });
    handle.done.catch(reject); // an upload that fails before pausing fails the test here
  });
  await paused;
  await pausing;
  return handle as UploadHandle;
}

describe('prepareSource (streams)', () => {
  it('reads a stream, in order, into one buffer per worker slot that is reused part after part', async () => {
    const data = randomBytes(5 * MiB);
    const source = await prepareSource(countingReadable(data).stream, { size: data.length });

    const bodies = [
      await source.part(1, 0, 2 * MiB, 0),
      await source.part(2, 2 * MiB, 2 * MiB, 1),
      await source.part(3, 4 * MiB, MiB, 0),
    ].map((b) => ('body' in b ? (b.body as Buffer) : Buffer.alloc(0)));

    // Slot 0's buffer now holds part 3 (in its first MiB): part 1's bytes were overwritten in place.
    expect(bodies[2]?.buffer).toBe(bodies[0]?.buffer);
    expect(bodies[1]?.buffer).not.toBe(bodies[0]?.buffer);
    expect(sha256OfBuffer(Buffer.concat([bodies[1] as Buffer, bodies[2] as Buffer]))).toBe(
      sha256OfBuffer(data.subarray(2 * MiB)),
    );
    expect(source.replayable).toBe(false);
    expect(source.identity).toBeUndefined();
  });

  it('refuses to read a stream part again rather than send other bytes', async () => {
    const data = randomBytes(4 * MiB);
    const source = await prepareSource(countingReadable(data).stream, { size: data.length });
    await source.part(1, 0, 2 * MiB, 0);

    const again = source.part(1, 0, 2 * MiB, 0);

    await expect(again).rejects.toBeInstanceOf(SourceNotReplayableError);
    await expect(again).rejects.toThrow(/part 1 \(at byte 0\) was asked for after byte 2097152/);
    source.close();
  });
});

describe('stream sources', () => {
  it('uploads a Node Readable of a declared size, reading no further ahead than one part per worker', async () => {
    // Prepare: 36 MiB → parts of 8, 8, 8, 8 and 4 MiB; 2 workers.
    const { data } = await randomData('readable.bin', 36 * MiB);
    const { stream, pulled } = countingReadable(data);
    const stateDir = path.join(dir, 'state-readable');
    const events: UploadEvent[] = [];
    const pulledAtPart: Array<{ done: number; pulled: number }> = [];
    let recordDirAtCreate: boolean | undefined;

    // Act
    const result = await upload(client, stream, {
      size: data.length,
      sha256: sha256OfBuffer(data),
      concurrency: 2,
      stateDir,
      waitForScan: true,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'created') recordDirAtCreate = existsSync(stateDir);
        if (e.type === 'part-uploaded')
          pulledAtPart.push({ done: uploadedParts(events).length, pulled: pulled() });
      },
    });

    // Assess
    expect(result.file.state).toBe('clean');
    expect(result.partsUploaded).toEqual([1, 2, 3, 4, 5]);
    expect(result.file.sha256).toBe(sha256OfBuffer(data));
    expect(await downloadedSha(result.id, 'readable.out')).toBe(sha256OfBuffer(data));
    // When the j-th part is done, at most j + 1 parts (2 workers) were started: read-ahead is one chunk.
    expect(pulledAtPart).toHaveLength(5);
    for (const { done, pulled: bytes } of pulledAtPart) {
      expect(bytes).toBeLessThanOrEqual(Math.min(data.length, (done + 1) * PART + MiB));
    }
    // A stream cannot be read again, so nothing is recorded for resuming.
    expect(recordDirAtCreate).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('uploads a web ReadableStream byte-identical', async () => {
    const { data } = await randomData('web.bin', 12 * MiB);

    const result = await uploadFile(client, webStreamOf(data), {
      size: data.length,
      contentType: 'application/octet-stream',
      filename: 'web.bin',
      resume: false,
      waitForScan: true,
    });

    expect(result.file).toMatchObject({ state: 'clean', size: 12 * MiB, filename: 'web.bin' });
    expect(result.partsUploaded).toEqual([1, 2]);
    expect(await downloadedSha(result.id, 'web.out')).toBe(sha256OfBuffer(data));
  });

  it('fails with FileChangedError when the stream is shorter than its declared size, and stores nothing', async () => {
    const { data } = await randomData('short.bin', 12 * MiB);
    const events: UploadEvent[] = [];

    const run = uploadFile(client, countingReadable(data).stream, {
      size: 20 * MiB,
      onEvent: (e) => events.push(e),
    });

    await expect(run).rejects.toBeInstanceOf(FileChangedError);
    await expect(run).rejects.toThrow(
      `the stream ended after ${12 * MiB} bytes; ${20 * MiB} were declared as its size`,
    );
    expect(events.some((e) => e.type === 'completed')).toBe(false);
    await expectNothingStored(createdId(events));
  });

  it('fails with FileChangedError when the stream is longer than its declared size, and stores nothing', async () => {
    const { data } = await randomData('long.bin', 21 * MiB);
    const events: UploadEvent[] = [];

    const run = uploadFile(client, webStreamOf(data), {
      size: 20 * MiB,
      concurrency: 3,
      onEvent: (e) => events.push(e),
    });

    await expect(run).rejects.toBeInstanceOf(FileChangedError);
    await expect(run).rejects.toThrow(`the stream has more than the ${20 * MiB} bytes declared as its size`);
    expect(events.some((e) => e.type === 'completed')).toBe(false);
    // The last part is never sent: its bytes are checked before it goes out.
    expect(uploadedParts(events)).not.toContain(3);
    await expectNothingStored(createdId(events));
  });

  it('does not complete a stream whose bytes do not have the declared SHA-256', async () => {
    const { data } = await randomData('wrong-sha.bin', 12 * MiB);
    const declared = sha256OfBuffer(Buffer.from('something else'));
    const events: UploadEvent[] = [];

    const run = uploadFile(client, countingReadable(data).stream, {
      size: data.length,
      sha256: declared,
      onEvent: (e) => events.push(e),
    });

    await expect(run).rejects.toBeInstanceOf(FileChangedError);
    await expect(run).rejects.toThrow(`the stream's SHA-256 is ${sha256OfBuffer(data)}, not the ${declared}`);
    expect(events.some((e) => e.type === 'completed')).toBe(false);
    await expectNothingStored(createdId(events));
  });

  it('refuses a stream without its size, or with sha256: true, before creating an upload', async () => {
    const events: UploadEvent[] = [];
    const onEvent = (e: UploadEvent) => events.push(e);

    const noSize = uploadFile(client, countingReadable(Buffer.alloc(MiB)).stream, { onEvent });
    const hashFirst = uploadFile(client, countingReadable(Buffer.alloc(MiB)).stream, {
      size: MiB,
      sha256: true,
      onEvent,
    });

    await expect(noSize).rejects.toThrow(TypeError);
    await expect(noSize).rejects.toThrow(/needs its exact length as `size`/);
    await expect(hashFirst).rejects.toThrow(TypeError);
    await expect(hashFirst).rejects.toThrow(/a stream can be read only once/);
    expect(events).toEqual([]);
  });

  it('on abort while the stream stalls, cancels the stream and deletes the upload', async () => {
    // A 20 MiB stream that delivers its first part, then one more chunk, then nothing.
    const data = randomBytes(PART + MiB);
    let at = 0;
    let cancelled = false;
    let handle: UploadHandle | undefined;
    const stalling = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (at >= data.length) {
            handle?.abort();
            return new Promise<void>(() => undefined);
          }
          controller.enqueue(new Uint8Array(data.subarray(at, at + MiB)));
          at += MiB;
          return Promise.resolve();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const events: UploadEvent[] = [];

    handle = startUpload(client, stalling, {
      size: 20 * MiB,
      concurrency: 1,
      onEvent: (e) => events.push(e),
    });

    await expect(handle.done).rejects.toMatchObject({ name: 'AbortError' });
    expect(uploadedParts(events)).toEqual([1]);
    expect(cancelled).toBe(true);
    await expectNothingStored(createdId(events));
  });

  it('fails clearly instead of starting over when S3 dropped the upload of a stream', async () => {
    const { data } = await randomData('dropped.bin', 20 * MiB);
    const events: UploadEvent[] = [];
    const handle = await startPausedAtFirstPart(
      countingReadable(data).stream,
      { size: data.length, concurrency: 1 },
      events,
    );
    const id = createdId(events);
    const [row] = await env.sql<{ object_key: string; upload_id: string }>(
      'SELECT object_key, upload_id FROM citadel.files WHERE id = $1',
      [id],
    );
    await env.uploads.s3.send(
      new AbortMultipartUploadCommand({
        Bucket: LOCAL_UPLOADS_BUCKET,
        Key: row?.object_key,
        UploadId: row?.upload_id,
      }),
    );

    handle.resume();

    await expect(handle.done).rejects.toBeInstanceOf(SourceNotReplayableError);
    await expect(handle.done).rejects.toThrow(/a stream cannot be read again to start over/);
    expect(events.filter((e) => e.type === 'created')).toHaveLength(1);
    expect(events.some((e) => e.type === 'restarted')).toBe(false);
  });
});

describe('Blob sources', () => {
  it('uploads a Blob from fs.openAsBlob, and a new process resumes it from the same stateDir', async () => {
    // Prepare: 26 MiB → 4 parts; the first "process" stops after 2 parts and keeps the upload.
    const { data, file } = await randomData('blob.bin', 26 * MiB);
    const stateDir = path.join(dir, 'state-blob');
    const events: UploadEvent[] = [];
    const first = startUpload(client, await openAsBlob(file), {
      resumeKey: 'reports/blob.bin',
      sha256: true,
      concurrency: 1,
      stateDir,
      keepOnAbort: true,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'part-uploaded' && e.partNumber === 2) first.abort();
      },
    });
    await expect(first.done).rejects.toMatchObject({ name: 'AbortError' });
    const id = createdId(events);
    expect(events).toContainEqual({ type: 'aborted', id, kept: true });
    expect(await readdir(stateDir)).toHaveLength(1);

    // Act: a new client and a new Blob of the same file, as another process would have.
    const again = new CitadelClient({ baseUrl: env.url, token });
    const result = await uploadFile(again, await openAsBlob(file), {
      resumeKey: 'reports/blob.bin',
      sha256: true,
      stateDir,
      waitForScan: true,
    });

    // Assess
    expect(result.id).toBe(id);
    expect(result.resumed).toBe(true);
    expect(result.partsSkipped).toEqual([1, 2]);
    expect(result.partsUploaded).toEqual([3, 4]);
    expect(result.file.state).toBe('clean');
    expect(result.file.sha256).toBe(sha256OfBuffer(data));
    expect(await downloadedSha(id, 'blob.out')).toBe(sha256OfBuffer(data));
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('starts over instead of resuming onto old parts when a keyed Blob of the same size has other bytes', async () => {
    // Prepare: the first "process" keeps an upload of 2 of 4 parts; then the file changes, same size.
    const { file } = await randomData('blob-changed.bin', 26 * MiB);
    const stateDir = path.join(dir, 'state-blob-changed');
    const events: UploadEvent[] = [];
    const first = startUpload(client, await openAsBlob(file), {
      resumeKey: 'reports/changed.bin',
      sha256: true,
      concurrency: 1,
      stateDir,
      keepOnAbort: true,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'part-uploaded' && e.partNumber === 2) first.abort();
      },
    });
    await expect(first.done).rejects.toMatchObject({ name: 'AbortError' });
    const firstId = createdId(events);
    const changed = randomBytes(26 * MiB);
    await writeFile(file, changed);
    const again: UploadEvent[] = [];

    // Act
    const result = await uploadFile(client, await openAsBlob(file), {
      resumeKey: 'reports/changed.bin',
      sha256: true,
      stateDir,
      waitForScan: true,
      onEvent: (e) => again.push(e),
    });

    // Assess: the old upload is discarded, the new one holds the new bytes only.
    expect(again).toContainEqual({
      type: 'restarted',
      previousId: firstId,
      reason: expect.stringMatching(/SHA-256 is not the one upload .* declared: its bytes changed/),
    });
    expect(result.id).not.toBe(firstId);
    expect(result.resumed).toBe(false);
    expect(result.partsUploaded).toEqual([1, 2, 3, 4]);
    expect(result.file.sha256).toBe(sha256OfBuffer(changed));
    expect(await downloadedSha(result.id, 'blob-changed.out')).toBe(sha256OfBuffer(changed));
    await expectNothingStored(firstId);
  });

  it('does not record a Blob that is not a File without a declared SHA-256, and keepOnAbort then deletes it', async () => {
    // A plain Blob has no lastModified: its resume key and size alone cannot tell changed bytes apart.
    const data = randomBytes(20 * MiB);
    const stateDir = path.join(dir, 'state-plain-blob');
    const events: UploadEvent[] = [];
    const handle = startUpload(client, new Blob([data]), {
      resumeKey: 'plain.bin',
      concurrency: 1,
      stateDir,
      keepOnAbort: true,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'part-uploaded') handle.abort();
      },
    });

    await expect(handle.done).rejects.toMatchObject({ name: 'AbortError' });
    const id = createdId(events);
    expect(existsSync(stateDir)).toBe(false);
    // Nothing could resume it, so it is not kept.
    expect(events).toContainEqual({ type: 'aborted', id, kept: false });
    await expectNothingStored(id);
  });
});

describe('pause, resume and abort', () => {
  it('starts no part while paused, keeps progress where it was, and completes byte-identical on resume', async () => {
    // Prepare: 36 MiB → 5 parts, 2 workers, read from a Node Readable.
    const { data, file } = await randomData('pause.bin', 36 * MiB);
    const events: UploadEvent[] = [];
    const progress: UploadProgress[] = [];

    // Act: pause as the first part is uploaded; the other worker's part finishes.
    const handle = await startPausedAtFirstPart(
      createReadStream(file),
      {
        size: data.length,
        concurrency: 2,
        waitForScan: true,
        onProgress: (p) => progress.push(p),
      },
      events,
    );
    const id = createdId(events);
    const seenAtPause = events.length;
    const progressAtPause = progress.length;
    const heldAtPause = (await client.getUpload(id)).parts.map((p) => p.partNumber);
    const heldLater = (await client.getUpload(id)).parts.map((p) => p.partNumber);
    const key = await objectKey(id);

    // Assess the pause: 2 parts (the one that triggered it, the one in flight), nothing since.
    expect(handle.paused).toBe(true);
    expect(events).toContainEqual({ type: 'paused', partsInFlight: 1 });
    expect(uploadedParts(events)).toHaveLength(2);
    expect(heldAtPause.sort()).toEqual(uploadedParts(events));
    expect(heldLater).toEqual(heldAtPause);
    expect(env.s3Server.multipartUploads().find((u) => u.key === key)?.parts).toBe(2);
    expect(events.length).toBe(seenAtPause);
    expect(progress.length).toBe(progressAtPause);
    expect(progress.at(-1)).toMatchObject({ bytesUploaded: 2 * PART, partsDone: 2 });

    // Act: resume.
    handle.resume();
    const result = await handle.done;

    // Assess the rest.
    expect(handle.paused).toBe(false);
    const after = events.slice(seenAtPause);
    expect(after[0]).toEqual({ type: 'unpaused' });
    expect(uploadedParts(after)).toHaveLength(3);
    expect(result.partsUploaded).toEqual([1, 2, 3, 4, 5]);
    expect(result.file.state).toBe('clean');
    expect(await downloadedSha(id, 'pause.out')).toBe(sha256OfBuffer(data));
  });

  it('re-signs, before using them, the part URLs that expired during a long pause', async () => {
    const { file } = await randomData('long-pause.bin', 26 * MiB);
    const events: UploadEvent[] = [];
    let clock: { mockRestore(): void } | undefined;
    const handle = await startPausedAtFirstPart(
      file,
      {
        concurrency: 1,
        resume: false,
        // The clock goes back as soon as the client has signed again: the API's own S3 client, in this
        // process, would otherwise learn the skew and sign its S3 calls 20 minutes in the past.
        onEvent: (e) => e.type === 'signed' && clock?.mockRestore(),
      },
      events,
    );
    // All 4 parts were signed in one call before the pause.
    expect(events.filter((e) => e.type === 'signed')).toEqual([
      { type: 'signed', id: createdId(events), partNumbers: [1, 2, 3, 4] },
    ]);
    const seenAtPause = events.length;

    // Act: 20 minutes pass while paused (the client's clock; part URLs live 15 minutes), then resume.
    const realNow = Date.now.bind(Date);
    clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 20 * 60_000);
    try {
      handle.resume();
      const result = await handle.done;

      // Assess: the cached URLs of parts 2-4 were signed again before use, not refused by S3 first.
      const after = events.slice(seenAtPause);
      expect(after.filter((e) => e.type === 'signed').flatMap((e) => e.partNumbers)).toEqual([2, 3, 4]);
      expect(after.filter((e) => e.type === 'part-resigned')).toEqual([]);
      expect(result.partsUploaded).toEqual([1, 2, 3, 4]);
    } finally {
      clock.mockRestore();
    }
  });

  it('aborts while paused: the upload is deleted, no multipart upload is left, no resume record', async () => {
    const { file } = await randomData('abort-paused.bin', 26 * MiB);
    const stateDir = path.join(dir, 'state-abort-paused');
    const events: UploadEvent[] = [];
    const handle = await startPausedAtFirstPart(file, { concurrency: 2, stateDir }, events);
    const id = createdId(events);
    expect(await readdir(stateDir)).toHaveLength(1);

    handle.abort();

    await expect(handle.done).rejects.toMatchObject({ name: 'AbortError' });
    expect(events).toContainEqual({ type: 'aborted', id, kept: false });
    expect(uploadedParts(events)).toHaveLength(2); // nothing started after the pause
    await expectNothingStored(id);
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('resolves a pause() that resume() overtook at once, without waiting for the parts in flight', async () => {
    const { file } = await randomData('pause-resume.bin', 36 * MiB);
    const events: UploadEvent[] = [];
    let handle: UploadHandle | undefined;
    let pausing: Promise<void> | undefined;
    handle = startUpload(client, file, {
      concurrency: 2,
      resume: false,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'signed' && !pausing && handle) {
          pausing = handle.pause();
          handle.resume();
        }
      },
    });

    await until(() => pausing !== undefined);
    await pausing;
    const uploadedWhenResolved = uploadedParts(events).length;
    const result = await handle.done;

    // Resolved by resume(), not by the last part in flight finishing at the end of the upload.
    expect(uploadedWhenResolved).toBe(0);
    expect(events.filter((e) => e.type === 'paused' || e.type === 'unpaused').map((e) => e.type)).toEqual([
      'paused',
      'unpaused',
    ]);
    expect(result.partsUploaded).toEqual([1, 2, 3, 4, 5]);
  });

  it('holds a part retry made after a network failure while paused, and sends it on resume', async () => {
    // Part 1's first attempt is cut short (connection reset): the part waits, then retries.
    const proxy = await startPartProxy((n, attempt) => n === 1 && attempt === 1);
    try {
      const { data, file } = await randomData('retry-paused.bin', 20 * MiB);
      const flaky = rewritingClient(env.url, token, proxy.via);
      const events: UploadEvent[] = [];
      let pausing: Promise<void> | undefined;
      const handle: UploadHandle = startUpload(flaky, file, {
        concurrency: 1,
        resume: false,
        waitForScan: true,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'part-retry' && !pausing) pausing = handle.pause();
        },
      });

      await until(() => pausing !== undefined);
      await pausing; // no byte is being sent: the part waits to retry
      // Let the backoff run out (and then some): still paused, so the retry must not go out. Waiting longer
      // can only make this stricter; it never fails a correct uploader.
      const retry = events.find((e) => e.type === 'part-retry');
      const backoffOver = Date.now() + (retry?.type === 'part-retry' ? retry.delayMs : 0) + 500;
      await until(() => Date.now() > backoffOver);
      const attemptsWhilePaused = proxy.requests.get(1);
      handle.resume();
      const result = await handle.done;

      expect(events.find((e) => e.type === 'part-retry')).toMatchObject({ partNumber: 1, attempt: 1 });
      expect(attemptsWhilePaused).toBe(1);
      expect(proxy.requests.get(1)).toBe(2);
      expect(result.partsUploaded).toEqual([1, 2, 3]);
      expect(await downloadedSha(result.id, 'retry-paused.out')).toBe(sha256OfBuffer(data));
    } finally {
      await proxy.close();
    }
  });
});
