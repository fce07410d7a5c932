/**
 * The upload lifecycle through the real handlers, the emulated gateway, a real PostgreSQL and the S3 test
 * server (which verifies every signature, including the signed Content-Length of part URLs).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MIN_PART_BYTES } from '../../../contract/api/uploads';
import { expireStaleUploads } from '../../../lambda/uploads/expire-uploads';
import { LOCAL_UPLOADS_BUCKET, startUploadEnvironment, type UploadEnvironment } from '../../support/uploads';
import {
  auditCount,
  type Call,
  type Created,
  caller,
  download,
  keysIn,
  partOf,
  pdfBytes,
  putPart,
  type SignedPart,
  settled,
} from './api';

let env: UploadEnvironment;
let alice: Call;
let bob: Call;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * 1024 * 1024 });
  alice = caller(env, await env.token('user', 'alice'));
  bob = caller(env, await env.token('user', 'bob'));
}, 60_000);
afterAll(async () => env?.stop());

const create = (call: Call, bytes: Buffer, extra: Record<string, unknown> = {}) =>
  call<Created>('POST', '/v1/uploads', {
    filename: 'report.pdf',
    size: bytes.length,
    contentType: 'application/pdf',
    ...extra,
  });

const sign = (call: Call, id: string, partNumbers: number[]) =>
  call<{ parts: SignedPart[] }>('POST', `/v1/uploads/${id}/parts`, { partNumbers });

describe('a multipart upload', () => {
  it('goes from declaration to a clean, byte-identical download, parts sized by the server', async () => {
    const bytes = pdfBytes(2 * MIN_PART_BYTES + 12_345, 7);
    const created = await create(alice, bytes, { filename: 'Quarterly report.pdf' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ partSize: MIN_PART_BYTES, partCount: 3 });
    expect(created.body.key).toBe(`uploads/alice/${created.body.id}`);

    const signed = await sign(alice, created.body.id, [3, 1, 2]);
    expect(signed.body.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [3, 12_345],
      [1, MIN_PART_BYTES],
      [2, MIN_PART_BYTES],
    ]);
    for (const part of signed.body.parts) {
      expect((await putPart(part.url, partOf(bytes, created.body, part.partNumber))).status).toBe(200);
    }
    const done = await alice('POST', `/v1/uploads/${created.body.id}/complete`, {});
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'scanning', size: bytes.length, ownerId: 'alice' });

    expect((await settled(env, alice, created.body.id)).body.state).toBe('clean');
    const got = await download(alice, created.body.id);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.disposition).toBe(
      `attachment; filename="Quarterly report.pdf"; filename*=UTF-8''Quarterly%20report.pdf`,
    );
    expect(await auditCount(env, `file:${created.body.id}`, 'upload.complete')).toBe(1);
    expect(await auditCount(env, `file:${created.body.id}`, 'file.download')).toBe(1);
  });

  it('refuses, at S3, a part body of any size other than the one the URL was signed for', async () => {
    const bytes = pdfBytes(MIN_PART_BYTES + 100, 3);
    const created = await create(alice, bytes);
    const [first] = (await sign(alice, created.body.id, [1])).body.parts;
    const bigger = await putPart(first?.url as string, pdfBytes(MIN_PART_BYTES + 1, 3));
    const smaller = await putPart(first?.url as string, pdfBytes(MIN_PART_BYTES - 1, 3));
    expect(bigger.status).toBe(403);
    expect(smaller.status).toBe(403);
    expect(bigger.text).toContain('SignatureDoesNotMatch');
    const status = await alice<{ parts: unknown[] }>('GET', `/v1/uploads/${created.body.id}`);
    expect(status.body.parts).toEqual([]);
  });

  it('resumes: the status lists the parts S3 holds, and completing needs every part', async () => {
    const bytes = pdfBytes(3 * MIN_PART_BYTES, 11);
    const created = await create(alice, bytes);
    const id = created.body.id;
    const parts = (await sign(alice, id, [1, 3])).body.parts;
    for (const part of parts) await putPart(part.url, partOf(bytes, created.body, part.partNumber));

    const status = await alice<{ parts: Array<{ partNumber: number; size: number }>; uploadId: string }>(
      'GET',
      `/v1/uploads/${id}`,
    );
    expect(status.body.uploadId).toBe(created.body.uploadId);
    expect(status.body.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, MIN_PART_BYTES],
      [3, MIN_PART_BYTES],
    ]);
    const early = await alice('POST', `/v1/uploads/${id}/complete`, {});
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('Parts missing: 2');

    const [second] = (await sign(alice, id, [2])).body.parts;
    await putPart(second?.url as string, partOf(bytes, created.body, 2));
    const done = await alice('POST', `/v1/uploads/${id}/complete`, {});
    expect(done.status).toBe(200);
    expect((await settled(env, alice, id)).body.state).toBe('clean');
    expect((await download(alice, id)).bytes.equals(bytes)).toBe(true);
  });

  it('checks the ETags a client reports against what S3 holds', async () => {
    const bytes = pdfBytes(1000, 5);
    const created = await create(alice, bytes);
    const [part] = (await sign(alice, created.body.id, [1])).body.parts;
    const put = await putPart(part?.url as string, bytes);
    const wrong = await alice('POST', `/v1/uploads/${created.body.id}/complete`, {
      parts: [{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toMatch(/Part 1's ETag does not match/);
    const right = await alice('POST', `/v1/uploads/${created.body.id}/complete`, {
      parts: [{ partNumber: 1, etag: put.etag }],
    });
    expect(right.status).toBe(200);
  });

  it('completes exactly once under concurrent completes, and every caller sees the same file', async () => {
    const bytes = pdfBytes(MIN_PART_BYTES + 1, 9);
    const created = await create(alice, bytes);
    for (const part of (await sign(alice, created.body.id, [1, 2])).body.parts) {
      await putPart(part.url, partOf(bytes, created.body, part.partNumber));
    }
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        alice<{ id: string; state: string }>('POST', `/v1/uploads/${created.body.id}/complete`, {}),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const a of answers) {
      expect(a.body.id).toBe(created.body.id);
      expect(['scanning', 'clean']).toContain(a.body.state);
    }
    expect(await auditCount(env, `file:${created.body.id}`, 'upload.complete')).toBe(1);
    expect((await settled(env, alice, created.body.id)).body.state).toBe('clean');
    expect((await download(alice, created.body.id)).bytes.equals(bytes)).toBe(true);
  });

  it('adopts an upload S3 already assembled when the completing call died before its database write', async () => {
    env.uploads.pause();
    try {
      const bytes = pdfBytes(2000, 13);
      const created = await create(alice, bytes);
      const [part] = (await sign(alice, created.body.id, [1])).body.parts;
      const put = await putPart(part?.url as string, bytes);
      // What the completing Lambda did before it was killed: S3 assembled the object, the row never moved.
      await env.uploads.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: LOCAL_UPLOADS_BUCKET,
          Key: created.body.key,
          UploadId: created.body.uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: put.etag ?? '' }] },
        }),
      );
      const retried = await alice<{ state: string }>('POST', `/v1/uploads/${created.body.id}/complete`, {});
      expect(retried.status).toBe(200);
      expect(retried.body.state).toBe('scanning');
      expect(await auditCount(env, `file:${created.body.id}`, 'upload.complete')).toBe(1);
    } finally {
      env.uploads.resume();
    }
    await env.uploads.idle();
  });

  it('reports the same file for ≥50 randomized uploads: sizes, part order and retried parts', async () => {
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 1, max: 256 * 1024 }) },
          { weight: 1, arbitrary: fc.integer({ min: MIN_PART_BYTES - 3, max: 2 * MIN_PART_BYTES + 3 }) },
        ),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.boolean(),
        fc.boolean(),
        async (size, seed, reverse, retry) => {
          count++;
          const bytes = pdfBytes(size, seed);
          // Fewer than 9 bytes cannot carry a PDF signature: such files are declared generic binary.
          const created = (
            await create(alice, bytes, size < 9 ? { contentType: 'application/octet-stream' } : {})
          ).body;
          const numbers = Array.from({ length: created.partCount }, (_, i) => i + 1);
          const { parts } = (await sign(alice, created.id, reverse ? numbers.reverse() : numbers)).body;
          for (const part of parts) {
            expect((await putPart(part.url, partOf(bytes, created, part.partNumber))).status).toBe(200);
          }
          if (retry) {
            // A client that lost S3's answer uploads a part again: S3 keeps the last (identical) body.
            const first = parts.find((p) => p.partNumber === 1) as SignedPart;
            expect((await putPart(first.url, partOf(bytes, created, 1))).status).toBe(200);
          }
          const done = await alice<{ state: string }>('POST', `/v1/uploads/${created.id}/complete`, {});
          expect(done.status).toBe(200);
          expect(['scanning', 'clean']).toContain(done.body.state);
          const file = await settled(env, alice, created.id);
          expect(file.body).toMatchObject({ state: 'clean', size });
          expect((await download(alice, created.id)).bytes.equals(bytes)).toBe(true);
        },
      ),
      {
        numRuns: 55,
        // The sizes that matter, always: 1 byte, just under S3's 5 MiB part minimum, exactly one part, one
        // part and a byte, exactly two parts (examples count towards numRuns: 50 random ones follow).
        examples: [1, 5 * 1024 * 1024 - 1, MIN_PART_BYTES, MIN_PART_BYTES + 1, 2 * MIN_PART_BYTES].map(
          (size, i) => [size, 1000 + i, i % 2 === 0, i % 2 === 1] as [number, number, boolean, boolean],
        ),
      },
    );
    expect(count).toBeGreaterThanOrEqual(55);
    expect(env.scanErrors).toEqual([]);
  }, 240_000);
});

describe('signing parts', () => {
  it('refuses part numbers beyond the upload, repeated ones, and signing after completion', async () => {
    const bytes = pdfBytes(100, 1);
    const created = await create(alice, bytes);
    const beyond = await sign(alice, created.body.id, [1, 2]);
    expect(beyond.status).toBe(400);
    expect(beyond.headers.get('content-type')).toBe('application/problem+json');
    const repeated = await sign(alice, created.body.id, [1, 1]);
    expect(repeated.status).toBe(400);
    const [part] = (await sign(alice, created.body.id, [1])).body.parts;
    await putPart(part?.url as string, bytes);
    await alice('POST', `/v1/uploads/${created.body.id}/complete`, {});
    const late = await sign(alice, created.body.id, [1]);
    expect(late.status).toBe(409);
    await env.uploads.idle();
  });
});

describe('aborting', () => {
  it('drops every stored part, leaves no object, and is idempotent', async () => {
    const bytes = pdfBytes(MIN_PART_BYTES + 10, 2);
    const created = await create(alice, bytes);
    for (const part of (await sign(alice, created.body.id, [1])).body.parts) {
      await putPart(part.url, partOf(bytes, created.body, part.partNumber));
    }
    expect(
      env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === created.body.uploadId),
    ).toBe(true);

    expect((await alice('DELETE', `/v1/uploads/${created.body.id}`)).status).toBe(204);
    expect((await alice('DELETE', `/v1/uploads/${created.body.id}`)).status).toBe(204);
    expect(
      env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === created.body.uploadId),
    ).toBe(false);
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, created.body.key)).toEqual([]);
    await expect(
      env.uploads.s3.send(
        new ListPartsCommand({
          Bucket: LOCAL_UPLOADS_BUCKET,
          Key: created.body.key,
          UploadId: created.body.uploadId,
        }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });

    const status = await alice<{ file: { state: string }; parts: unknown[] }>(
      'GET',
      `/v1/uploads/${created.body.id}`,
    );
    expect(status.body.file.state).toBe('aborted');
    expect(status.body.parts).toEqual([]);
    expect((await alice('POST', `/v1/uploads/${created.body.id}/complete`, {})).status).toBe(409);
    expect(await auditCount(env, `file:${created.body.id}`, 'upload.abort')).toBe(1);
  });

  it('racing a completion ends consistent: aborted with no object, or completed with one', async () => {
    for (let i = 0; i < 5; i++) {
      const bytes = pdfBytes(500 + i, 40 + i);
      const created = await create(alice, bytes);
      const [part] = (await sign(alice, created.body.id, [1])).body.parts;
      await putPart(part?.url as string, bytes);
      const [abort, complete] = await Promise.all([
        alice('DELETE', `/v1/uploads/${created.body.id}`),
        alice('POST', `/v1/uploads/${created.body.id}/complete`, {}),
      ]);
      await env.uploads.idle();
      const { state } = (await alice<{ file: { state: string } }>('GET', `/v1/uploads/${created.body.id}`))
        .body.file;
      const objects = await keysIn(env, LOCAL_UPLOADS_BUCKET, created.body.key);
      if (state === 'aborted') {
        expect(abort.status).toBe(204);
        expect(complete.status).toBe(409);
        expect(objects).toEqual([]);
      } else {
        expect(state).toBe('clean');
        expect(complete.status).toBe(200);
        expect(abort.status).toBe(409);
        expect(objects).toEqual([created.body.key]);
      }
    }
  });
});

describe('expiry', () => {
  const lifecycleAbort = (created: Created) =>
    env.uploads.s3.send(
      new AbortMultipartUploadCommand({
        Bucket: LOCAL_UPLOADS_BUCKET,
        Key: created.key,
        UploadId: created.uploadId,
      }),
    );

  it('reports an upload the bucket lifecycle removed as failed, on status and on completion, at once', async () => {
    const bytes = pdfBytes(1000, 77);
    const first = (await create(alice, bytes)).body;
    await lifecycleAbort(first);
    const status = await alice<{ file: { state: string }; uploadId: string | null }>(
      'GET',
      `/v1/uploads/${first.id}`,
    );
    expect(status.body.file.state).toBe('failed');
    expect(status.body.uploadId).toBeNull();
    expect((await sign(alice, first.id, [1])).status).toBe(409);

    const second = (await create(alice, bytes)).body;
    await lifecycleAbort(second);
    const started = Date.now();
    const done = await alice('POST', `/v1/uploads/${second.id}/complete`, {});
    expect(done.status).toBe(409);
    expect(done.body.detail).toContain('expired');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await auditCount(env, `file:${second.id}`, 'upload.expire', 'failure')).toBe(1);
  });

  it('sweeps uploads left unfinished past their lifetime, and leaves younger ones alone', async () => {
    const bytes = pdfBytes(1000, 78);
    const old = (await create(alice, bytes)).body;
    const young = (await create(alice, bytes)).body;
    await env.sql("UPDATE citadel.files SET created_at = now() - interval '26 hours' WHERE id = $1", [
      old.id,
    ]);
    const { expired, stuck } = await expireStaleUploads(new Date());
    expect(expired).toContain(old.id);
    expect(expired).not.toContain(young.id);
    expect(stuck).toEqual([]);
    expect(env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === old.uploadId)).toBe(
      false,
    );
    expect(
      env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === young.uploadId),
    ).toBe(true);
    const states = await env.sql<{ id: string; state: string }>(
      'SELECT id, state FROM citadel.files WHERE id = ANY($1)',
      [[old.id, young.id]],
    );
    expect(Object.fromEntries(states.map((r) => [r.id, r.state]))).toEqual({
      [old.id]: 'failed',
      [young.id]: 'uploading',
    });
    expect(await auditCount(env, `file:${old.id}`, 'upload.expire', 'failure')).toBe(1);
    expect((await expireStaleUploads(new Date())).expired).not.toContain(old.id);
  });
});

describe('ownership', () => {
  it("hides another person's upload behind the same 404 as a missing one, and audits the attempt", async () => {
    const bytes = pdfBytes(100, 4);
    const created = await create(alice, bytes);
    const id = created.body.id;
    const attempts: Array<{ status: number; headers: Headers; body: Record<string, unknown> }> = [
      await bob('GET', `/v1/uploads/${id}`),
      (await sign(bob, id, [1])) as never,
      await bob('POST', `/v1/uploads/${id}/complete`, {}),
      await bob('DELETE', `/v1/uploads/${id}`),
    ];
    const missing = await bob('GET', '/v1/uploads/00000000-0000-4000-8000-000000000000');
    for (const a of attempts) {
      expect(a.status).toBe(404);
      expect(a.body.detail).toBe(missing.body.detail);
      expect(a.body.instance).toBe(a.headers.get('x-request-id'));
    }
    expect(await auditCount(env, `file:${id}`, 'upload.access', 'denied')).toBe(4);
    const status = await alice<{ file: { state: string } }>('GET', `/v1/uploads/${id}`);
    expect(status.body.file.state).toBe('uploading');
  });
});
