/**
 * A real Uppy 6 instance with the real `@uppy/aws-s3` plugin, configured by `citadelSignRequest`, uploading
 * to the local stack (API handlers, PostgreSQL, the SigV4-verifying S3 server, the simulated scan) through
 * the signing route `POST /v1/uploads/sign`. Node has no XMLHttpRequest; test/client/xhr.ts provides the
 * minimal one Uppy needs.
 */
import { randomUUID } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import { CitadelClient, type SignedUploadRequest, type SignUploadRequestInput } from '../../client/client';
import { CitadelProblemError } from '../../client/errors';
import { downloadFile, waitForScan } from '../../client/upload';
import {
  type CitadelSignRequestOptions,
  citadelSignRequest,
  citadelUppyOptions,
  fileIdFromKey,
  UPPY_HELPER_RETAIN_MS,
  type UppySigningRequest,
  uppyHelperMemory,
} from '../../client/uppy';
import { MIN_PART_BYTES } from '../../contract/api/uploads';
import { LOCAL_UPLOADS_BUCKET, startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { MiB, randomFile, sha256Of, until } from './support';
import { NodeXMLHttpRequest } from './xhr';

let env: UploadEnvironment;
let dir: string;
let token: string;
let client: CitadelClient;
const globals = globalThis as { XMLHttpRequest?: unknown };
const previousXhr = globals.XMLHttpRequest;

beforeAll(async () => {
  globals.XMLHttpRequest = NodeXMLHttpRequest;
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-uppy-'));
  token = await env.token('user', 'dora');
  client = new CitadelClient({ baseUrl: env.url, token });
}, 60_000);
afterAll(async () => {
  globals.XMLHttpRequest = previousXhr;
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * `citadelSignRequest` with a fetch that records every signing call's body and can rewrite the first
 * `parts` answer (a man in the middle, for tests).
 */
function helper(
  options: Partial<CitadelSignRequestOptions> = {},
  tamper?: (body: SignedUploadRequest) => SignedUploadRequest,
) {
  const signCalls: SignUploadRequestInput[] = [];
  let tampered = false;
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (init?.method === 'POST' && new URL(String(input)).pathname === '/v1/uploads/sign') {
      const body = JSON.parse(String(init.body)) as SignUploadRequestInput;
      signCalls.push(body);
      if (tamper && !tampered && body.operation === 'parts' && res.ok) {
        tampered = true;
        return new Response(JSON.stringify(tamper((await res.json()) as SignedUploadRequest)), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      }
    }
    return res;
  };
  const options$ = citadelSignRequest({ apiUrl: env.url, token, fetch: recording, ...options });
  return { options: options$, signCalls };
}

/** Uppy with the plugin, recording every request it asks to sign. */
function uppyWith(options: ReturnType<typeof citadelSignRequest>) {
  const signed: UppySigningRequest[] = [];
  const logged: string[] = [];
  const logger = {
    debug: () => undefined,
    warn: () => undefined,
    error: (m: unknown) => logged.push(String(m)),
  };
  const uppy = new Uppy({ autoProceed: false, logger }).use(AwsS3, {
    ...options,
    signRequest: (request: UppySigningRequest) => {
      signed.push(request);
      return options.signRequest(request);
    },
  });
  return { uppy, signed, logged };
}

const describeRequest = (r: UppySigningRequest) =>
  `${r.method}${r.uploadId ? ' upload' : ''}${r.partNumber ? ` part ${r.partNumber}` : ''}`;

/** The storage key Uppy reports for a successful file (`response.body.key`). */
const keyOf = (file: { response?: { body?: unknown } } | undefined): string =>
  String((file?.response?.body as { key?: string } | undefined)?.key);

async function expectCleanCopy(key: string, source: string, name: string) {
  expect(key).toMatch(/^uploads\/dora\/[0-9a-f-]{36}$/);
  const id = fileIdFromKey(key);
  expect(await waitForScan(client, id, { timeoutMs: 20_000 })).toMatchObject({
    state: 'clean',
    filename: name,
    contentType: 'application/octet-stream',
  });
  const out = await downloadFile(client, id, path.join(dir, `${name}.out`));
  expect(out.sha256).toBe(await sha256Of(source));
}

describe('Uppy 6 with citadelSignRequest', () => {
  it('uploads a 5-part file and a single-PUT file, both clean and byte-identical, in 4 signing calls', async () => {
    // Prepare: 36 MiB → parts of 8, 8, 8, 8 and 4 MiB; 1 MiB is under one part, so a single PUT.
    const big = await randomFile(path.join(dir, 'clip.bin'), 36 * MiB);
    const small = await randomFile(path.join(dir, 'note.bin'), 1 * MiB + 17);
    const { options, signCalls } = helper();
    const { uppy, signed } = uppyWith(options);
    const bigId = uppy.addFile({
      name: 'clip.bin',
      type: 'application/octet-stream',
      data: await openAsBlob(big),
    });
    const smallId = uppy.addFile({ name: 'note.bin', type: '', data: await openAsBlob(small) });

    // Act
    const result = await uppy.upload();

    // Assess
    expect(result?.failed).toEqual([]);
    const byId = new Map(result?.successful?.map((f) => [f.id, f]));
    await expectCleanCopy(keyOf(byId.get(bigId)), big, 'clip.bin');
    await expectCleanCopy(keyOf(byId.get(smallId)), small, 'note.bin');
    expect(signed.map(describeRequest).sort()).toEqual(
      [
        'POST',
        'PUT',
        'PUT upload part 1',
        'PUT upload part 2',
        'PUT upload part 3',
        'PUT upload part 4',
        'PUT upload part 5',
        'POST upload',
      ].sort(),
    );
    // One call declares each file, one signs every part (batched), one signs the completion.
    expect(signCalls.map((c) => c.operation).sort()).toEqual(['complete', 'create', 'parts', 'put']);
    expect(signCalls.find((c) => c.operation === 'parts')).toMatchObject({ partNumbers: [1, 2, 3, 4, 5] });
    expect(signCalls.filter((c) => c.operation === 'create' || c.operation === 'put')).toEqual(
      expect.arrayContaining([
        {
          operation: 'create',
          filename: 'clip.bin',
          size: 36 * MiB,
          contentType: 'application/octet-stream',
        },
        { operation: 'put', filename: 'note.bin', size: MiB + 17, contentType: 'application/octet-stream' },
      ]),
    );
    expect(env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET)).toEqual([]);
    uppy.destroy();
  });

  it('signs batches of signBatchSize up to the last part, and re-signs URLs within a minute of expiry', async () => {
    const file = await randomFile(path.join(dir, 'batches.bin'), 36 * MiB);
    // The first batch "expires" in 30 s: part 1 is used as just signed, part 2 is signed again.
    const { options, signCalls } = helper({ signBatchSize: 2 }, (body) => ({
      ...body,
      expiresAt: new Date(Date.now() + 30_000).toISOString(),
    }));
    const { uppy } = uppyWith(options);
    uppy.addFile({ name: 'batches.bin', type: 'application/octet-stream', data: await openAsBlob(file) });

    const result = await uppy.upload();

    expect(result?.failed).toEqual([]);
    expect(signCalls.filter((c) => c.operation === 'parts').map((c) => c.partNumbers)).toEqual([
      [1, 2],
      [2, 3],
      [4, 5],
    ]);
    await expectCleanCopy(keyOf(result?.successful?.[0]), file, 'batches.bin');
    uppy.destroy();
  });

  it('after a refused part, retryUpload resumes from the parts S3 holds with fresh URLs', async () => {
    const file = await randomFile(path.join(dir, 'retry.bin'), 20 * MiB);
    // Part 2's first URL is tampered with: S3 answers 403 and Uppy (which never retries a 4xx) fails the file.
    const { options, signCalls } = helper({}, (body) => ({
      ...body,
      parts: body.parts?.map((p) =>
        p.partNumber === 2
          ? { ...p, url: p.url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000') }
          : p,
      ),
    }));
    const { uppy, signed, logged } = uppyWith(options);
    const fileId = uppy.addFile({
      name: 'retry.bin',
      type: 'application/octet-stream',
      data: await openAsBlob(file),
    });

    const first = await uppy.upload();
    expect(first?.failed).toHaveLength(1);
    expect(logged).toContain('S3 returned 403 – SignatureDoesNotMatch');
    const second = await uppy.retryUpload(fileId);

    expect(second?.successful).toHaveLength(1);
    // Part 1 went to S3 once; the resume listed the parts and signed 2 and 3 afresh.
    expect(signed.filter((r) => r.method === 'PUT' && r.partNumber === 1)).toHaveLength(1);
    expect(signed.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(signCalls.map((c) => (c.operation === 'parts' ? c.partNumbers : c.operation))).toEqual([
      'create',
      [1, 2, 3],
      'list',
      [2, 3],
      'complete',
    ]);
    await expectCleanCopy(keyOf(second?.successful?.[0]), file, 'retry.bin');
    // Uppy shows the error notice for 5 s on a timer destroy() does not clear; let it run out.
    await until(() => uppy.getState().info.length === 0, 10_000);
    uppy.destroy();
  });

  it('removing a file mid-upload aborts it: the API marks it aborted and S3 keeps no multipart upload', async () => {
    const file = await randomFile(path.join(dir, 'cancel.bin'), 26 * MiB);
    let id = '';
    const { options } = helper({ onUploadCreated: (info) => (id = info.id) });
    const { uppy, signed } = uppyWith(options);
    const fileId = uppy.addFile({
      name: 'cancel.bin',
      type: 'application/octet-stream',
      data: await openAsBlob(file),
    });
    uppy.on('s3-multipart:part-uploaded', (_, part) => {
      if (part.PartNumber === 1) uppy.removeFile(fileId);
    });

    await uppy.upload();
    await until(async () => (await client.getFile(id)).state === 'aborted');
    await until(() => env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).length === 0, 5_000);

    expect(signed.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect(env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET)).toEqual([]);
    uppy.destroy();
  });
});

describe('what the helper refuses', () => {
  it("signs nothing for another person's upload: the API answers 403", async () => {
    // Prepare: dora declares a multipart upload and S3 starts it.
    const { options: dora } = helper();
    const placeholder = dora.generateObjectKey({
      id: 'f1',
      name: 'mine.bin',
      size: 2 * MIN_PART_BYTES,
      type: 'application/octet-stream',
    });
    const create = await dora.signRequest({ method: 'POST', key: placeholder });
    const created = await fetch(create.url, { method: 'POST', headers: create.headers });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())?.[1] as string;
    const key = create.key as string;
    const erin = citadelSignRequest({ apiUrl: env.url, token: await env.token('user', 'erin') });

    // Act
    const attempts = await Promise.allSettled([
      erin.signRequest({ method: 'PUT', key, uploadId, partNumber: 1 }),
      erin.signRequest({ method: 'GET', key, uploadId }),
      erin.signRequest({ method: 'POST', key, uploadId }),
      erin.signRequest({ method: 'DELETE', key, uploadId }),
    ]);

    // Assess
    for (const a of attempts) {
      expect(a.status).toBe('rejected');
      const reason = (a as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(CitadelProblemError);
      expect(reason).toMatchObject({ status: 403 });
    }
    expect((await client.getUpload(fileIdFromKey(key))).file.state).toBe('uploading');
    // dora's own part is signed, with no headers but the ones the server signed.
    expect(await dora.signRequest({ method: 'PUT', key, uploadId, partNumber: 2 })).toEqual({
      url: expect.stringContaining('partNumber=2'),
      headers: {},
    });
    await dora.signRequest({ method: 'DELETE', key, uploadId });
  });

  it('refuses keys it did not name, object deletes, and single PUTs of a part or more, with clear errors', async () => {
    const { options, signCalls } = helper();
    const big = options.generateObjectKey({ id: 'f2', name: 'big.bin', size: MIN_PART_BYTES, type: '' });

    await expect(options.signRequest({ method: 'POST', key: 'uploads/dora/mine' })).rejects.toThrow(
      /a key this helper did not name: keep its generateObjectKey/,
    );
    await expect(options.signRequest({ method: 'DELETE', key: big })).rejects.toThrow(
      /Citadel does not sign DELETE .*DELETE \/v1\/files\/\{id\}/,
    );
    await expect(options.signRequest({ method: 'PUT', key: big })).rejects.toThrow(
      /go multipart: keep this helper's shouldUseMultipart/,
    );
    expect(signCalls).toEqual([]);
    expect(options.shouldUseMultipart({ size: MIN_PART_BYTES })).toBe(true);
    expect(options.shouldUseMultipart({ size: MIN_PART_BYTES - 1 })).toBe(false);
    expect(options.getChunkSize({ size: 200 * 1024 ** 3 })).toBe(21 * MiB);
  });
});

/**
 * The helper over a scripted API on a clock the test moves: signing answers expire 15 minutes after "now";
 * `GET /v1/uploads/{id}` (how the helper learns an upload it no longer knows) answers 404.
 */
function clocked() {
  const clock = { now: Date.parse('2026-03-01T12:00:00.000Z') };
  const calls: string[] = [];
  const api: typeof fetch = async (input, init) => {
    const { pathname } = new URL(String(input));
    const problem = {
      type: 'urn:citadel:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'x',
      instance: 'r',
    };
    if (init?.method === 'GET') {
      calls.push('GET');
      return new Response(JSON.stringify(problem), {
        status: 404,
        headers: { 'content-type': 'application/problem+json' },
      });
    }
    const body = JSON.parse(String(init?.body)) as SignUploadRequestInput;
    calls.push(body.operation === 'parts' ? `parts ${body.partNumbers.join(',')}` : body.operation);
    const fileId = randomUUID();
    const signed: SignedUploadRequest = {
      method: body.operation === 'put' ? 'PUT' : 'POST',
      url: `https://s3.example/${pathname}/${calls.length}`,
      headers: {},
      key: 'key' in body ? body.key : `uploads/dora/${fileId}`,
      fileId,
      expiresAt: new Date(clock.now + 15 * 60_000).toISOString(),
      ...(body.operation === 'parts'
        ? {
            parts: body.partNumbers.map((n) => ({
              partNumber: n,
              url: `https://s3.example/part/${n}`,
              size: 1,
            })),
          }
        : {}),
    };
    return new Response(JSON.stringify(signed), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  const options = citadelUppyOptions(
    new CitadelClient({ baseUrl: 'https://api.example', token: 't', fetch: api }),
    {
      now: () => clock.now,
    },
  );
  return { clock, calls, options, memory: () => uppyHelperMemory(options) };
}

describe('what the helper forgets', () => {
  const minutes = (n: number) => n * 60_000;

  it('drops a single PUT once its URL expired, and the file an hour later', async () => {
    const { clock, calls, options, memory } = clocked();
    const key = options.generateObjectKey({ id: 'f1', name: 'a.txt', size: 10, type: 'text/plain' });

    const first = await options.signRequest({ method: 'PUT', key });
    // Paused and resumed: the same URL, no second declaration.
    expect(await options.signRequest({ method: 'PUT', key })).toEqual(first);
    expect(memory()).toEqual({ files: 1, signedDeclarations: 1, uploads: 0 });

    // The URL expired: its answer is dropped on the next call (here: another file added).
    clock.now += minutes(16);
    options.generateObjectKey({ id: 'f2', name: 'b.txt', size: 10, type: 'text/plain' });
    expect(memory()).toEqual({ files: 2, signedDeclarations: 0, uploads: 0 });
    // Resumed within the hour: declared afresh, under a new key.
    const again = await options.signRequest({ method: 'PUT', key });
    expect(again.key).not.toBe(first.key);
    expect(calls).toEqual(['put', 'put']);

    // An hour past the last URL's expiry, both files are forgotten.
    clock.now += UPPY_HELPER_RETAIN_MS + minutes(16);
    options.generateObjectKey({ id: 'f3', name: 'c.txt', size: 10, type: 'text/plain' });
    expect(memory()).toEqual({ files: 1, signedDeclarations: 0, uploads: 0 });
    await expect(options.signRequest({ method: 'PUT', key })).rejects.toThrow(
      /a file this helper forgot: its URLs expired over 60 minutes ago\. Remove the file and add it again\./,
    );
    expect(calls).toEqual(['put', 'put']);
  });

  it('drops an unfinished multipart upload an hour after its URLs expired; it is looked up again if resumed', async () => {
    const { clock, calls, options, memory } = clocked();
    const key = options.generateObjectKey({ id: 'f1', name: 'big.bin', size: 3 * MIN_PART_BYTES, type: '' });
    const created = await options.signRequest({ method: 'POST', key });
    const uploaded = { key: String(created.key), uploadId: 'mpu-1' };

    await options.signRequest({ method: 'PUT', ...uploaded, partNumber: 1 });
    expect(memory()).toEqual({ files: 1, signedDeclarations: 1, uploads: 1 });

    // Within the hour the cached URLs and the session stay (part 2 was signed with part 1).
    clock.now += minutes(10);
    await options.signRequest({ method: 'PUT', ...uploaded, partNumber: 2 });
    clock.now += minutes(30);
    options.generateObjectKey({ id: 'f2', name: 'other.bin', size: 10, type: '' });
    expect(memory()).toEqual({ files: 2, signedDeclarations: 0, uploads: 1 });

    clock.now += UPPY_HELPER_RETAIN_MS;
    options.generateObjectKey({ id: 'f3', name: 'last.bin', size: 10, type: '' });
    expect(memory()).toEqual({ files: 1, signedDeclarations: 0, uploads: 0 });

    // Resumed after all: signed again, the part count asked of the API.
    await options.signRequest({ method: 'PUT', ...uploaded, partNumber: 3 });
    expect(calls).toEqual(['create', 'parts 1,2,3', 'parts 3', 'GET']);
  });

  it('forgets an upload and its file at once when it completes or aborts', async () => {
    const { options, memory } = clocked();
    for (const method of ['POST', 'DELETE'] as const) {
      const key = options.generateObjectKey({ id: method, name: 'big.bin', size: MIN_PART_BYTES, type: '' });
      const created = await options.signRequest({ method: 'POST', key });
      await options.signRequest({ method: 'PUT', key: String(created.key), uploadId: 'u', partNumber: 1 });
      await options.signRequest({ method, key: String(created.key), uploadId: 'u' });
    }
    expect(memory()).toEqual({ files: 0, signedDeclarations: 0, uploads: 0 });
  });
});
