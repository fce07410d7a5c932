/** Plain-HTTP helpers for the upload tests: the API as a browser or a script sees it, no client library. */
import { createHash } from 'node:crypto';
import { expect } from '@jest/globals';
import type { UploadEnvironment } from '../../support/uploads';

export interface Answer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export type Call = <T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
) => Promise<Answer<T>>;

/** Calls the local API with `token`; bodies are JSON. */
export function caller(env: UploadEnvironment, token: string): Call {
  return async (method, path, body) => {
    const res = await fetch(`${env.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
}

export interface Created {
  id: string;
  uploadId: string;
  key: string;
  partSize: number;
  partCount: number;
}

export interface SignedPart {
  partNumber: number;
  url: string;
  size: number;
}

/** PUTs bytes to a presigned part URL; returns the status and the ETag S3 answered with. */
export async function putPart(
  url: string,
  bytes: Uint8Array,
): Promise<{ status: number; etag: string | null; text: string }> {
  const res = await fetch(url, { method: 'PUT', body: Buffer.from(bytes) });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A PDF-looking body of `size` bytes (passes the type check as application/pdf). */
export function pdfBytes(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  Buffer.from('%PDF-1.7\n').copy(b, 0, 0, Math.min(9, size));
  return b;
}

/** Slices `bytes` into the parts the server decided on. */
export const partOf = (bytes: Buffer, created: Pick<Created, 'partSize'>, n: number) =>
  bytes.subarray((n - 1) * created.partSize, Math.min(n * created.partSize, bytes.length));

/** Declares, signs, PUTs every part (in `order`) and completes; returns the completed file. */
export async function upload(
  call: Call,
  bytes: Buffer,
  declared: { filename?: string; contentType?: string; sha256?: string } = {},
  order?: (n: number) => number[],
) {
  const created = await call<Created>('POST', '/v1/uploads', {
    filename: declared.filename ?? 'file.pdf',
    size: bytes.length,
    contentType: declared.contentType ?? 'application/pdf',
    ...(declared.sha256 ? { sha256: declared.sha256 } : {}),
  });
  expect(created.status).toBe(201);
  const numbers =
    order?.(created.body.partCount) ?? Array.from({ length: created.body.partCount }, (_, i) => i + 1);
  const signed = await call<{ parts: SignedPart[] }>('POST', `/v1/uploads/${created.body.id}/parts`, {
    partNumbers: numbers,
  });
  expect(signed.status).toBe(200);
  for (const part of signed.body.parts) {
    const put = await putPart(part.url, partOf(bytes, created.body, part.partNumber));
    expect(put.status).toBe(200);
  }
  const done = await call<{ id: string; state: string }>(
    'POST',
    `/v1/uploads/${created.body.id}/complete`,
    {},
  );
  return { created: created.body, done };
}

/** Waits until the simulated scan pipeline is idle, then reads the file. */
export async function settled(env: UploadEnvironment, call: Call, id: string) {
  await env.uploads.idle();
  return call<{ state: string; size: number }>('GET', `/v1/files/${id}`);
}

/** Downloads a clean file through its presigned link. */
export async function download(
  call: Call,
  id: string,
): Promise<{ bytes: Buffer; disposition: string | null }> {
  const link = await call<{ url: string }>('GET', `/v1/files/${id}/download`);
  expect(link.status).toBe(200);
  const res = await fetch(link.body.url);
  expect(res.status).toBe(200);
  return { bytes: Buffer.from(await res.arrayBuffer()), disposition: res.headers.get('content-disposition') };
}

/** Keys under a prefix in a local bucket. */
export async function keysIn(env: UploadEnvironment, bucket: string, prefix = ''): Promise<string[]> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const page = await env.uploads.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key as string);
}

/** How many audit events of `action` with `outcome` name `target`. */
export async function auditCount(
  env: UploadEnvironment,
  target: string,
  action: string,
  outcome = 'success',
) {
  const [row] = await env.sql<{ n: string }>(
    'SELECT count(*) AS n FROM citadel.audit_events WHERE target = $1 AND action = $2 AND outcome = $3',
    [target, action, outcome],
  );
  return Number(row?.n);
}
