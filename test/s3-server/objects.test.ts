/**
 * Bucket and object operations through the AWS SDK: put/get/head/delete, attributes and encryption echo, ranges,
 * presigned GET overrides, conditional requests, tagging, copy, batch delete, listings, and the
 * `object-created` event.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ObjectCreatedEvent, type S3Server, startS3Server } from '../support/s3-server/index';
import {
  crc32Base64,
  eventually,
  expectS3Error,
  filesIn,
  md5Hex,
  readAll,
  s3Client,
  signedRequest,
  testData,
  uniqueKey,
} from './helpers';

const BUCKET = 'objects-bucket';
let server: S3Server;
let sdk: S3Client;
let sdkWhenRequired: S3Client;
const events: ObjectCreatedEvent[] = [];

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  server.events.on('object-created', (event: ObjectCreatedEvent) => events.push(event));
  sdk = s3Client(server, 'default');
  sdkWhenRequired = s3Client(server, 'when-required');
});

afterAll(async () => {
  sdk.destroy();
  sdkWhenRequired.destroy();
  await server.stop();
});

async function getBody(key: string, client: S3Client = sdk, bucket = BUCKET): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return readAll(response.Body as AsyncIterable<Uint8Array>);
}

describe('buckets', () => {
  it('creates, heads, lists and deletes buckets', async () => {
    await sdk.send(new CreateBucketCommand({ Bucket: 'fresh-bucket' }));
    const head = await sdk.send(new HeadBucketCommand({ Bucket: 'fresh-bucket' }));
    expect(head.BucketRegion).toBe('us-east-1');
    const listed = await sdk.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining([BUCKET, 'fresh-bucket']));
    await sdk.send(new PutObjectCommand({ Bucket: 'fresh-bucket', Key: 'k', Body: 'v' }));
    await expectS3Error(sdk.send(new DeleteBucketCommand({ Bucket: 'fresh-bucket' })), 'BucketNotEmpty', 409);
    await sdk.send(new DeleteObjectCommand({ Bucket: 'fresh-bucket', Key: 'k' }));
    await sdk.send(new DeleteBucketCommand({ Bucket: 'fresh-bucket' }));
    await expect(sdk.send(new HeadBucketCommand({ Bucket: 'fresh-bucket' }))).rejects.toMatchObject({
      $metadata: expect.objectContaining({ httpStatusCode: 404 }),
    });
  });

  it('rejects invalid bucket names', async () => {
    await expectS3Error(sdk.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400);
  });

  it('reports NoSuchBucket (404)', async () => {
    await expectS3Error(
      sdk.send(new GetObjectCommand({ Bucket: 'missing-bucket', Key: 'k' })),
      'NoSuchBucket',
      404,
    );
    await expectS3Error(
      sdk.send(new PutObjectCommand({ Bucket: 'missing-bucket', Key: 'k', Body: 'x' })),
      'NoSuchBucket',
      404,
    );
    await expectS3Error(
      sdk.send(new ListObjectsV2Command({ Bucket: 'missing-bucket' })),
      'NoSuchBucket',
      404,
    );
  });
});

describe('PutObject, GetObject, HeadObject', () => {
  it('stores the body and persists and echoes content headers, metadata and SSE-KMS settings', async () => {
    const key = uniqueKey('attributes');
    const body = testData(10_000);
    const put = await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: body,
        ContentType: 'application/pdf',
        ContentDisposition: 'attachment; filename="report.pdf"',
        Metadata: { owner: 'alice', 'case-id': '42' },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'arn:aws:kms:us-east-1:111122223333:key/abc',
      }),
    );
    expect(put.ETag).toBe(`"${md5Hex(body)}"`);
    expect(put.ServerSideEncryption).toBe('aws:kms');
    expect(put.SSEKMSKeyId).toBe('arn:aws:kms:us-east-1:111122223333:key/abc');

    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head).toMatchObject({
      ContentLength: body.length,
      ContentType: 'application/pdf',
      ContentDisposition: 'attachment; filename="report.pdf"',
      ETag: `"${md5Hex(body)}"`,
      Metadata: { owner: 'alice', 'case-id': '42' },
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:us-east-1:111122223333:key/abc',
    });
    expect(head.LastModified).toBeInstanceOf(Date);

    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(get.ContentType).toBe('application/pdf');
    expect(get.Metadata).toEqual({ owner: 'alice', 'case-id': '42' });
    expect((await readAll(get.Body as AsyncIterable<Uint8Array>)).equals(body)).toBe(true);
  });

  it('echoes SSE-S3 (AES256) and defaults the content type like S3', async () => {
    const key = uniqueKey('aes');
    const put = await sdkWhenRequired.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', ServerSideEncryption: 'AES256' }),
    );
    expect(put.ServerSideEncryption).toBe('AES256');
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ServerSideEncryption).toBe('AES256');

    // The SDK always sends a Content-Type; without one S3 stores binary/octet-stream.
    const bare = uniqueKey('bare');
    const put2 = await signedRequest(server, { method: 'PUT', path: `/${BUCKET}/${bare}`, body: 'raw' });
    expect(put2.status).toBe(200);
    expect((await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: bare }))).ContentType).toBe(
      'binary/octet-stream',
    );
  });

  it('returns the stored CRC32 on full GETs, which the SDK validates', async () => {
    const key = uniqueKey('crc');
    const body = testData(4096, 3);
    const put = await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    expect(put.ChecksumCRC32).toBe(crc32Base64(body));
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
    expect(get.ChecksumCRC32).toBe(crc32Base64(body));
    expect((await readAll(get.Body as AsyncIterable<Uint8Array>)).equals(body)).toBe(true);
  });

  it('round-trips keys with reserved and non-ASCII characters', async () => {
    const keys = [
      'dir/with space/a+b=c&d.txt',
      'percent%25 and ?query#hash',
      'ünïcødé/€/😀.bin',
      "quote'(paren)*!~",
    ];
    for (const key of keys) {
      await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
      expect((await getBody(key)).toString()).toBe(key);
    }
    const listed = await sdk.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(expect.arrayContaining(keys));
  });

  it('stores empty objects', async () => {
    const key = uniqueKey('empty');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '', ContentLength: 0 }));
    expect((await getBody(key)).length).toBe(0);
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(0);
  });

  it('replaces an object on overwrite and removes the old data', async () => {
    const key = uniqueKey('overwrite');
    const before = (await filesIn(server, 'buckets', BUCKET, 'data')).length;
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'version one' }));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'version two!' }));
    expect((await getBody(key)).toString()).toBe('version two!');
    await eventually(async () =>
      expect((await filesIn(server, 'buckets', BUCKET, 'data')).length).toBe(before + 1),
    );
  });

  it('reports NoSuchKey (404) for GET and a bodiless 404 for HEAD', async () => {
    await expectS3Error(
      sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'no/such/key' })),
      'NoSuchKey',
      404,
    );
    await expectS3Error(
      sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'no/such/key' })),
      'NotFound',
      404,
    );
    const url = await getSignedUrl(sdk, new HeadObjectCommand({ Bucket: BUCKET, Key: 'no/such/key' }));
    const response = await fetch(url, { method: 'HEAD' });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amz-request-id')).toBeTruthy();
    expect(await response.text()).toBe('');
  });

  it("emits 'object-created' after PutObject", async () => {
    const key = uniqueKey('event');
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'evented', Tagging: 'stage=test' }),
    );
    expect(events.find((e) => e.key === key)).toEqual({
      bucket: BUCKET,
      key,
      size: 7,
      etag: md5Hex('evented'),
      tags: { stage: 'test' },
    });
  });
});

describe('ranges', () => {
  const key = 'ranges/data.bin';
  const body = testData(1000, 9);

  beforeAll(async () => {
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  });

  it.each([
    ['bytes=10-19', 10, 19],
    ['bytes=990-', 990, 999],
    ['bytes=-5', 995, 999],
    ['bytes=900-5000', 900, 999],
  ])('serves %s as 206 with Content-Range', async (range, start, end) => {
    const response = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: range }));
    expect(response.$metadata.httpStatusCode).toBe(206);
    expect(response.ContentRange).toBe(`bytes ${start}-${end}/1000`);
    expect(response.ContentLength).toBe(end - start + 1);
    expect(
      (await readAll(response.Body as AsyncIterable<Uint8Array>)).equals(body.subarray(start, end + 1)),
    ).toBe(true);
  });

  it('rejects unsatisfiable ranges with 416 InvalidRange', async () => {
    await expectS3Error(
      sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=1000-1001' })),
      'InvalidRange',
      416,
    );
  });
});

describe('presigned GET', () => {
  it('applies response-content-disposition and response-content-type overrides', async () => {
    const key = uniqueKey('download');
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '%PDF-1.7', ContentType: 'text/plain' }),
    );
    const url = await getSignedUrl(
      sdk,
      new GetObjectCommand({
        Bucket: BUCKET,
        Key: key,
        ResponseContentDisposition: 'attachment; filename="statement.pdf"',
        ResponseContentType: 'application/pdf',
      }),
      { expiresIn: 300 },
    );
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="statement.pdf"');
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(await response.text()).toBe('%PDF-1.7');
  });

  it('signs UTF-8 header values byte-wise and sends non-Latin-1 overrides as raw UTF-8, as S3 does', async () => {
    const key = uniqueKey('utf8-download');
    await sdk.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', Metadata: { title: 'caf\u00e9' } }),
    );
    const disposition = 'attachment; filename="\u6587\u4ef6.pdf"';
    const url = await getSignedUrl(
      sdk,
      new GetObjectCommand({ Bucket: BUCKET, Key: key, ResponseContentDisposition: disposition }),
    );
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const raw = response.headers.get('content-disposition') as string;
    expect(Buffer.from(raw, 'latin1').toString('utf8')).toBe(disposition);
  });

  it('answers conditional requests (304 Not Modified, 412 Precondition Failed)', async () => {
    const key = uniqueKey('conditional');
    const put = await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'cached' }));
    const url = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const notModified = await fetch(url, { headers: { 'If-None-Match': put.ETag as string } });
    expect(notModified.status).toBe(304);
    const failed = await fetch(url, { headers: { 'If-Match': '"0123456789abcdef0123456789abcdef"' } });
    expect(failed.status).toBe(412);
    expect(await failed.text()).toContain('<Code>PreconditionFailed</Code>');
    const matched = await fetch(url, { headers: { 'If-Match': put.ETag as string } });
    expect(await matched.text()).toBe('cached');
  });
});

describe('tagging', () => {
  it('stores x-amz-tagging from PutObject and reads it back', async () => {
    const key = uniqueKey('tagged');
    await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: 'x',
        Tagging: 'project=citadel&classification=secret%20stuff',
      }),
    );
    const tags = await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    expect(tags.TagSet).toEqual([
      { Key: 'project', Value: 'citadel' },
      { Key: 'classification', Value: 'secret stuff' },
    ]);
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(get.TagCount).toBe(2);
    await readAll(get.Body as AsyncIterable<Uint8Array>);
  });

  it('replaces tags with PutObjectTagging and clears them with DeleteObjectTagging', async () => {
    const key = uniqueKey('retag');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', Tagging: 'a=1' }));
    await sdkWhenRequired.send(
      new PutObjectTaggingCommand({
        Bucket: BUCKET,
        Key: key,
        Tagging: {
          TagSet: [
            { Key: 'scan', Value: 'clean' },
            { Key: 'owner', Value: 'bob' },
          ],
        },
      }),
    );
    expect((await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet).toEqual([
      { Key: 'scan', Value: 'clean' },
      { Key: 'owner', Value: 'bob' },
    ]);
    expect((await getBody(key)).toString()).toBe('x');
    await sdk.send(new DeleteObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    expect((await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet ?? []).toEqual(
      [],
    );
  });

  it('validates tags and reports NoSuchKey', async () => {
    const tooMany = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    await expect(
      sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x', Body: 'x', Tagging: tooMany })),
    ).rejects.toMatchObject({
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
    await expectS3Error(
      sdk.send(
        new PutObjectTaggingCommand({
          Bucket: BUCKET,
          Key: 'no/such/key',
          Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] },
        }),
      ),
      'NoSuchKey',
      404,
    );
    const key = uniqueKey('dup');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    await expectS3Error(
      sdk.send(
        new PutObjectTaggingCommand({
          Bucket: BUCKET,
          Key: key,
          Tagging: {
            TagSet: [
              { Key: 'a', Value: '1' },
              { Key: 'a', Value: '2' },
            ],
          },
        }),
      ),
      'InvalidTag',
      400,
    );
  });
});

describe('CopyObject', () => {
  it('copies data, metadata and tags by default', async () => {
    const source = uniqueKey('copy-src');
    const target = uniqueKey('copy-dst');
    const body = testData(50_000, 4);
    await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: source,
        Body: body,
        ContentType: 'image/png',
        Metadata: { origin: 'scanner' },
        Tagging: 'scan=pending',
      }),
    );
    const copied = await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: target,
        CopySource: `${BUCKET}/${encodeURIComponent(source)}`,
      }),
    );
    expect(copied.CopyObjectResult?.ETag).toBe(`"${md5Hex(body)}"`);
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: target }));
    expect(head).toMatchObject({
      ContentType: 'image/png',
      Metadata: { origin: 'scanner' },
      ContentLength: body.length,
    });
    expect((await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: target }))).TagSet).toEqual([
      { Key: 'scan', Value: 'pending' },
    ]);
    expect((await getBody(target)).equals(body)).toBe(true);
    expect(events.find((e) => e.key === target)).toMatchObject({
      size: body.length,
      tags: { scan: 'pending' },
    });

    // The copy is independent of its source.
    await sdk.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: source }));
    expect((await getBody(target)).equals(body)).toBe(true);
  });

  it('replaces metadata and tags with the REPLACE directives', async () => {
    const source = uniqueKey('copy-src');
    const target = uniqueKey('copy-dst');
    await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: source,
        Body: 'x',
        Metadata: { a: '1' },
        Tagging: 'scan=pending',
      }),
    );
    await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: target,
        CopySource: `/${BUCKET}/${encodeURIComponent(source)}`,
        MetadataDirective: 'REPLACE',
        Metadata: { b: '2' },
        ContentType: 'text/csv',
        TaggingDirective: 'REPLACE',
        Tagging: 'scan=clean',
        ServerSideEncryption: 'AES256',
      }),
    );
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: target }));
    expect(head).toMatchObject({
      Metadata: { b: '2' },
      ContentType: 'text/csv',
      ServerSideEncryption: 'AES256',
    });
    expect((await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: target }))).TagSet).toEqual([
      { Key: 'scan', Value: 'clean' },
    ]);
  });

  it('refuses a no-op copy onto itself and reports a missing source', async () => {
    const key = uniqueKey('self');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    await expectS3Error(
      sdk.send(new CopyObjectCommand({ Bucket: BUCKET, Key: key, CopySource: `${BUCKET}/${key}` })),
      'InvalidRequest',
      400,
    );
    await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: key,
        CopySource: `${BUCKET}/${key}`,
        MetadataDirective: 'REPLACE',
        Metadata: { touched: 'yes' },
      }),
    );
    expect((await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).Metadata).toEqual({
      touched: 'yes',
    });
    await expectS3Error(
      sdk.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'dst', CopySource: `${BUCKET}/no/such/key` })),
      'NoSuchKey',
      404,
    );
  });
});

describe('deletes', () => {
  it('deletes an object (and succeeds for missing keys)', async () => {
    const key = uniqueKey('delete');
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    const deleted = await sdk.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    await expectS3Error(sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })), 'NoSuchKey', 404);
    await expect(sdk.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }))).resolves.toBeDefined();
  });

  it('deletes in batches with DeleteObjects', async () => {
    const keys = ['batch/1', 'batch/2', 'batch/3'];
    for (const key of keys) await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    for (const client of [sdk, sdkWhenRequired]) {
      const result = await client.send(
        new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
      );
      expect(result.Deleted?.map((d) => d.Key)).toEqual(keys);
    }
    const listed = await sdk.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'batch/' }));
    expect(listed.KeyCount).toBe(0);
  });
});

describe('listings', () => {
  const BUCKET_L = 'listing-bucket';
  const keys = ['list/a.txt', 'list/b/1', 'list/b/2', 'list/c.txt', 'list/d/e/f', 'other'];

  beforeAll(async () => {
    await sdk.send(new CreateBucketCommand({ Bucket: BUCKET_L }));
    for (const key of keys) await sdk.send(new PutObjectCommand({ Bucket: BUCKET_L, Key: key, Body: key }));
  });

  it('paginates ListObjectsV2 with max-keys and continuation tokens', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await sdk.send(
        new ListObjectsV2Command({ Bucket: BUCKET_L, Prefix: 'list/', MaxKeys: 2, ContinuationToken: token }),
      );
      pages++;
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      seen.push(...(page.Contents ?? []).map((c) => c.Key as string));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated) expect(page.KeyCount).toBe(2);
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(keys.filter((k) => k.startsWith('list/')));
  });

  it('rolls keys up into CommonPrefixes with a delimiter, across pages', async () => {
    const all = await sdk.send(
      new ListObjectsV2Command({ Bucket: BUCKET_L, Prefix: 'list/', Delimiter: '/' }),
    );
    expect(all.Contents?.map((c) => c.Key)).toEqual(['list/a.txt', 'list/c.txt']);
    expect(all.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/b/', 'list/d/']);

    const sequence: string[] = [];
    let token: string | undefined;
    do {
      const page = await sdk.send(
        new ListObjectsV2Command({
          Bucket: BUCKET_L,
          Prefix: 'list/',
          Delimiter: '/',
          MaxKeys: 1,
          ContinuationToken: token,
        }),
      );
      sequence.push(
        ...(page.Contents ?? []).map((c) => c.Key as string),
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix as string),
      );
      token = page.NextContinuationToken;
    } while (token);
    expect(sequence).toEqual(['list/a.txt', 'list/b/', 'list/c.txt', 'list/d/']);
  });

  it('supports StartAfter and the original ListObjects with Marker', async () => {
    const after = await sdk.send(new ListObjectsV2Command({ Bucket: BUCKET_L, StartAfter: 'list/c.txt' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['list/d/e/f', 'other']);
    const v1 = await sdk.send(new ListObjectsCommand({ Bucket: BUCKET_L, Marker: 'list/b/2', MaxKeys: 2 }));
    expect(v1.Contents?.map((c) => c.Key)).toEqual(['list/c.txt', 'list/d/e/f']);
    expect(v1.IsTruncated).toBe(true);
    expect(v1.Contents?.[0]).toMatchObject({
      ETag: `"${md5Hex('list/c.txt')}"`,
      Size: 10,
      StorageClass: 'STANDARD',
    });
  });

  it('rejects a forged continuation token', async () => {
    await expectS3Error(
      sdk.send(new ListObjectsV2Command({ Bucket: BUCKET_L, ContinuationToken: 'bm90LWEtdG9rZW4' })),
      'InvalidArgument',
      400,
    );
  });
});
