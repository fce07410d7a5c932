/**
 * `POST /v1/uploads/sign` with the requests `@uppy/aws-s3` 6.x builds (`{ method, key, uploadId?,
 * partNumber?, contentType? }`, mapped to an operation by the browser helper), then the presigned requests
 * sent to the S3 test server as Uppy's S3 client sends them: create with its Content-Type, parts as raw
 * bodies, ListParts, CompleteMultipartUpload with the XML body. The browser completes at S3 itself, so
 * the file leaves `uploading` through S3's Object Created event.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MIN_PART_BYTES } from '../../../contract/api/uploads';
import { LOCAL_UPLOADS_BUCKET, startUploadEnvironment, type UploadEnvironment } from '../../support/uploads';
import { auditCount, type Call, caller, download, keysIn, pdfBytes, settled } from './api';

let env: UploadEnvironment;
let alice: Call;
let bob: Call;

beforeAll(async () => {
  env = await startUploadEnvironment();
  alice = caller(env, await env.token('user', 'alice'));
  bob = caller(env, await env.token('user', 'bob'));
}, 60_000);
afterAll(async () => env?.stop());

interface Signed {
  method: string;
  url: string;
  headers: Record<string, string>;
  key: string;
  fileId: string;
  size?: number;
}

/** The route's answer: a signed request, or a problem document. */
const sign = (call: Call, body: Record<string, unknown>) =>
  call<Signed & Record<string, unknown>>('POST', '/v1/uploads/sign', body);

/** Sends a presigned request as Uppy's S3 client does (XHR: method, signed headers, body). */
async function s3Request(
  signed: Signed,
  body?: Uint8Array | string,
  extraHeaders: Record<string, string> = {},
) {
  const res = await fetch(signed.url, {
    method: signed.method,
    headers: { ...signed.headers, ...extraHeaders },
    body: body === undefined ? undefined : typeof body === 'string' ? body : Buffer.from(body),
  });
  return { status: res.status, text: await res.text(), etag: res.headers.get('etag') };
}

const xmlValue = (xml: string, tag: string) => xml.match(new RegExp(`<${tag}>([^<]*)</${tag}>`))?.[1];

const completeXml = (parts: Array<{ partNumber: number; etag: string }>) =>
  `<CompleteMultipartUpload>${parts
    .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag}</ETag></Part>`)
    .join('')}</CompleteMultipartUpload>`;

/** Uppy's multipart sequence through the signing route; returns what each step answered. */
async function uppyMultipart(call: Call, bytes: Buffer, skipPart?: number) {
  const create = await sign(call, {
    operation: 'create',
    filename: 'video.pdf',
    size: bytes.length,
    contentType: 'application/pdf',
  });
  expect(create.status).toBe(200);
  expect(create.body.key).toBe(`uploads/alice/${create.body.fileId}`);
  const created = await s3Request(create.body);
  expect(created.status).toBe(200);
  const uploadId = xmlValue(created.text, 'UploadId') as string;
  const partSize = MIN_PART_BYTES;
  const count = Math.max(1, Math.ceil(bytes.length / partSize));
  const parts: Array<{ partNumber: number; etag: string }> = [];
  for (let n = 1; n <= count; n++) {
    if (n === skipPart) continue;
    const signed = await sign(call, { operation: 'part', key: create.body.key, uploadId, partNumber: n });
    expect(signed.status).toBe(200);
    const put = await s3Request(
      signed.body,
      bytes.subarray((n - 1) * partSize, Math.min(n * partSize, bytes.length)),
    );
    expect(put.status).toBe(200);
    parts.push({ partNumber: n, etag: put.etag as string });
  }
  const list = await s3Request(
    (await sign(call, { operation: 'list', key: create.body.key, uploadId })).body,
  );
  expect(list.status).toBe(200);
  expect([...list.text.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]))).toEqual(
    parts.map((p) => p.partNumber),
  );
  const complete = await sign(call, { operation: 'complete', key: create.body.key, uploadId });
  const done = await s3Request(complete.body, completeXml(parts), { 'content-type': 'application/xml' });
  expect(done.status).toBe(200);
  return { key: create.body.key, id: create.body.fileId, uploadId };
}

describe('the Uppy 6 signing route', () => {
  it('drives a multipart upload the browser completes at S3 to a clean, identical file', async () => {
    const bytes = pdfBytes(2 * MIN_PART_BYTES + 777, 3);
    const { id } = await uppyMultipart(alice, bytes);
    const file = await settled(env, alice, id);
    expect(file.body).toMatchObject({ state: 'clean', size: bytes.length });
    expect((await download(alice, id)).bytes.equals(bytes)).toBe(true);
    const audit = await env.sql<{ actor_kind: string; details: { via: string } }>(
      "SELECT actor_kind, details FROM citadel.audit_events WHERE target = $1 AND action = 'upload.complete'",
      [`file:${id}`],
    );
    expect(audit).toEqual([
      { actor_kind: 'system', details: expect.objectContaining({ via: 'object-created' }) },
    ]);
  });

  it('fails, and deletes, an object the browser completed without every declared part', async () => {
    const bytes = pdfBytes(2 * MIN_PART_BYTES + 5, 4);
    const { id, key } = await uppyMultipart(alice, bytes, 2);
    await env.uploads.idle();
    const row = (
      await env.sql<{ state: string; failure_reason: string }>(
        'SELECT state, failure_reason FROM citadel.files WHERE id = $1',
        [id],
      )
    )[0];
    expect(row).toEqual({
      state: 'failed',
      failure_reason: `the object is ${MIN_PART_BYTES + 5} bytes; ${bytes.length} were declared`,
    });
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, key)).toEqual([]);
    expect((await alice('GET', `/v1/files/${id}/download`)).status).toBe(409);
  });

  it('signs a batch of parts in one call, each for its exact size', async () => {
    const bytes = pdfBytes(2 * MIN_PART_BYTES + 99, 8);
    const create = await sign(alice, {
      operation: 'create',
      filename: 'batch.pdf',
      size: bytes.length,
      contentType: 'application/pdf',
    });
    const uploadId = xmlValue((await s3Request(create.body)).text, 'UploadId') as string;
    const batch = await sign(alice, {
      operation: 'parts',
      key: create.body.key,
      uploadId,
      partNumbers: [3, 1, 2],
    });
    expect(batch.status).toBe(200);
    const parts = batch.body.parts as Array<{ partNumber: number; url: string; size: number }>;
    expect(parts.map((p) => [p.partNumber, p.size])).toEqual([
      [3, 99],
      [1, MIN_PART_BYTES],
      [2, MIN_PART_BYTES],
    ]);
    const etags: Array<{ partNumber: number; etag: string }> = [];
    for (const p of [...parts].sort((a, b) => a.partNumber - b.partNumber)) {
      const put = await s3Request(
        { ...batch.body, method: 'PUT', url: p.url },
        bytes.subarray(
          (p.partNumber - 1) * MIN_PART_BYTES,
          Math.min(p.partNumber * MIN_PART_BYTES, bytes.length),
        ),
      );
      expect(put.status).toBe(200);
      etags.push({ partNumber: p.partNumber, etag: put.etag as string });
    }
    const complete = await sign(alice, { operation: 'complete', key: create.body.key, uploadId });
    expect(
      (await s3Request(complete.body, completeXml(etags), { 'content-type': 'application/xml' })).status,
    ).toBe(200);
    expect((await settled(env, alice, create.body.fileId)).body.state).toBe('clean');
    expect(
      (await sign(alice, { operation: 'parts', key: create.body.key, uploadId, partNumbers: [1] })).status,
    ).toBe(409);
    const tooMany = await sign(alice, {
      operation: 'parts',
      key: create.body.key,
      uploadId,
      partNumbers: Array.from({ length: 101 }, (_, i) => i + 1),
    });
    expect(tooMany.status).toBe(400);
  });

  it('signs a single PUT only under one part, for the exact size and type', async () => {
    const bytes = pdfBytes(50_000, 5);
    const put = await sign(alice, {
      operation: 'put',
      filename: 'small.pdf',
      size: bytes.length,
      contentType: 'application/pdf',
    });
    expect(put.body).toMatchObject({
      method: 'PUT',
      headers: { 'content-type': 'application/pdf' },
      size: bytes.length,
    });
    expect((await s3Request(put.body, bytes.subarray(0, 49_999))).status).toBe(403);
    expect((await s3Request(put.body, bytes, { 'content-type': 'image/png' })).status).toBe(403);
    expect((await s3Request(put.body, bytes)).status).toBe(200);
    expect((await settled(env, alice, put.body.fileId)).body.state).toBe('clean');
    // The URL is still valid, but create-only: other bytes of the same size never replace the scanned object.
    const swapped = Buffer.from(bytes).fill(0x41, 10_000, 20_000);
    expect((await s3Request(put.body, swapped)).status).toBe(412);
    expect((await download(alice, put.body.fileId)).bytes).toEqual(Buffer.from(bytes));

    const big = await sign(alice, {
      operation: 'put',
      filename: 'big.pdf',
      size: MIN_PART_BYTES,
      contentType: 'application/pdf',
    });
    expect(big.status).toBe(400);
    expect(big.body.errors).toEqual([expect.objectContaining({ path: 'size' })]);
  });

  it('refuses a Content-Type other than the one signed on create', async () => {
    const create = await sign(alice, {
      operation: 'create',
      filename: 'a.pdf',
      size: 10,
      contentType: 'application/pdf',
    });
    expect((await s3Request(create.body, undefined, { 'content-type': 'text/html' })).status).toBe(403);
  });
});

describe('what the signing route refuses', () => {
  it("refuses another person's key, keys outside the caller's prefix, and unknown keys with 403, audited", async () => {
    const bytes = pdfBytes(100, 6);
    const theirs = await sign(bob, {
      operation: 'create',
      filename: 'b.pdf',
      size: bytes.length,
      contentType: 'application/pdf',
    });
    const uploadId = xmlValue((await s3Request(theirs.body)).text, 'UploadId') as string;
    const attempts = [
      await sign(alice, { operation: 'part', key: theirs.body.key, uploadId, partNumber: 1 }),
      await sign(alice, { operation: 'complete', key: theirs.body.key, uploadId }),
      await sign(alice, { operation: 'abort', key: theirs.body.key, uploadId }),
      await sign(alice, { operation: 'list', key: `uploads/alice/${theirs.body.fileId}`, uploadId }),
      await sign(alice, {
        operation: 'part',
        key: 'uploads/alice/00000000-0000-4000-8000-000000000000',
        uploadId,
        partNumber: 1,
      }),
    ];
    for (const a of attempts) {
      expect(a.status).toBe(403);
      expect(a.headers.get('content-type')).toBe('application/problem+json');
    }
    const denied = await env.sql<{ n: string }>(
      "SELECT count(*) AS n FROM citadel.audit_events WHERE actor_id = 'alice' AND outcome = 'denied' AND action LIKE 'upload.sign.%'",
    );
    expect(Number(denied[0]?.n)).toBe(5);
    const row = (
      await env.sql<{ state: string }>('SELECT state FROM citadel.files WHERE id = $1', [theirs.body.fileId])
    )[0];
    expect(row?.state).toBe('uploading');
  });

  it('binds the first upload id to the file and refuses any other', async () => {
    const mine = await sign(alice, {
      operation: 'create',
      filename: 'a.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    const uploadId = xmlValue((await s3Request(mine.body)).text, 'UploadId') as string;
    const other = await sign(alice, {
      operation: 'create',
      filename: 'b.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    const otherId = xmlValue((await s3Request(other.body)).text, 'UploadId') as string;
    expect(
      (await sign(alice, { operation: 'part', key: mine.body.key, uploadId, partNumber: 1 })).status,
    ).toBe(200);
    const foreign = await sign(alice, {
      operation: 'part',
      key: mine.body.key,
      uploadId: otherId,
      partNumber: 1,
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.detail).toBe('This upload id does not belong to this file.');
  });

  it('refuses unsupported operations, malformed keys and part numbers outside the upload with 400', async () => {
    const mine = await sign(alice, {
      operation: 'create',
      filename: 'a.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    const uploadId = xmlValue((await s3Request(mine.body)).text, 'UploadId') as string;
    const bad = [
      { operation: 'delete', key: mine.body.key },
      { operation: 'copy', key: mine.body.key, uploadId },
      { operation: 'part', key: '../../etc/passwd', uploadId, partNumber: 1 },
      { operation: 'part', key: `${mine.body.key}/..`, uploadId, partNumber: 1 },
      { operation: 'part', key: mine.body.key, uploadId, partNumber: 0 },
      { operation: 'part', key: mine.body.key, uploadId, partNumber: 10_001 },
      { operation: 'part', key: mine.body.key, uploadId, partNumber: 2 },
      { operation: 'part', key: mine.body.key, uploadId: 'a b<c>', partNumber: 1 },
      { operation: 'create', filename: 'x.exe', size: 10, contentType: 'application/x-msdownload' },
      {
        operation: 'create',
        filename: 'x.pdf',
        size: 10,
        contentType: 'application/pdf',
        key: 'uploads/alice/mine',
      },
    ];
    for (const body of bad) {
      const answer = await sign(alice, body);
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), 400]);
      expect(answer.body.instance).toBe(answer.headers.get('x-request-id'));
    }
  });

  it('aborts: the file is aborted at signing, and nothing more is signed for it', async () => {
    const mine = await sign(alice, {
      operation: 'create',
      filename: 'a.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    const uploadId = xmlValue((await s3Request(mine.body)).text, 'UploadId') as string;
    const abort = await sign(alice, { operation: 'abort', key: mine.body.key, uploadId });
    expect(abort.body.method).toBe('DELETE');
    // Aborted at S3 by the API already; Uppy's own DELETE then finds it gone (Uppy only logs that).
    expect(env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === uploadId)).toBe(
      false,
    );
    expect((await s3Request(abort.body)).status).toBe(404);
    const after = await sign(alice, { operation: 'part', key: mine.body.key, uploadId, partNumber: 1 });
    expect(after.status).toBe(409);
    expect(
      (await alice<{ file: { state: string } }>('GET', `/v1/uploads/${mine.body.fileId}`)).body.file.state,
    ).toBe('aborted');
    expect(await auditCount(env, `file:${mine.body.fileId}`, 'upload.abort')).toBe(1);
  });

  it('refuses to abort an upload the browser already completed at S3, and keeps the file', async () => {
    env.uploads.pause();
    try {
      const done = await uppyMultipart(alice, pdfBytes(1000, 11));
      const abort = await sign(alice, { operation: 'abort', key: done.key, uploadId: done.uploadId });
      expect(abort.status).toBe(409);
      expect(abort.body.detail).toMatch(/already been completed/);
    } finally {
      env.uploads.resume();
    }
  });

  it('completing through the REST route an upload Uppy created but never bound is a 409, not a 5xx', async () => {
    const mine = await sign(alice, {
      operation: 'create',
      filename: 'a.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    expect((await s3Request(mine.body)).status).toBe(200);
    const done = await alice('POST', `/v1/uploads/${mine.body.fileId}/complete`, {});
    expect(done.status).toBe(409);
    expect(done.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});
