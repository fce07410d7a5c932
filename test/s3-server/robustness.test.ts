/**
 * Robustness and browser support: malformed requests get S3 error documents (never a crash), unsupported methods
 * and sub-resources, clients vanishing mid-transfer, overwrite during a download, and CORS.
 */

import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import {
  eventually,
  expectS3Error,
  filesIn,
  MiB,
  rawRequest,
  readAll,
  s3Client,
  sha256Hex,
  signedRequest,
  signRequest,
  testData,
  uniqueKey,
} from './helpers';

const BUCKET = 'robust-bucket';
const ORIGIN = 'http://localhost:5173';
let server: S3Server;
let sdk: S3Client;

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET], corsOrigins: [ORIGIN] });
  sdk = s3Client(server, 'default');
});

afterAll(async () => {
  sdk.destroy();
  await server.stop();
});

async function stillServing(): Promise<void> {
  await expect(sdk.send(new HeadBucketCommand({ Bucket: BUCKET }))).resolves.toBeDefined();
}

describe('malformed requests', () => {
  it('answers an undecodable path with InvalidURI', async () => {
    const response = await rawRequest(server, 'GET', `/${BUCKET}/%E0%A4%A`, {});
    expect([response.status, response.code]).toEqual([400, 'InvalidURI']);
    expect(response.headers['x-amz-request-id']).toBeTruthy();
    await stillServing();
  });

  it('survives bytes that are not HTTP at all', async () => {
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end('THIS IS NOT HTTP\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 400/);
    await stillServing();
  });

  it('answers unsupported methods with 405 MethodNotAllowed', async () => {
    for (const [method, path] of [
      ['PATCH', `/${BUCKET}/some/key`],
      ['POST', `/${BUCKET}/some/key`],
      ['POST', `/${BUCKET}`],
      ['DELETE', '/'],
    ]) {
      const response = await signedRequest(server, { method: method as string, path: path as string });
      expect([method, path, response.status, response.code]).toEqual([method, path, 405, 'MethodNotAllowed']);
    }
  });

  it('answers unimplemented sub-resources with 501 NotImplemented', async () => {
    const objectAcl = await signedRequest(server, {
      method: 'GET',
      path: `/${BUCKET}/k`,
      query: [['acl', '']],
    });
    expect([objectAcl.status, objectAcl.code]).toEqual([501, 'NotImplemented']);
    const versioning = await signedRequest(server, {
      method: 'GET',
      path: `/${BUCKET}`,
      query: [['versioning', '']],
    });
    expect([versioning.status, versioning.code]).toEqual([501, 'NotImplemented']);
  });

  it('answers malformed XML bodies with MalformedXML', async () => {
    const key = uniqueKey('xml');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    for (const body of [
      '<Tagging><TagSet><Tag><Key>a</Key>',
      'not xml at all',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><Tagging><TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>',
      '<Other/>',
    ]) {
      const response = await signedRequest(server, {
        method: 'PUT',
        path: `/${BUCKET}/${key}`,
        query: [['tagging', '']],
        body,
      });
      expect([response.status, response.code]).toEqual([400, 'MalformedXML']);
    }
    const created = await signedRequest(server, {
      method: 'POST',
      path: `/${BUCKET}/${key}`,
      query: [['uploads', '']],
    });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] as string;
    const complete = await signedRequest(server, {
      method: 'POST',
      path: `/${BUCKET}/${key}`,
      query: [['uploadId', uploadId]],
      body: '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>',
    });
    expect([complete.status, complete.code]).toEqual([400, 'MalformedXML']);
  });

  it('requires Content-MD5 or a checksum on DeleteObjects, like S3', async () => {
    const response = await signedRequest(server, {
      method: 'POST',
      path: `/${BUCKET}`,
      query: [['delete', '']],
      body: '<Delete><Object><Key>a</Key></Object></Delete>',
    });
    expect([response.status, response.code]).toEqual([400, 'InvalidRequest']);
  });

  it('rejects missing or unknown payload hashes in header auth', async () => {
    const signed = signRequest({
      method: 'GET',
      path: `/${BUCKET}`,
      host: `127.0.0.1:${server.port}`,
      payloadHash: 'NOT-A-HASH',
    });
    const response = await rawRequest(server, 'GET', signed.target, signed.headers);
    expect([response.status, response.code]).toEqual([400, 'InvalidArgument']);
  });
});

describe('clients going away', () => {
  it('discards a half-sent upload and keeps serving', async () => {
    const key = uniqueKey('abandoned');
    const signed = signRequest({
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      host: `127.0.0.1:${server.port}`,
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const req = httpRequest({
      host: '127.0.0.1',
      port: server.port,
      method: 'PUT',
      path: signed.target,
      headers: { ...signed.headers, 'content-length': String(10 * MiB) },
    });
    req.on('error', () => undefined);
    req.write(testData(MiB));
    await eventually(async () => expect(await filesIn(server, 'tmp')).toHaveLength(1));
    req.destroy();
    await eventually(async () => expect(await filesIn(server, 'tmp')).toEqual([]));
    await expectS3Error(sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'NoSuchKey', 404);
    await stillServing();
  });

  it('survives a download abandoned half-way', async () => {
    const key = uniqueKey('download');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: testData(8 * MiB) }));
    const url = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    await stillServing();
  });

  it('lets a download in progress finish with the old bytes when the object is overwritten', async () => {
    // A three-part object: its later part files are opened only after the overwrite and must still exist.
    const key = uniqueKey('overwrite-while-reading');
    const before = testData(11 * MiB, 1);
    const after = testData(3 * MiB, 2);
    const { UploadId } = await sdk.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const parts = [];
    for (const [i, start] of [0, 5 * MiB, 10 * MiB].entries()) {
      const body = before.subarray(start, Math.min(start + 5 * MiB, before.length));
      const part = await sdk.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: body }),
      );
      parts.push({ PartNumber: i + 1, ETag: part.ETag });
    }
    await sdk.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const dataFiles = (await filesIn(server, 'buckets', BUCKET, 'data')).length;

    const reading = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const iterator = (reading.Body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: after }));
    const fresh = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(sha256Hex(await readAll(fresh.Body as AsyncIterable<Uint8Array>))).toBe(sha256Hex(after));
    // The old version's three files are still there while it is being read...
    expect((await filesIn(server, 'buckets', BUCKET, 'data')).length).toBe(dataFiles + 1);
    const rest = await readAll({ [Symbol.asyncIterator]: () => iterator });
    expect(sha256Hex(Buffer.concat([Buffer.from(first.value as Uint8Array), rest]))).toBe(sha256Hex(before));
    // ...and removed once its last reader is done.
    await eventually(async () =>
      expect((await filesIn(server, 'buckets', BUCKET, 'data')).length).toBe(dataFiles - 2),
    );
  });
});

describe('CORS', () => {
  const preflight = (origin: string, headers: Record<string, string> = {}) =>
    fetch(`${server.endpoint}/${BUCKET}/uploads/file.bin`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PUT', ...headers },
    });

  it('answers preflights from allowed origins', async () => {
    const response = await preflight(ORIGIN, {
      'Access-Control-Request-Headers': 'content-type,x-amz-checksum-crc32',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, PUT, POST, DELETE, HEAD');
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type,x-amz-checksum-crc32');
    expect(response.headers.get('access-control-expose-headers')).toContain('ETag');
    expect(response.headers.get('access-control-expose-headers')).toContain('x-amz-request-id');
    expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
  });

  it('refuses preflights from other origins with 403', async () => {
    const response = await preflight('https://evil.example');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await response.text()).toContain('<Code>AccessForbidden</Code>');
  });

  it('adds Access-Control-Allow-Origin and Vary to actual responses for allowed origins only', async () => {
    const key = uniqueKey('cors');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'cors' }));
    const url = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const allowed = await fetch(url, { headers: { Origin: ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(allowed.headers.get('vary')).toContain('Origin');
    expect(allowed.headers.get('access-control-expose-headers')).toContain('ETag');
    expect(await allowed.text()).toBe('cors');
    const other = await fetch(url, { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // Errors are readable by the allowed origin too.
    const denied = await fetch(`${server.endpoint}/${BUCKET}/${key}`, { headers: { Origin: ORIGIN } });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });
});
