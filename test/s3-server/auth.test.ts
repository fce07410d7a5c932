/**
 * Authentication: SDK-signed requests in both checksum modes, wrong/unknown credentials, clock skew, anonymous
 * requests, and presigned UploadPart URLs (signed content-length, tampering, expiry).
 */
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import { expectS3Error, fetchBody, MiB, md5Hex, readAll, s3Client, testClock, testData } from './helpers';

const BUCKET = 'auth-bucket';
const clock = testClock();
let server: S3Server;
let sdkDefault: S3Client;
let sdkWhenRequired: S3Client;

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET], now: clock.now });
  sdkDefault = s3Client(server, 'default');
  sdkWhenRequired = s3Client(server, 'when-required');
});

afterAll(async () => {
  sdkDefault.destroy();
  sdkWhenRequired.destroy();
  await server.stop();
});

afterEach(() => clock.reset());

async function errorCode(response: Response): Promise<string | undefined> {
  return /<Code>([^<]*)<\/Code>/.exec(await response.text())?.[1];
}

describe('header-signed requests', () => {
  it('accepts SDK requests in both checksum modes', async () => {
    for (const client of [sdkDefault, sdkWhenRequired]) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'hello.txt', Body: 'hello' }));
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }));
      expect((await readAll(got.Body as AsyncIterable<Uint8Array>)).toString()).toBe('hello');
    }
  });

  it('rejects a wrong secret with 403 SignatureDoesNotMatch', async () => {
    const client = s3Client(server, 'default', {
      credentials: { accessKeyId: 'citadel-local', secretAccessKey: 'not-the-secret' },
    });
    // HEAD responses carry no error document: the SDK only sees the status.
    await expect(client.send(new HeadBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({
      $metadata: expect.objectContaining({ httpStatusCode: 403 }),
    });
    await expectS3Error(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x', Body: 'x' })),
      'SignatureDoesNotMatch',
      403,
    );
    client.destroy();
  });

  it('rejects an unknown access key with 403 InvalidAccessKeyId', async () => {
    const client = s3Client(server, 'default', {
      credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' },
    });
    await expectS3Error(
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' })),
      'InvalidAccessKeyId',
      403,
    );
    client.destroy();
  });

  it('rejects anonymous requests with 403 AccessDenied and an S3 error document', async () => {
    const response = await fetch(`${server.endpoint}/${BUCKET}/hello.txt`);
    expect(response.status).toBe(403);
    const requestId = response.headers.get('x-amz-request-id');
    expect(requestId).toMatch(/^[0-9A-F]{16}$/);
    const body = await response.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain(`<RequestId>${requestId}</RequestId>`);
    expect(body).toContain(`<Resource>/${BUCKET}/hello.txt</Resource>`);
  });

  it('rejects requests more than 15 minutes away from the server clock with RequestTimeTooSkewed', async () => {
    clock.advance(16 * 60_000);
    await expectS3Error(
      sdkWhenRequired.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' })),
      'RequestTimeTooSkewed',
      403,
    );
    clock.advance(-2 * 60_000);
    await expect(
      sdkWhenRequired.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' })),
    ).resolves.toBeDefined();
  });

  it('rejects a request whose signed header was altered after signing', async () => {
    const client = s3Client(server, 'when-required');
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string> };
        request.headers['x-amz-meta-owner'] = 'mallory';
        return next(args);
      },
      { step: 'deserialize', name: 'tamperAfterSigning' },
    );
    await expectS3Error(
      client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'tampered', Body: 'x', Metadata: { owner: 'alice' } }),
      ),
      'SignatureDoesNotMatch',
      403,
    );
    client.destroy();
  });

  it('rejects a request signed for another region', async () => {
    const client = s3Client(server, 'default', { region: 'eu-west-1' });
    await expectS3Error(
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' })),
      'AuthorizationHeaderMalformed',
      400,
    );
    client.destroy();
  });
});

describe('presigned UploadPart URLs', () => {
  const KEY = 'presigned/object.bin';
  const part = testData(5 * MiB, 7);
  let uploadId: string;

  beforeAll(async () => {
    const created = await sdkWhenRequired.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: KEY }),
    );
    uploadId = created.UploadId as string;
  });

  const presignPart = (
    partNumber: number,
    contentLength: number,
    expiresIn = 900,
    client = sdkWhenRequired,
  ) =>
    getSignedUrl(
      client,
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: KEY,
        UploadId: uploadId,
        PartNumber: partNumber,
        ContentLength: contentLength,
      }),
      { expiresIn },
    );

  const partNumbers = async () => {
    const listed = await sdkWhenRequired.send(
      new ListPartsCommand({ Bucket: BUCKET, Key: KEY, UploadId: uploadId }),
    );
    return (listed.Parts ?? []).map((p) => [p.PartNumber, p.Size]);
  };

  it('accepts a part whose length matches the signed content-length', async () => {
    const url = await presignPart(1, part.length);
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host');
    const response = await fetch(url, { method: 'PUT', body: fetchBody(part) });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(`"${md5Hex(part)}"`);
    expect(await partNumbers()).toEqual([[1, part.length]]);
  });

  it('rejects a body whose length differs from the signed content-length (403)', async () => {
    const url = await presignPart(2, part.length);
    const shorter = await fetch(url, { method: 'PUT', body: fetchBody(part.subarray(1)) });
    expect(shorter.status).toBe(403);
    expect(await errorCode(shorter)).toBe('SignatureDoesNotMatch');
    const longer = await fetch(url, {
      method: 'PUT',
      body: fetchBody(Buffer.concat([part, Buffer.from('!')])),
    });
    expect(longer.status).toBe(403);
    expect(await partNumbers()).toEqual([[1, part.length]]);
  });

  // Moves the signing time by one second within the same day (so only the signature can catch it).
  const shiftDate = (value: string) => {
    const stamp = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 11)}:${value.slice(11, 13)}:${value.slice(13)}`;
    const date = new Date(stamp);
    const earlier = new Date(date.getTime() - 1000);
    const shifted = earlier.getUTCDate() === date.getUTCDate() ? earlier : new Date(date.getTime() + 1000);
    return shifted
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '');
  };

  it.each<[string, (current: string) => string]>([
    ['partNumber', () => '3'],
    ['uploadId', () => 'another-upload'],
    ['X-Amz-Signature', () => '0'.repeat(64)],
    ['X-Amz-Date', shiftDate],
    ['X-Amz-Expires', () => '901'],
    ['X-Amz-SignedHeaders', () => 'host'],
  ])('rejects the URL when %s is changed (403)', async (name, change) => {
    const url = new URL(await presignPart(1, 3));
    url.searchParams.set(name, change(url.searchParams.get(name) ?? ''));
    const response = await fetch(url, { method: 'PUT', body: 'abc' });
    expect(response.status).toBe(403);
    expect(await partNumbers()).toEqual([[1, part.length]]);
  });

  it('rejects an expired URL with 403 AccessDenied, and accepts it until then', async () => {
    const url = await presignPart(4, 3, 60);
    clock.advance(58_000);
    expect((await fetch(url, { method: 'PUT', body: 'abc' })).status).toBe(200);
    clock.advance(4_000);
    const late = await fetch(url, { method: 'PUT', body: 'abc' });
    expect(late.status).toBe(403);
    const body = await late.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('<Message>Request has expired</Message>');
  });

  it('rejects X-Amz-Expires beyond 7 days with 403 AccessDenied', async () => {
    const url = new URL(await presignPart(5, 3));
    url.searchParams.set('X-Amz-Expires', '604801');
    const response = await fetch(url, { method: 'PUT', body: 'abc' });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('AccessDenied');
  });

  it('honours checksums hoisted into the URL: a default-checksum SDK client signs CRC32 of an empty body', async () => {
    const url = await presignPart(6, 3, 900, sdkDefault);
    expect(new URL(url).searchParams.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
    const response = await fetch(url, { method: 'PUT', body: 'abc' });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('BadDigest');
  });

  it('serves presigned GETs', async () => {
    const url = await getSignedUrl(sdkDefault, new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }), {
      expiresIn: 60,
    });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
  });
});
