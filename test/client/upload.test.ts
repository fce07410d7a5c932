/**
 * The resumable uploader against the real local stack: the API handlers behind the emulated gateway, a
 * real PostgreSQL, the SigV4-verifying S3 server and the simulated GuardDuty scan.
 */
import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AbortMultipartUploadCommand, ListObjectsV2Command, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CitadelClient, type SignedParts } from '../../client/client';
import { FileChangedError, StorageRequestError } from '../../client/errors';
import { putPart } from '../../client/transfer';
import {
  downloadFile,
  startUpload,
  type UploadEvent,
  type UploadProgress,
  uploadFile,
} from '../../client/upload';
import { LOCAL_UPLOADS_BUCKET, startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { MiB, randomFile, sha256Of } from './support';

let env: UploadEnvironment;
let dir: string;
let client: CitadelClient;
let token: string;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-client-'));
  token = await env.token('user', 'alice');
  client = new CitadelClient({ baseUrl: env.url, token });
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A client whose first part-signing response passes through `mutate` (a man in the middle, for tests). */
function tamperedClient(mutate: (body: SignedParts) => Promise<SignedParts> | SignedParts): CitadelClient {
  let done = false;
  const tamper: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(String(input));
    if (done || init?.method !== 'POST' || !url.pathname.endsWith('/parts') || !res.ok) return res;
    done = true;
    const body = await mutate((await res.json()) as SignedParts);
    return new Response(JSON.stringify(body), {
      status: res.status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return new CitadelClient({ baseUrl: env.url, token, fetch: tamper });
}

/** A correctly signed UploadPart URL for the same part, but signed an hour ago: S3 says it has expired. */
async function expiredUrlLike(url: string, size: number): Promise<string> {
  const u = new URL(url);
  const [, bucket, ...key] = u.pathname.split('/');
  return getSignedUrl(
    env.uploads.s3,
    new UploadPartCommand({
      Bucket: bucket,
      Key: key.map(decodeURIComponent).join('/'),
      UploadId: u.searchParams.get('uploadId') ?? '',
      PartNumber: Number(u.searchParams.get('partNumber')),
      ContentLength: size,
    }),
    {
      expiresIn: 900,
      signingDate: new Date(Date.now() - 3600_000),
      signableHeaders: new Set(['content-length']),
    },
  );
}

const createdId = (events: readonly UploadEvent[]): string => {
  const created = events.find((e) => e.type === 'created');
  if (!created) throw new Error('no upload was created');
  return created.id;
};

const objectsUnder = async (prefix: string) =>
  (await env.uploads.s3.send(new ListObjectsV2Command({ Bucket: LOCAL_UPLOADS_BUCKET, Prefix: prefix })))
    .Contents ?? [];

describe('uploadFile', () => {
  it('uploads a 4-part file concurrently, waits for the verdict, and downloads it byte-identical', async () => {
    // Prepare: 26 MiB → parts of 8, 8, 8 and 2 MiB.
    const file = await randomFile(path.join(dir, 'four-parts.bin'), 26 * MiB);
    const stateDir = path.join(dir, 'state-happy');
    const events: UploadEvent[] = [];
    const progress: UploadProgress[] = [];

    // Act
    const result = await uploadFile(client, file, {
      concurrency: 3,
      sha256: true,
      stateDir,
      waitForScan: true,
      onEvent: (e) => events.push(e),
      onProgress: (p) => progress.push(p),
    });
    const out = path.join(dir, 'four-parts.out');
    const downloaded = await downloadFile(client, result.id, out);

    // Assess
    expect(result.file.state).toBe('clean');
    expect(result.partsUploaded).toEqual([1, 2, 3, 4]);
    expect(result.partsSkipped).toEqual([]);
    expect(result.bytesSent).toBe(26 * MiB);
    expect(events.find((e) => e.type === 'created')).toMatchObject({
      partSize: 8 * MiB,
      partCount: 4,
      contentType: 'application/octet-stream', // sniffed: random bytes have no signature
    });
    // One signing call for the whole upload (signed ahead, not per part).
    expect(events.filter((e) => e.type === 'signed')).toEqual([
      { type: 'signed', id: result.id, partNumbers: [1, 2, 3, 4] },
    ]);
    expect(progress.at(-1)).toMatchObject({ bytesUploaded: 26 * MiB, bytesTotal: 26 * MiB, partsDone: 4 });
    expect(result.file.sha256).toBe(await sha256Of(file));
    expect(downloaded.sha256).toBe(await sha256Of(file));
    expect(downloaded.bytes).toBe(26 * MiB);
    expect(await readdir(stateDir)).toEqual([]); // the resume record is gone once complete
    expect(env.s3Server.multipartUploads()).toEqual([]);
    expect(env.scanErrors).toEqual([]);
  });

  it('signs part URLs in batches of signBatchSize, each part exactly once', async () => {
    const file = await randomFile(path.join(dir, 'batches.bin'), 26 * MiB);
    const signed: number[][] = [];

    await uploadFile(client, file, {
      concurrency: 3,
      signBatchSize: 2,
      resume: false,
      onEvent: (e) => e.type === 'signed' && signed.push([...e.partNumbers]),
    });

    expect(signed).toHaveLength(2);
    expect(signed.flat().sort()).toEqual([1, 2, 3, 4]);
  });

  it('re-signs a part whose URL expired and one whose URL S3 refuses with 403', async () => {
    const file = await randomFile(path.join(dir, 'resign.bin'), 20 * MiB);
    const tampered = tamperedClient(async (body) => ({
      ...body,
      parts: await Promise.all(
        body.parts.map(async (p) => {
          if (p.partNumber === 1) return { ...p, url: await expiredUrlLike(p.url, p.size) };
          if (p.partNumber === 2)
            return { ...p, url: p.url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000') };
          return p;
        }),
      ),
    }));
    const events: UploadEvent[] = [];

    const result = await uploadFile(tampered, file, {
      resume: false,
      waitForScan: true,
      onEvent: (e) => events.push(e),
    });

    const resigned = events.filter((e) => e.type === 'part-resigned');
    expect(resigned).toEqual([
      expect.objectContaining({ partNumber: 1, reason: 'Request has expired' }),
      expect.objectContaining({ partNumber: 2 }),
    ]);
    expect(resigned.find((e) => e.partNumber === 2)).toMatchObject({
      reason: expect.stringMatching(/signature/i),
    });
    expect(result.file.state).toBe('clean');
    const out = await downloadFile(client, result.id, path.join(dir, 'resign.out'));
    expect(out.sha256).toBe(await sha256Of(file));
  });

  it('re-signs ahead of use when the server says the URLs expire too soon, without a refused PUT', async () => {
    const file = await randomFile(path.join(dir, 'soon.bin'), 20 * MiB);
    const tampered = tamperedClient((body) => ({
      ...body,
      expiresAt: new Date(Date.now() + 1000).toISOString(),
    }));
    const events: UploadEvent[] = [];

    await uploadFile(tampered, file, { resume: false, concurrency: 1, onEvent: (e) => events.push(e) });

    expect(events.filter((e) => e.type === 'signed').length).toBeGreaterThan(1);
    expect(events.filter((e) => e.type === 'part-resigned')).toEqual([]);
  });

  it('on abort deletes the upload: no multipart upload, no object, state aborted, no resume record', async () => {
    const file = await randomFile(path.join(dir, 'abort.bin'), 26 * MiB);
    const stateDir = path.join(dir, 'state-abort');
    const controller = new AbortController();
    let id = '';

    const run = uploadFile(client, file, {
      concurrency: 1,
      stateDir,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'created') id = e.id;
        if (e.type === 'part-uploaded' && e.partNumber === 1) controller.abort();
      },
    });

    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(env.s3Server.multipartUploads()).toEqual([]);
    const owner = (
      await env.sql<{ object_key: string }>('SELECT object_key FROM citadel.files WHERE id = $1', [id])
    )[0];
    expect(await objectsUnder(owner?.object_key ?? 'missing')).toEqual([]);
    expect((await client.getFile(id)).state).toBe('aborted');
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('with keepOnAbort keeps the upload, and the next call resumes it without re-sending held parts', async () => {
    const file = await randomFile(path.join(dir, 'keep.bin'), 30 * MiB);
    const stateDir = path.join(dir, 'state-keep');
    const controller = new AbortController();
    let id = '';
    await expect(
      uploadFile(client, file, {
        concurrency: 1,
        stateDir,
        keepOnAbort: true,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'created') id = e.id;
          if (e.type === 'part-uploaded' && e.partNumber === 2) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const held = (await client.getUpload(id)).parts.map((p) => p.partNumber);
    expect(held).toEqual(expect.arrayContaining([1, 2]));
    expect(await readdir(stateDir)).toHaveLength(1);

    const events: UploadEvent[] = [];
    const progress: UploadProgress[] = [];
    const result = await uploadFile(client, file, {
      stateDir,
      waitForScan: true,
      onEvent: (e) => events.push(e),
      onProgress: (p) => progress.push(p),
    });

    // The first report counts the held parts in one go; later ones never fall below them.
    const heldBytes = held.length * 8 * MiB;
    expect(progress[0]).toMatchObject({
      bytesUploaded: heldBytes,
      bytesHeld: heldBytes,
      partsDone: held.length,
      partsSkipped: held.length,
    });
    expect(progress.every((p) => p.bytesUploaded >= heldBytes && p.bytesHeld === heldBytes)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ bytesUploaded: 30 * MiB, partsDone: 4 });
    expect(result.bytesSent).toBe(30 * MiB - heldBytes);
    expect(result.id).toBe(id);
    expect(result.resumed).toBe(true);
    expect(result.partsSkipped).toEqual(held);
    expect(result.partsUploaded).toEqual([1, 2, 3, 4].filter((n) => !held.includes(n)));
    expect(events.find((e) => e.type === 'resumed')).toMatchObject({ partsHeld: held.length, partCount: 4 });
    expect(result.file.state).toBe('clean');
    expect((await downloadFile(client, id, path.join(dir, 'keep.out'))).sha256).toBe(await sha256Of(file));
  });

  it('starts over, and says so, when the API reports the upload aborted', async () => {
    const file = await randomFile(path.join(dir, 'gone.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-gone');
    const controller = new AbortController();
    let first = '';
    await expect(
      uploadFile(client, file, {
        concurrency: 1,
        stateDir,
        keepOnAbort: true,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'created') first = e.id;
          if (e.type === 'part-uploaded') controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    await client.abortUpload(first); // someone else discards it

    const events: UploadEvent[] = [];
    const result = await uploadFile(client, file, { stateDir, onEvent: (e) => events.push(e) });

    expect(events[0]).toEqual({ type: 'restarted', previousId: first, reason: 'the upload is aborted' });
    expect(result.id).not.toBe(first);
    expect(result.resumed).toBe(false);
    expect(result.partsUploaded).toEqual([1, 2, 3]);
  });

  it('starts over when S3 dropped the multipart upload (lifecycle expiry) though the API still says uploading', async () => {
    const file = await randomFile(path.join(dir, 'expired.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-expired');
    const controller = new AbortController();
    let first = '';
    await expect(
      uploadFile(client, file, {
        concurrency: 1,
        stateDir,
        keepOnAbort: true,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'created') first = e.id;
          if (e.type === 'part-uploaded') controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const [row] = await env.sql<{ object_key: string; upload_id: string }>(
      'SELECT object_key, upload_id FROM citadel.files WHERE id = $1',
      [first],
    );
    await env.uploads.s3.send(
      new AbortMultipartUploadCommand({
        Bucket: LOCAL_UPLOADS_BUCKET,
        Key: row?.object_key,
        UploadId: row?.upload_id,
      }),
    );

    const events: UploadEvent[] = [];
    const result = await uploadFile(client, file, {
      stateDir,
      waitForScan: true,
      onEvent: (e) => events.push(e),
    });

    expect(events).toContainEqual({
      type: 'restarted',
      previousId: first,
      reason: expect.stringMatching(/S3 no longer knows|no longer exists at S3/),
    });
    expect(result.id).not.toBe(first);
    expect(result.restarts).toBe(1);
    expect(result.file.state).toBe('clean');
  });

  it('fails clearly when the file shrinks during the upload, and deletes the upload nothing can resume', async () => {
    const file = await randomFile(path.join(dir, 'shrinks.bin'), 20 * MiB);
    const events: UploadEvent[] = [];

    const run = uploadFile(client, file, {
      resume: false,
      concurrency: 1,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'created') void truncate(file, 12 * MiB);
      },
    });

    await expect(run).rejects.toBeInstanceOf(FileChangedError);
    await expect(run).rejects.toThrow(/changed while uploading: part \d should have \d+ bytes/);
    const id = createdId(events);
    expect(events).toContainEqual({ type: 'aborted', id, kept: false });
    expect((await client.getFile(id)).state).toBe('aborted');
  });

  it('on FileChangedError forgets the resume record and deletes the upload, even when recorded', async () => {
    const file = await randomFile(path.join(dir, 'changes.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-changes');
    const events: UploadEvent[] = [];

    const run = uploadFile(client, file, {
      stateDir,
      concurrency: 1,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'created') void truncate(file, 12 * MiB);
      },
    });

    await expect(run).rejects.toBeInstanceOf(FileChangedError);
    const id = createdId(events);
    expect(events).toContainEqual({ type: 'aborted', id, kept: false });
    expect((await client.getFile(id)).state).toBe('aborted');
    expect(await readdir(stateDir)).toEqual([]);
  });

  it('with keepOnAbort but resume: false deletes the upload on abort: nothing could resume it', async () => {
    const file = await randomFile(path.join(dir, 'keep-unrecorded.bin'), 20 * MiB);
    const events: UploadEvent[] = [];
    const controller = new AbortController();

    const run = uploadFile(client, file, {
      resume: false,
      keepOnAbort: true,
      concurrency: 1,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'part-uploaded') controller.abort();
      },
    });

    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    const id = createdId(events);
    expect(events).toContainEqual({ type: 'aborted', id, kept: false });
    expect((await client.getFile(id)).state).toBe('aborted');
  });

  it('deletes the upload it just created when its resume record cannot be saved', async () => {
    const file = await randomFile(path.join(dir, 'unsaved.bin'), 10 * MiB);
    const notADir = path.join(dir, 'state-is-a-file');
    await writeFile(notADir, 'x');

    const run = uploadFile(client, file, {
      stateDir: path.join(notADir, 'uploads'),
      filename: 'unsaved-1.bin',
    });

    await expect(run).rejects.toMatchObject({ code: expect.stringMatching(/ENOTDIR|EEXIST/) });
    const rows = await env.sql<{ state: string }>('SELECT state FROM citadel.files WHERE filename = $1', [
      'unsaved-1.bin',
    ]);
    expect(rows).toEqual([{ state: 'aborted' }]);
  });

  it('starts over when the recorded upload declared other fields than this call (a SHA-256 now)', async () => {
    const file = await randomFile(path.join(dir, 'redeclared.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-redeclared');
    const controller = new AbortController();
    let first = '';
    await expect(
      uploadFile(client, file, {
        concurrency: 1,
        stateDir,
        keepOnAbort: true,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'created') first = e.id;
          if (e.type === 'part-uploaded') controller.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const events: UploadEvent[] = [];

    const result = await uploadFile(client, file, {
      stateDir,
      sha256: true,
      waitForScan: true,
      onEvent: (e) => events.push(e),
    });

    expect(events[0]).toEqual({
      type: 'restarted',
      previousId: first,
      reason: `upload ${first} does not match: it declared no SHA-256, and this upload declares one`,
    });
    expect(result.id).not.toBe(first);
    expect(result.resumed).toBe(false);
    expect(result.file.sha256).toBe(await sha256Of(file));
    expect((await client.getFile(first)).state).toBe('aborted');
    expect(await readdir(stateDir)).toEqual([]);
  });

  it("aborting while hashing rejects with the caller's reason, before any upload is created", async () => {
    const file = await randomFile(path.join(dir, 'hashing.bin'), 20 * MiB);
    const reason = new Error('stopped by the test');
    const events: UploadEvent[] = [];

    const handle = startUpload(client, file, {
      sha256: true,
      resume: false,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'hashing') handle.abort(reason);
      },
    });

    await expect(handle.done).rejects.toBe(reason);
    expect(events.map((e) => e.type)).toEqual(['hashing']);
  });
});

describe('the API and S3 underneath', () => {
  it('S3 refuses a part of the wrong size (Content-Length is signed), and the client says why', async () => {
    const file = await randomFile(path.join(dir, 'wrong-size.bin'), 20 * MiB);
    const created = await client.createUpload({
      filename: 'w.bin',
      size: 20 * MiB,
      contentType: 'application/octet-stream',
    });
    const { parts } = await client.signParts(created.id, [1]);
    const part = parts[0] as SignedParts['parts'][number];

    const put = putPart({ url: part.url, path: file, start: 0, length: part.size - 1, partNumber: 1 });

    await expect(put).rejects.toBeInstanceOf(StorageRequestError);
    await expect(put).rejects.toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    await expect(put).rejects.toThrow(/signed for exactly the part's size; this request sent 8388607 bytes/);
    expect((await client.getUpload(created.id)).parts).toEqual([]);
    await client.abortUpload(created.id);
  });

  it('concurrent completes of the same upload complete it exactly once', async () => {
    const file = await randomFile(path.join(dir, 'race.bin'), 20 * MiB);
    const created = await client.createUpload({
      filename: 'race.bin',
      size: 20 * MiB,
      contentType: 'application/octet-stream',
    });
    const { parts } = await client.signParts(created.id, [1, 2, 3]);
    const etags = await Promise.all(
      parts.map(async (p) => ({
        partNumber: p.partNumber,
        etag: await putPart({
          url: p.url,
          path: file,
          start: (p.partNumber - 1) * 8 * MiB,
          length: p.size,
          partNumber: p.partNumber,
        }),
      })),
    );
    const created$: string[] = [];
    const onCreated = (e: { key: string }) => created$.push(e.key);
    env.s3Server.events.on('object-created', onCreated);

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => client.completeUpload(created.id, i % 2 ? etags : undefined)),
    );

    env.s3Server.events.off('object-created', onCreated);
    for (const f of results) {
      expect(f.id).toBe(created.id);
      expect(['scanning', 'clean']).toContain(f.state);
    }
    expect(created$.filter((k) => k === created.key)).toHaveLength(1);
    const audits = await env.sql<{ n: string }>(
      "SELECT count(*) AS n FROM citadel.audit_events WHERE target = $1 AND action = 'upload.complete' AND outcome = 'success'",
      [`file:${created.id}`],
    );
    expect(Number(audits[0]?.n)).toBe(1);
    await env.uploads.guardDuty.idle();
    expect(env.uploads.guardDuty.scanned.filter((s) => s.key === created.key)).toHaveLength(1);
  });
});
