/**
 * Payload integrity: signed SHA-256 payloads, Content-MD5, x-amz-checksum-* headers and trailers, and aws-chunked
 * bodies (unsigned with a CRC32 trailer, signed chunk by chunk, signed with a signed trailer). Requests the SDK
 * cannot produce are built by hand with the suite's own signer. A failed upload must leave nothing behind.
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import {
  awsChunked,
  crc32Base64,
  eventually,
  expectS3Error,
  filesIn,
  type RawResponse,
  rawRequest,
  readAll,
  s3Client,
  sha256Hex,
  signedRequest,
  signRequest,
  testData,
  uniqueKey,
} from './helpers';

const BUCKET = 'integrity-bucket';
let server: S3Server;
let sdk: S3Client;
let sdkWhenRequired: S3Client;

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  sdk = s3Client(server, 'default');
  sdkWhenRequired = s3Client(server, 'when-required');
});

afterAll(async () => {
  sdk.destroy();
  sdkWhenRequired.destroy();
  await server.stop();
});

/** Asserts that nothing was stored under `key` and no temporary file was left. */
async function expectNothingStored(key: string): Promise<void> {
  await expectS3Error(sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 'NotFound', 404);
  await eventually(async () => expect(await filesIn(server, 'tmp')).toEqual([]));
}

async function stored(key: string): Promise<Buffer> {
  const response = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return readAll(response.Body as AsyncIterable<Uint8Array>);
}

interface ChunkedPut {
  readonly key: string;
  readonly data: Buffer;
  readonly mode:
    | 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
    | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
    | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
  readonly trailer?: string;
  readonly decodedLength?: number;
  readonly tamper?: (body: Buffer) => Buffer;
}

/** Sends a hand-made aws-chunked PutObject. */
function chunkedPut(put: ChunkedPut): Promise<RawResponse> {
  const withTrailer = put.trailer !== undefined;
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(put.decodedLength ?? put.data.length),
    ...(withTrailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
  };
  const signed = signRequest({
    method: 'PUT',
    path: `/${BUCKET}/${put.key}`,
    host: `127.0.0.1:${server.port}`,
    headers,
    payloadHash: put.mode,
  });
  let body = awsChunked(put.data, {
    chunkSize: 64 * 1024,
    signed: put.mode === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' ? undefined : signed,
    trailers: withTrailer ? [['x-amz-checksum-crc32', put.trailer as string]] : [],
    signTrailer: put.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  });
  if (put.tamper) body = put.tamper(body);
  return rawRequest(
    server,
    'PUT',
    signed.target,
    { ...signed.headers, 'content-length': String(body.length) },
    body,
  );
}

describe('signed SHA-256 payloads', () => {
  it('rejects a body that does not match x-amz-content-sha256 (raw request)', async () => {
    const key = uniqueKey('sha-raw');
    const response = await signedRequest(server, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      body: 'the real body',
      payloadHash: sha256Hex('the signed body'),
    });
    expect(response.status).toBe(400);
    expect(response.code).toBe('XAmzContentSHA256Mismatch');
    await expectNothingStored(key);
  });

  it('rejects a body swapped after the SDK signed it', async () => {
    const key = uniqueKey('sha-sdk');
    const client = s3Client(server, 'when-required');
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { body: unknown }).body = Buffer.from('evil!');
        return next(args);
      },
      { step: 'deserialize', name: 'swapBody' },
    );
    await expectS3Error(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from('good!') })),
      'XAmzContentSHA256Mismatch',
      400,
    );
    client.destroy();
    await expectNothingStored(key);
  });
});

describe('Content-MD5 and x-amz-checksum headers', () => {
  it('verifies Content-MD5', async () => {
    const key = uniqueKey('md5');
    const body = Buffer.from('md5 checked');
    const good = await sdkWhenRequired.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentMD5: createMd5Base64(body) }),
    );
    expect(good.$metadata.httpStatusCode).toBe(200);
    const badKey = uniqueKey('md5-bad');
    await expectS3Error(
      sdkWhenRequired.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: badKey,
          Body: body,
          ContentMD5: createMd5Base64(Buffer.from('x')),
        }),
      ),
      'BadDigest',
      400,
    );
    await expectNothingStored(badKey);
    await expectS3Error(
      sdkWhenRequired.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: badKey, Body: body, ContentMD5: 'bm90LW1kNQ==' }),
      ),
      'InvalidDigest',
      400,
    );
  });

  it('verifies an x-amz-checksum-crc32 header (SDK-computed and hand-made)', async () => {
    const key = uniqueKey('crc-header');
    const body = testData(100_000, 21);
    const put = await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    expect(put.ChecksumCRC32).toBe(crc32Base64(body));

    const badKey = uniqueKey('crc-header-bad');
    const response = await signedRequest(server, {
      method: 'PUT',
      path: `/${BUCKET}/${badKey}`,
      headers: { 'x-amz-checksum-crc32': crc32Base64(Buffer.from('something else')) },
      payloadHash: 'UNSIGNED-PAYLOAD',
      body,
    });
    expect(response.status).toBe(400);
    expect(response.code).toBe('BadDigest');
    expect(response.body.toString()).toContain(
      'The CRC32 you specified did not match the calculated checksum.',
    );
    await expectNothingStored(badKey);
  });

  it('rejects ambiguous or unsupported checksum declarations', async () => {
    const key = uniqueKey('crc-ambiguous');
    const two = await signedRequest(server, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      headers: {
        'x-amz-checksum-crc32': crc32Base64(Buffer.from('x')),
        'x-amz-checksum-sha1': 'C2wjAT7l1d0P4bl6h6Xo1WJ8B1E=',
      },
      body: 'x',
    });
    expect([two.status, two.code]).toEqual([400, 'InvalidRequest']);
    const dangling = await signedRequest(server, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      headers: { 'x-amz-sdk-checksum-algorithm': 'CRC32' },
      body: 'x',
    });
    expect([dangling.status, dangling.code]).toEqual([400, 'InvalidRequest']);
    const unsupported = await signedRequest(server, {
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      headers: { 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' },
      body: 'x',
    });
    expect([unsupported.status, unsupported.code]).toEqual([501, 'NotImplemented']);
    await expectNothingStored(key);
  });
});

describe('aws-chunked bodies', () => {
  const data = testData(200_000, 33);

  it('decodes an unsigned body with a CRC32 trailer, as the SDK sends streams', async () => {
    const key = uniqueKey('trailer');
    const response = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      trailer: crc32Base64(data),
    });
    expect(response.status).toBe(200);
    expect(response.headers['x-amz-checksum-crc32']).toBe(crc32Base64(data));
    expect((await stored(key)).equals(data)).toBe(true);
  });

  it('rejects a CRC32 trailer that does not match with BadDigest', async () => {
    const key = uniqueKey('trailer-bad');
    const response = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      trailer: crc32Base64(Buffer.from('not the data')),
    });
    expect(response.status).toBe(400);
    expect(response.code).toBe('BadDigest');
    await expectNothingStored(key);
  });

  it('rejects a declared trailer that never arrives', async () => {
    const key = uniqueKey('trailer-missing');
    const response = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      trailer: crc32Base64(data),
      tamper: (body) =>
        Buffer.concat([body.subarray(0, body.lastIndexOf('x-amz-checksum-crc32')), Buffer.from('\r\n')]),
    });
    expect([response.status, response.code]).toEqual([400, 'MalformedTrailerError']);
    await expectNothingStored(key);
  });

  it('verifies every chunk signature of STREAMING-AWS4-HMAC-SHA256-PAYLOAD', async () => {
    const key = uniqueKey('signed-chunks');
    const response = await chunkedPut({ key, data, mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' });
    expect(response.status).toBe(200);
    expect((await stored(key)).equals(data)).toBe(true);
  });

  it('rejects altered chunk data with 403 SignatureDoesNotMatch', async () => {
    const key = uniqueKey('signed-chunks-bad');
    const response = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      tamper: (body) => {
        const copy = Buffer.from(body);
        copy[150_000] = (copy[150_000] as number) ^ 0xff;
        return copy;
      },
    });
    expect(response.status).toBe(403);
    expect(response.code).toBe('SignatureDoesNotMatch');
    await expectNothingStored(key);
  });

  it('verifies the trailer signature of STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', async () => {
    const key = uniqueKey('signed-trailer');
    const ok = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      trailer: crc32Base64(data),
    });
    expect(ok.status).toBe(200);
    expect((await stored(key)).equals(data)).toBe(true);

    const badKey = uniqueKey('signed-trailer-bad');
    const forged = await chunkedPut({
      key: badKey,
      data,
      mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      trailer: crc32Base64(data),
      tamper: (body) => {
        const text = body.toString('latin1');
        const at = text.lastIndexOf('x-amz-trailer-signature:') + 'x-amz-trailer-signature:'.length;
        return Buffer.concat([body.subarray(0, at), Buffer.from('0'.repeat(64)), body.subarray(at + 64)]);
      },
    });
    expect(forged.status).toBe(403);
    await expectNothingStored(badKey);
  });

  it('rejects a body shorter than x-amz-decoded-content-length', async () => {
    const key = uniqueKey('short');
    const response = await chunkedPut({
      key,
      data,
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      trailer: crc32Base64(data),
      decodedLength: data.length + 1,
    });
    expect(response.status).toBe(400);
    expect(response.code).toBe('IncompleteBody');
    await expectNothingStored(key);
  });

  it('requires x-amz-decoded-content-length', async () => {
    const key = uniqueKey('no-length');
    const body = awsChunked(Buffer.from('abc'), { chunkSize: 8 });
    const signed = signRequest({
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      host: `127.0.0.1:${server.port}`,
      headers: { 'content-encoding': 'aws-chunked' },
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    const response = await rawRequest(
      server,
      'PUT',
      signed.target,
      { ...signed.headers, 'content-length': String(body.length) },
      body,
    );
    expect([response.status, response.code]).toEqual([411, 'MissingContentLength']);
  });

  it('accepts what the SDK streams with default checksums, end to end', async () => {
    const key = uniqueKey('sdk-stream');
    const put = await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]),
        ContentLength: data.length,
      }),
    );
    expect(put.ChecksumCRC32).toBe(crc32Base64(data));
    expect(sha256Hex(await stored(key))).toBe(sha256Hex(data));
  });
});

function createMd5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}
