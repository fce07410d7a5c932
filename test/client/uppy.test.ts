/**
 * A real Uppy 6 instance with the real `@uppy/aws-s3` plugin, configured by `citadelUppyOptions`, uploading
 * to the local stack (API handlers, PostgreSQL, the SigV4-verifying S3 server, the simulated scan). Node has
 * no XMLHttpRequest; test/client/xhr.ts provides the minimal one Uppy needs.
 */
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import { CitadelClient, type SignedParts } from '../../client/client';
import { downloadFile, waitForScan } from '../../client/upload';
import { citadelUppyOptions, fileIdFromKey, type UppySigningRequest } from '../../client/uppy';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { MiB, randomFile, sha256Of, until } from './support';
import { NodeXMLHttpRequest } from './xhr';

let env: UploadEnvironment;
let dir: string;
let token: string;
const globals = globalThis as { XMLHttpRequest?: unknown };
const previousXhr = globals.XMLHttpRequest;

beforeAll(async () => {
  globals.XMLHttpRequest = NodeXMLHttpRequest;
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-uppy-'));
  token = await env.token('user', 'dora');
}, 60_000);
afterAll(async () => {
  globals.XMLHttpRequest = previousXhr;
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A client that counts part-signing calls and can tamper with the first one's URLs. */
function countingClient(tamper?: (body: SignedParts) => SignedParts) {
  const signCalls: number[][] = [];
  let tampered = false;
  const counting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (init?.method === 'POST' && new URL(String(input)).pathname.endsWith('/parts')) {
      signCalls.push(JSON.parse(String(init.body)).partNumbers);
      if (tamper && !tampered && res.ok) {
        tampered = true;
        return new Response(JSON.stringify(tamper((await res.json()) as SignedParts)), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      }
    }
    return res;
  };
  return { client: new CitadelClient({ baseUrl: env.url, token, fetch: counting }), signCalls };
}

/** The storage key Uppy reports for the first successful file (`response.body.key`). */
const uploadedKey = (result: { successful?: Array<{ response?: { body?: unknown } }> } | undefined): string =>
  String((result?.successful?.[0]?.response?.body as { key?: string } | undefined)?.key);

/** Uppy with the plugin, recording every request it asks to sign. */
function uppyWith(client: CitadelClient) {
  const options = citadelUppyOptions(client);
  const signed: UppySigningRequest[] = [];
  const logged: string[] = [];
  const signRequest = options.signRequest;
  const logger = {
    debug: () => undefined,
    warn: () => undefined,
    error: (m: unknown) => logged.push(String(m)),
  };
  const uppy = new Uppy({ autoProceed: false, logger }).use(AwsS3, {
    ...options,
    signRequest: (request: UppySigningRequest) => {
      signed.push(request);
      return signRequest(request);
    },
  });
  return { uppy, signed, logged };
}

describe('Uppy 6 with citadelUppyOptions', () => {
  it('uploads a 4-part file that arrives clean and byte-identical, parts signed in one batch', async () => {
    const file = await randomFile(path.join(dir, 'clip.bin'), 26 * MiB);
    const { client, signCalls } = countingClient();
    const { uppy, signed } = uppyWith(client);
    uppy.addFile({ name: 'clip.bin', type: 'application/octet-stream', data: await openAsBlob(file) });

    const result = await uppy.upload();

    expect(result?.failed).toEqual([]);
    expect(result?.successful).toHaveLength(1);
    const key = uploadedKey(result);
    expect(key).toMatch(/^uploads\/dora\/[0-9a-f-]{36}$/);
    const id = fileIdFromKey(key);
    expect(
      signed.map(
        (r) => `${r.method}${r.uploadId ? ' upload' : ''}${r.partNumber ? ` part ${r.partNumber}` : ''}`,
      ),
    ).toEqual([
      'POST',
      'PUT upload part 1',
      'PUT upload part 2',
      'PUT upload part 3',
      'PUT upload part 4',
      'POST upload',
    ]);
    expect(signCalls).toEqual([[1, 2, 3, 4]]);
    const scanned = await waitForScan(client, id, { timeoutMs: 20_000 });
    expect(scanned).toMatchObject({
      state: 'clean',
      filename: 'clip.bin',
      size: 26 * MiB,
      contentType: 'application/octet-stream',
    });
    const out = await downloadFile(client, id, path.join(dir, 'clip.out'));
    expect(out.sha256).toBe(await sha256Of(file));
    uppy.destroy();
  });

  it('after a refused part, retryUpload resumes from the parts S3 holds with fresh URLs', async () => {
    const file = await randomFile(path.join(dir, 'retry.bin'), 20 * MiB);
    // Part 2's first URL is tampered with: S3 answers 403 and Uppy (which never retries a 4xx) fails the file.
    const { client, signCalls } = countingClient((body) => ({
      ...body,
      parts: body.parts.map((p) =>
        p.partNumber === 2
          ? { ...p, url: p.url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000') }
          : p,
      ),
    }));
    const { uppy, signed, logged } = uppyWith(client);
    const fileId = uppy.addFile({
      name: 'retry.bin',
      type: 'application/octet-stream',
      data: await openAsBlob(file),
    });

    const first = await uppy.upload();
    expect(first?.failed).toHaveLength(1);
    expect(first?.successful).toEqual([]);
    expect(logged).toContain('S3 returned 403 – SignatureDoesNotMatch');
    const second = await uppy.retryUpload(fileId);

    expect(second?.successful).toHaveLength(1);
    const id = fileIdFromKey(uploadedKey(second));
    // Part 1 went to S3 once; the resume listed the parts and signed 2 and 3 afresh.
    expect(signed.filter((r) => r.method === 'PUT' && r.partNumber === 1)).toHaveLength(1);
    expect(signed.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(signCalls).toEqual([
      [1, 2, 3],
      [2, 3],
    ]);
    expect((await waitForScan(client, id, { timeoutMs: 20_000 })).state).toBe('clean');
    expect((await downloadFile(client, id, path.join(dir, 'retry.out'))).sha256).toBe(await sha256Of(file));
    // Uppy shows the error notice for 5 s on a timer destroy() does not clear; let it run out.
    await until(() => uppy.getState().info.length === 0, 10_000);
    uppy.destroy();
  });

  it('removing a file mid-upload aborts it: the API marks it aborted and S3 keeps no parts', async () => {
    const file = await randomFile(path.join(dir, 'cancel.bin'), 26 * MiB);
    let id = '';
    const client = new CitadelClient({ baseUrl: env.url, token });
    const uppy = new Uppy({ autoProceed: false }).use(
      AwsS3,
      citadelUppyOptions(client, { onUploadCreated: (info) => (id = info.id) }),
    );
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

    expect(env.s3Server.multipartUploads()).toEqual([]);
    uppy.destroy();
  });
});
