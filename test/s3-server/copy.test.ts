/**
 * Server-side copies: UploadPartCopy (ranges across the source's part boundaries, byte-identical reassembly, part
 * ETags, range validation, missing source/upload, copy-source conditions, the 5 GiB limit, SigV4 over the
 * copy-source header) and CopyObject's metadata and tagging directives.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import {
  expectS3Error,
  MiB,
  md5Hex,
  rawRequest,
  readAll,
  s3Client,
  sha256Hex,
  signRequest,
  testData,
  uniqueKey,
} from './helpers';

const BUCKET = 'copy-bucket';
const OTHER_BUCKET = 'copy-other-bucket';
const PART = 5 * MiB;
let server: S3Server;
let sdk: S3Client;

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET, OTHER_BUCKET] });
  sdk = s3Client(server, 'default');
});

afterAll(async () => {
  sdk.destroy();
  await server.stop();
});

async function createUpload(key: string, bucket = BUCKET): Promise<string> {
  const created = await sdk.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  return created.UploadId as string;
}

function copyPart(
  key: string,
  uploadId: string,
  partNumber: number,
  copySource: string,
  range?: string,
  client: S3Client = sdk,
) {
  return client.send(
    new UploadPartCopyCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      CopySource: copySource,
      CopySourceRange: range,
    }),
  );
}

function complete(key: string, uploadId: string, etags: readonly string[]) {
  return sdk.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
    }),
  );
}

async function partsOf(key: string, uploadId: string): Promise<Array<[number?, number?, string?]>> {
  const listed = await sdk.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
  return (listed.Parts ?? []).map((p) => [p.PartNumber, p.Size, p.ETag]);
}

async function getBody(key: string, bucket = BUCKET): Promise<Buffer> {
  const got = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return readAll(got.Body as AsyncIterable<Uint8Array>);
}

function multipartEtag(parts: readonly Buffer[]): string {
  const md5 = createHash('md5');
  for (const part of parts) md5.update(createHash('md5').update(part).digest());
  return `"${md5.digest('hex')}-${parts.length}"`;
}

/** `bucket/key` with each key segment URL-encoded, as the SDK expects CopySource. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('UploadPartCopy', () => {
  // A multipart source (parts of 5 MiB + a short tail) copied in 7 MiB ranges: every range crosses a boundary
  // between the source's stored parts.
  const sourceKey = 'sources/large.bin';
  const source = testData(4 * PART + 12_345, 21);

  beforeAll(async () => {
    const uploadId = await createUpload(sourceKey);
    const etags: string[] = [];
    for (let offset = 0, n = 1; offset < source.length; offset += PART, n++) {
      const uploaded = await sdk.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: sourceKey,
          UploadId: uploadId,
          PartNumber: n,
          Body: source.subarray(offset, offset + PART),
        }),
      );
      etags.push(uploaded.ETag as string);
    }
    await complete(sourceKey, uploadId, etags);
  });

  it('copies a ~20 MiB multipart object in ranges that reassemble byte-identical', async () => {
    const key = uniqueKey('copied');
    const uploadId = await createUpload(key);
    const step = 7 * MiB;
    const slices: Buffer[] = [];
    const etags: string[] = [];
    for (let first = 0, n = 1; first < source.length; first += step, n++) {
      const last = Math.min(first + step, source.length) - 1;
      const copied = await copyPart(
        key,
        uploadId,
        n,
        copySource(BUCKET, sourceKey),
        `bytes=${first}-${last}`,
      );
      const slice = source.subarray(first, last + 1);
      expect(copied.CopyPartResult?.ETag).toBe(`"${md5Hex(slice)}"`);
      expect(copied.CopyPartResult?.LastModified).toBeInstanceOf(Date);
      slices.push(slice);
      etags.push(copied.CopyPartResult?.ETag as string);
    }
    expect(await partsOf(key, uploadId)).toEqual(
      slices.map((slice, i) => [i + 1, slice.length, `"${md5Hex(slice)}"`]),
    );

    const completed = await complete(key, uploadId, etags);

    expect(completed.ETag).toBe(multipartEtag(slices));
    const body = await getBody(key);
    expect(body.length).toBe(source.length);
    expect(sha256Hex(body)).toBe(sha256Hex(source));
  });

  it('copies a whole object without a range, across buckets, next to an uploaded part', async () => {
    const sourceKey = 'reports/Q1 résumé+final (v2).csv';
    const tail = Buffer.from('id,total\n1,42\n');
    await sdk.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: sourceKey, Body: tail }));
    const key = uniqueKey('mixed');
    const uploadId = await createUpload(key);
    const head = testData(PART, 22);
    const uploaded = await sdk.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: head }),
    );

    const copied = await copyPart(key, uploadId, 2, `/${copySource(OTHER_BUCKET, sourceKey)}`);

    expect(copied.CopyPartResult?.ETag).toBe(`"${md5Hex(tail)}"`);
    await complete(key, uploadId, [uploaded.ETag as string, copied.CopyPartResult?.ETag as string]);
    expect((await getBody(key)).equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it('accepts the last byte as a one-byte range and replaces an earlier part with the same number', async () => {
    const key = uniqueKey('last-byte');
    const uploadId = await createUpload(key);
    const last = source.length - 1;
    await copyPart(key, uploadId, 1, copySource(BUCKET, sourceKey), 'bytes=0-1023');

    const copied = await copyPart(key, uploadId, 1, copySource(BUCKET, sourceKey), `bytes=${last}-${last}`);

    const byte = source.subarray(last);
    expect(copied.CopyPartResult?.ETag).toBe(`"${md5Hex(byte)}"`);
    expect(await partsOf(key, uploadId)).toEqual([[1, 1, `"${md5Hex(byte)}"`]]);
  });

  it.each([
    ['without the bytes= unit', '0-99'],
    ['with an open end', 'bytes=0-'],
    ['as a suffix range', 'bytes=-100'],
    ['with first after last', 'bytes=100-99'],
    ['with several ranges', 'bytes=0-9,20-29'],
    ['with non-numeric offsets', 'bytes=zero-ten'],
  ])('rejects a copy-source range %s with InvalidArgument', async (_case, range) => {
    const key = uniqueKey('bad-range');
    const uploadId = await createUpload(key);
    const attempt = copyPart(key, uploadId, 1, copySource(BUCKET, sourceKey), range);
    await expect(attempt).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringMatching(/must be of the form bytes=first-last/),
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
    expect(await partsOf(key, uploadId)).toEqual([]);
  });

  it('rejects a range that ends at or beyond the end of the source', async () => {
    const key = uniqueKey('beyond');
    const uploadId = await createUpload(key);
    for (const range of [`bytes=0-${source.length}`, `bytes=${source.length}-${source.length + 10}`]) {
      await expect(copyPart(key, uploadId, 1, copySource(BUCKET, sourceKey), range)).rejects.toMatchObject({
        name: 'InvalidArgument',
        message: `Range specified is not valid for source object of size: ${source.length}`,
        $metadata: expect.objectContaining({ httpStatusCode: 400 }),
      });
    }
    expect(await partsOf(key, uploadId)).toEqual([]);
  });

  it('reports a missing source key or bucket, and a missing upload', async () => {
    const key = uniqueKey('missing');
    const uploadId = await createUpload(key);
    await expectS3Error(copyPart(key, uploadId, 1, copySource(BUCKET, 'no/such/key')), 'NoSuchKey', 404);
    await expectS3Error(
      copyPart(key, uploadId, 1, copySource('no-such-bucket', sourceKey)),
      'NoSuchBucket',
      404,
    );
    expect(await partsOf(key, uploadId)).toEqual([]);
    await expectS3Error(
      copyPart(key, 'no-such-upload-id', 1, copySource(BUCKET, sourceKey), 'bytes=0-9'),
      'NoSuchUpload',
      404,
    );
    await expectS3Error(
      copyPart(key, uploadId, 10_001, copySource(BUCKET, sourceKey), 'bytes=0-9'),
      'InvalidArgument',
      400,
    );
  });

  it('honours x-amz-copy-source-if-match', async () => {
    const key = uniqueKey('conditional');
    const uploadId = await createUpload(key);
    const sourceEtag = (await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: sourceKey }))).ETag;
    const send = (ifMatch: string) =>
      sdk.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: copySource(BUCKET, sourceKey),
          CopySourceRange: 'bytes=0-9',
          CopySourceIfMatch: ifMatch,
        }),
      );

    await expectS3Error(send('"0123456789abcdef0123456789abcdef"'), 'PreconditionFailed', 412);
    const copied = await send(sourceEtag as string);

    expect(copied.CopyPartResult?.ETag).toBe(`"${md5Hex(source.subarray(0, 10))}"`);
  });
});

describe('UploadPartCopy signatures', () => {
  const sourceA = 'signed/a.txt';
  const sourceB = 'signed/b.txt';

  beforeAll(async () => {
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: sourceA, Body: 'content of a' }));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: sourceB, Body: 'content of b' }));
  });

  it('refuses a wrong secret with 403 SignatureDoesNotMatch', async () => {
    const key = uniqueKey('wrong-secret');
    const uploadId = await createUpload(key);
    const impostor = s3Client(server, 'default', {
      credentials: { accessKeyId: 'citadel-local', secretAccessKey: 'not-the-secret' },
    });
    try {
      await expectS3Error(
        copyPart(key, uploadId, 1, copySource(BUCKET, sourceA), undefined, impostor),
        'SignatureDoesNotMatch',
        403,
      );
    } finally {
      impostor.destroy();
    }
    expect(await partsOf(key, uploadId)).toEqual([]);
  });

  it('refuses a copy-source header changed after signing, and accepts it untouched', async () => {
    const key = uniqueKey('tampered');
    const uploadId = await createUpload(key);
    const signed = signRequest({
      method: 'PUT',
      path: `/${BUCKET}/${key}`,
      query: [
        ['partNumber', '1'],
        ['uploadId', uploadId],
      ],
      headers: { 'x-amz-copy-source': `/${BUCKET}/${sourceA}` },
      host: `127.0.0.1:${server.port}`,
      payloadHash: sha256Hex(''),
      region: server.region,
    });
    const send = (copySourceHeader: string) =>
      rawRequest(server, 'PUT', signed.target, {
        ...signed.headers,
        'x-amz-copy-source': copySourceHeader,
        'content-length': '0',
      });

    const tampered = await send(`/${BUCKET}/${sourceB}`);

    expect([tampered.status, tampered.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await partsOf(key, uploadId)).toEqual([]);
    const genuine = await send(`/${BUCKET}/${sourceA}`);
    expect(genuine.status).toBe(200);
    expect(genuine.body.toString()).toContain(`<ETag>&quot;${md5Hex('content of a')}&quot;</ETag>`);
  });
});

describe('UploadPartCopy from a source larger than 5 GiB', () => {
  const BIG_BUCKET = 'big-bucket';
  const bigKey = 'archive/huge.bin';
  const bigSize = 6 * 1024 ** 3;
  let dataDir: string;
  let big: S3Server;
  let client: S3Client;

  /**
   * Turns a one-byte object into a sparse 6 GiB one by editing the store's documented on-disk layout while no
   * server runs, so the limit is tested without writing gigabytes.
   */
  async function inflate(bucket: string, key: string, size: number): Promise<void> {
    const recordPath = join(
      dataDir,
      'buckets',
      bucket,
      'objects',
      `${createHash('sha256').update(key).digest('hex')}.json`,
    );
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as {
      size: number;
      segments: Array<{ file: string; size: number }>;
    };
    const [segment] = record.segments;
    if (!segment || record.segments.length !== 1) throw new Error('expected a single-segment object');
    await truncate(join(dataDir, 'buckets', bucket, 'data', segment.file), size);
    await writeFile(recordPath, JSON.stringify({ ...record, size, segments: [{ ...segment, size }] }));
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'citadel-s3-copy-'));
    const first = await startS3Server({ dataDir, buckets: [BIG_BUCKET] });
    const firstClient = s3Client(first, 'default');
    await firstClient.send(new PutObjectCommand({ Bucket: BIG_BUCKET, Key: bigKey, Body: 'x' }));
    firstClient.destroy();
    await first.stop();
    await inflate(BIG_BUCKET, bigKey, bigSize);
    big = await startS3Server({ dataDir });
    client = s3Client(big, 'default');
  });

  afterAll(async () => {
    client?.destroy();
    await big?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function copyBig(uploadId: string, range?: string) {
    return client.send(
      new UploadPartCopyCommand({
        Bucket: BIG_BUCKET,
        Key: 'copy.bin',
        UploadId: uploadId,
        PartNumber: 1,
        CopySource: copySource(BIG_BUCKET, bigKey),
        CopySourceRange: range,
      }),
    );
  }

  it('refuses to copy the whole source, or a range longer than 5 GiB, into one part', async () => {
    expect(
      (await client.send(new HeadObjectCommand({ Bucket: BIG_BUCKET, Key: bigKey }))).ContentLength,
    ).toBe(bigSize);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BIG_BUCKET, Key: 'copy.bin' }),
    );
    await expectS3Error(copyBig(UploadId as string), 'InvalidRequest', 400);
    await expectS3Error(copyBig(UploadId as string, `bytes=0-${5 * 1024 ** 3}`), 'InvalidRequest', 400);
  });

  it('copies a range beyond the first 4 GiB of the source', async () => {
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BIG_BUCKET, Key: 'copy.bin' }),
    );

    const copied = await copyBig(UploadId as string, `bytes=${bigSize - MiB}-${bigSize - 1}`);

    expect(copied.CopyPartResult?.ETag).toBe(`"${md5Hex(Buffer.alloc(MiB))}"`);
  });
});

describe('CopyObject directives', () => {
  const sourceKey = 'directives/source.txt';
  const sourceTags = [
    { Key: 'owner', Value: 'alice' },
    { Key: 'scan', Value: 'pending' },
  ];

  beforeAll(async () => {
    await sdk.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: sourceKey,
        Body: 'directive source',
        ContentType: 'text/plain',
        Metadata: { origin: 'upload' },
        Tagging: 'owner=alice&scan=pending',
      }),
    );
  });

  async function tagsOf(key: string) {
    return (await sdk.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet;
  }

  it('keeps the source tags and metadata with COPY, ignoring the request values', async () => {
    const key = uniqueKey('copy-directive');

    await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: key,
        CopySource: copySource(BUCKET, sourceKey),
        TaggingDirective: 'COPY',
        Tagging: 'scan=clean',
        MetadataDirective: 'COPY',
        Metadata: { origin: 'copy' },
        ContentType: 'application/json',
      }),
    );

    expect(await tagsOf(key)).toEqual(sourceTags);
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect([head.ContentType, head.Metadata]).toEqual(['text/plain', { origin: 'upload' }]);
  });

  it('uses the request tags and metadata with REPLACE', async () => {
    const key = uniqueKey('replace-directive');

    await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: key,
        CopySource: copySource(BUCKET, sourceKey),
        TaggingDirective: 'REPLACE',
        Tagging: 'scan=clean',
        MetadataDirective: 'REPLACE',
        Metadata: { origin: 'copy' },
        ContentType: 'application/json',
      }),
    );

    expect(await tagsOf(key)).toEqual([{ Key: 'scan', Value: 'clean' }]);
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect([head.ContentType, head.Metadata]).toEqual(['application/json', { origin: 'copy' }]);
  });

  it('drops the tags with REPLACE and no x-amz-tagging, keeping the metadata', async () => {
    const key = uniqueKey('replace-empty');

    await sdk.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: key,
        CopySource: copySource(BUCKET, sourceKey),
        TaggingDirective: 'REPLACE',
      }),
    );

    expect(await tagsOf(key)).toEqual([]);
    expect((await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).Metadata).toEqual({
      origin: 'upload',
    });
  });

  it('rejects an unknown directive with InvalidArgument', async () => {
    await expectS3Error(
      sdk.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: uniqueKey('bad-directive'),
          CopySource: copySource(BUCKET, sourceKey),
          TaggingDirective: 'MOVE' as 'COPY',
        }),
      ),
      'InvalidArgument',
      400,
    );
  });
});
