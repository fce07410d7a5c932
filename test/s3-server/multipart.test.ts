/**
 * Multipart uploads: the full lifecycle (parts sent every way a client sends them), ListParts pagination,
 * completion rules (EntityTooSmall, InvalidPart, InvalidPartOrder, InvalidArgument, MalformedXML), part
 * replacement, abort without leftovers, and concurrent part uploads.
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ObjectCreatedEvent, type S3Server, startS3Server } from '../support/s3-server/index';
import {
  eventually,
  expectS3Error,
  fetchBody,
  filesIn,
  MiB,
  md5Hex,
  readAll,
  s3Client,
  sha256Hex,
  testData,
  uniqueKey,
} from './helpers';

const BUCKET = 'multipart-bucket';
const PART = 5 * MiB;
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

async function createUpload(key: string): Promise<string> {
  const created = await sdk.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  return created.UploadId as string;
}

async function uploadPart(
  key: string,
  uploadId: string,
  partNumber: number,
  body: Buffer | string,
): Promise<string> {
  const result = await sdkWhenRequired.send(
    new UploadPartCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
    }),
  );
  return result.ETag as string;
}

function complete(key: string, uploadId: string, parts: Array<{ PartNumber: number; ETag: string }>) {
  return sdk.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

function multipartEtag(parts: Buffer[]): string {
  const md5 = createHash('md5');
  for (const part of parts) md5.update(createHash('md5').update(part).digest());
  return `"${md5.digest('hex')}-${parts.length}"`;
}

describe('multipart lifecycle', () => {
  const key = 'videos/interview.mp4';
  const source = testData(3 * PART + MiB + 123, 11);
  const parts = [0, 1, 2, 3].map((i) => source.subarray(i * PART, Math.min((i + 1) * PART, source.length)));
  let uploadId: string;
  const etags: string[] = [];

  it('creates an upload carrying content type, metadata, encryption and tags', async () => {
    const created = await sdk.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        ContentType: 'video/mp4',
        Metadata: { 'uploaded-by': 'alice' },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'alias/citadel',
        Tagging: 'kind=video&scan=pending',
      }),
    );
    uploadId = created.UploadId as string;
    expect(uploadId).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(created.ServerSideEncryption).toBe('aws:kms');
  });

  it('accepts parts sent every way clients send them', async () => {
    // 1: SDK defaults (x-amz-checksum-crc32 header); 2: signed SHA-256 payload; 3: aws-chunked stream with a
    // CRC32 trailer; 4: presigned URL with a signed content-length.
    const one = await sdk.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: parts[0] }),
    );
    expect(one.ChecksumCRC32).toBeDefined();
    etags.push(one.ETag as string);
    etags.push(await uploadPart(key, uploadId, 2, parts[1] as Buffer));
    const three = await sdk.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: 3,
        Body: Readable.from([parts[2] as Buffer]),
        ContentLength: PART,
      }),
    );
    etags.push(three.ETag as string);
    const url = await getSignedUrl(
      sdkWhenRequired,
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: 4,
        ContentLength: parts[3]?.length,
      }),
    );
    const four = await fetch(url, { method: 'PUT', body: fetchBody(parts[3] as Buffer) });
    expect(four.status).toBe(200);
    expect(four.headers.get('x-amz-server-side-encryption')).toBe('aws:kms');
    etags.push(four.headers.get('etag') as string);
    expect(etags).toEqual(parts.map((p) => `"${md5Hex(p)}"`));
  });

  it('lists parts with max-parts / part-number-marker pagination', async () => {
    const first = await sdk.send(
      new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: 2 }),
    );
    expect(first.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, PART, etags[0]],
      [2, PART, etags[1]],
    ]);
    expect(first.IsTruncated).toBe(true);
    expect(first.NextPartNumberMarker).toBe('2');
    const second = await sdk.send(
      new ListPartsCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MaxParts: 2,
        PartNumberMarker: first.NextPartNumberMarker,
      }),
    );
    expect(second.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [3, PART],
      [4, parts[3]?.length],
    ]);
    expect(second.IsTruncated).toBe(false);
    expect(server.multipartUploads(BUCKET)).toContainEqual({ bucket: BUCKET, key, uploadId, parts: 4 });
    const uploads = await sdk.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toContainEqual([key, uploadId]);
  });

  it('completes (quoted or unquoted ETags) without copying part data', async () => {
    const dataFilesBefore = (await filesIn(server, 'buckets', BUCKET, 'data')).length;
    const result = await complete(
      key,
      uploadId,
      etags.map((etag, i) => ({ PartNumber: i + 1, ETag: i % 2 === 0 ? etag : etag.replace(/"/g, '') })),
    );
    expect(result.ETag).toBe(multipartEtag(parts));
    expect(result.Key).toBe(key);
    expect(result.ServerSideEncryption).toBe('aws:kms');
    expect(server.multipartUploads(BUCKET).map((u) => u.uploadId)).not.toContain(uploadId);
    expect(await filesIn(server, 'uploads', uploadId)).toEqual([]);
    // The four part files were moved into the bucket's data directory.
    expect((await filesIn(server, 'buckets', BUCKET, 'data')).length).toBe(dataFilesBefore + 4);
    expect(events.find((e) => e.key === key)).toEqual({
      bucket: BUCKET,
      key,
      size: source.length,
      etag: multipartEtag(parts).replace(/"/g, ''),
      tags: { kind: 'video', scan: 'pending' },
    });
  });

  it('serves the completed object byte-for-byte, with its attributes', async () => {
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head).toMatchObject({
      ContentLength: source.length,
      ContentType: 'video/mp4',
      ETag: multipartEtag(parts),
      Metadata: { 'uploaded-by': 'alice' },
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/citadel',
    });
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(sha256Hex(await readAll(get.Body as AsyncIterable<Uint8Array>))).toBe(sha256Hex(source));
    const tags = await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    expect(tags.TagSet).toEqual([
      { Key: 'kind', Value: 'video' },
      { Key: 'scan', Value: 'pending' },
    ]);
  });

  it('serves ranges spanning part boundaries and single parts by number', async () => {
    for (const [start, end] of [
      [PART - 100, PART + 99],
      [PART - 1, 3 * PART + 10],
      [3 * PART + MiB, source.length - 1],
    ] as const) {
      const ranged = await sdk.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: `bytes=${start}-${end}` }),
      );
      expect(ranged.ContentRange).toBe(`bytes ${start}-${end}/${source.length}`);
      const bytes = await readAll(ranged.Body as AsyncIterable<Uint8Array>);
      expect(bytes.equals(source.subarray(start, end + 1))).toBe(true);
    }
    const second = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, PartNumber: 2 }));
    expect(second.PartsCount).toBe(4);
    expect((await readAll(second.Body as AsyncIterable<Uint8Array>)).equals(parts[1] as Buffer)).toBe(true);
  });

  it('copies a multipart object', async () => {
    await sdk.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'videos/copy.mp4', CopySource: `${BUCKET}/${key}` }),
    );
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'videos/copy.mp4' }));
    expect(sha256Hex(await readAll(get.Body as AsyncIterable<Uint8Array>))).toBe(sha256Hex(source));
  });
});

describe('completion rules', () => {
  it('rejects non-final parts under 5 MiB with EntityTooSmall, keeping the upload', async () => {
    const key = uniqueKey('small');
    const uploadId = await createUpload(key);
    const one = await uploadPart(key, uploadId, 1, 'a'.repeat(1024));
    const two = await uploadPart(key, uploadId, 2, 'b'.repeat(1024));
    await expectS3Error(
      complete(key, uploadId, [
        { PartNumber: 1, ETag: one },
        { PartNumber: 2, ETag: two },
      ]),
      'EntityTooSmall',
      400,
    );
    // A single (last) part may be small.
    const done = await complete(key, uploadId, [{ PartNumber: 2, ETag: two }]);
    expect(done.ETag).toBe(multipartEtag([Buffer.from('b'.repeat(1024))]));
  });

  it('rejects unknown parts and ETag mismatches with InvalidPart', async () => {
    const key = uniqueKey('invalid-part');
    const uploadId = await createUpload(key);
    const one = await uploadPart(key, uploadId, 1, 'only part');
    await expectS3Error(
      complete(key, uploadId, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }]),
      'InvalidPart',
      400,
    );
    await expectS3Error(
      complete(key, uploadId, [
        { PartNumber: 1, ETag: one },
        { PartNumber: 7, ETag: one },
      ]),
      'InvalidPart',
      400,
    );
    expect(server.multipartUploads(BUCKET).find((u) => u.uploadId === uploadId)?.parts).toBe(1);
  });

  it('rejects part lists that are not ascending with InvalidPartOrder', async () => {
    const key = uniqueKey('order');
    const uploadId = await createUpload(key);
    const one = await uploadPart(key, uploadId, 1, Buffer.alloc(PART, 1));
    const two = await uploadPart(key, uploadId, 2, 'tail');
    await expectS3Error(
      complete(key, uploadId, [
        { PartNumber: 2, ETag: two },
        { PartNumber: 1, ETag: one },
      ]),
      'InvalidPartOrder',
      400,
    );
    await expectS3Error(
      complete(key, uploadId, [
        { PartNumber: 1, ETag: one },
        { PartNumber: 1, ETag: one },
      ]),
      'InvalidPartOrder',
      400,
    );
  });

  it('rejects part numbers outside 1–10000 with InvalidArgument', async () => {
    const key = uniqueKey('range');
    const uploadId = await createUpload(key);
    for (const partNumber of [0, 10_001]) {
      await expectS3Error(
        sdkWhenRequired.send(
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: 'x',
          }),
        ),
        'InvalidArgument',
        400,
      );
    }
    await expect(uploadPart(key, uploadId, 10_000, 'x')).resolves.toBe(`"${md5Hex('x')}"`);
  });

  it('rejects an empty part list with MalformedXML', async () => {
    const key = uniqueKey('malformed');
    const uploadId = await createUpload(key);
    await uploadPart(key, uploadId, 1, 'x');
    await expectS3Error(complete(key, uploadId, []), 'MalformedXML', 400);
  });

  it('replaces a re-uploaded part number', async () => {
    const key = uniqueKey('replace');
    const uploadId = await createUpload(key);
    const first = await uploadPart(key, uploadId, 1, 'first version');
    const second = await uploadPart(key, uploadId, 1, 'second, longer version');
    expect(second).not.toBe(first);
    const listed = await sdk.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, second, 22]]);
    expect((await filesIn(server, 'uploads', uploadId)).filter((f) => f.endsWith('.part'))).toHaveLength(1);
    await expectS3Error(complete(key, uploadId, [{ PartNumber: 1, ETag: first }]), 'InvalidPart', 400);
    await complete(key, uploadId, [{ PartNumber: 1, ETag: second }]);
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect((await readAll(get.Body as AsyncIterable<Uint8Array>)).toString()).toBe('second, longer version');
  });

  it('reports NoSuchUpload for unknown upload ids', async () => {
    const key = uniqueKey('unknown');
    const UploadId = 'no-such-upload';
    await expectS3Error(uploadPart(key, UploadId, 1, 'x'), 'NoSuchUpload', 404);
    await expectS3Error(
      sdk.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId })),
      'NoSuchUpload',
      404,
    );
    await expectS3Error(complete(key, UploadId, [{ PartNumber: 1, ETag: '"x"' }]), 'NoSuchUpload', 404);
    await expectS3Error(
      sdk.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId })),
      'NoSuchUpload',
      404,
    );
  });
});

describe('AbortMultipartUpload', () => {
  it('removes the upload and every part file', async () => {
    const key = uniqueKey('abort');
    const uploadId = await createUpload(key);
    await uploadPart(key, uploadId, 1, Buffer.alloc(PART, 7));
    await uploadPart(key, uploadId, 2, 'tail');
    expect((await filesIn(server, 'uploads', uploadId)).filter((f) => f.endsWith('.part'))).toHaveLength(2);

    const aborted = await sdk.send(
      new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }),
    );
    expect(aborted.$metadata.httpStatusCode).toBe(204);
    expect(server.multipartUploads(BUCKET).map((u) => u.uploadId)).not.toContain(uploadId);
    expect(await filesIn(server, 'uploads')).not.toContain(uploadId);
    await eventually(async () => expect(await filesIn(server, 'tmp')).toEqual([]));

    await expectS3Error(
      sdk.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })),
      'NoSuchUpload',
      404,
    );
    await expectS3Error(uploadPart(key, uploadId, 3, 'late'), 'NoSuchUpload', 404);
    await expectS3Error(
      complete(key, uploadId, [{ PartNumber: 2, ETag: `"${md5Hex('tail')}"` }]),
      'NoSuchUpload',
      404,
    );
  });
});

describe('concurrency', () => {
  it('accepts 16 presigned parts uploaded at once and assembles them in order', async () => {
    const key = uniqueKey('parallel');
    const uploadId = await createUpload(key);
    const count = 16;
    const source = testData(count * PART, 5);
    const parts = Array.from({ length: count }, (_, i) => source.subarray(i * PART, (i + 1) * PART));
    const etags = await Promise.all(
      parts.map(async (body, i) => {
        const url = await getSignedUrl(
          sdkWhenRequired,
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: key,
            UploadId: uploadId,
            PartNumber: i + 1,
            ContentLength: body.length,
          }),
        );
        const response = await fetch(url, { method: 'PUT', body: fetchBody(body) });
        expect(response.status).toBe(200);
        return response.headers.get('etag') as string;
      }),
    );
    const done = await complete(
      key,
      uploadId,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(done.ETag).toBe(multipartEtag(parts));
    const get = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(sha256Hex(await readAll(get.Body as AsyncIterable<Uint8Array>))).toBe(sha256Hex(source));
  });
});
