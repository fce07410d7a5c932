/**
 * Server lifecycle: data persisted in an explicit `dataDir` survives a restart (objects and in-progress uploads),
 * `stop()` removes a data dir it created, and the CLI prints its endpoint and exits cleanly on SIGTERM.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import { readAll, s3Client } from './helpers';

const BUCKET = 'lifecycle-bucket';
let dataDir: string;
let server: S3Server;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 's3-lifecycle-'));
  server = await startS3Server({ dataDir, buckets: [BUCKET] });
});

afterAll(async () => {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('persistence', () => {
  it('serves objects and resumes multipart uploads after a restart on the same dataDir', async () => {
    let client = s3Client(server, 'default');
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'kept.txt', Body: 'still here', Tagging: 'a=b' }),
    );
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'resumed.bin' }),
    );
    const one = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'resumed.bin',
        UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(5 * 1024 * 1024, 1),
      }),
    );
    client.destroy();
    await server.stop();
    await expect(access(dataDir)).resolves.toBeUndefined();

    server = await startS3Server({ dataDir, buckets: [BUCKET] });
    client = s3Client(server, 'default');
    const kept = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kept.txt' }));
    expect((await readAll(kept.Body as AsyncIterable<Uint8Array>)).toString()).toBe('still here');
    expect(
      (await client.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'kept.txt' }))).TagSet,
    ).toEqual([{ Key: 'a', Value: 'b' }]);
    expect(server.multipartUploads(BUCKET)).toEqual([
      { bucket: BUCKET, key: 'resumed.bin', uploadId: UploadId, parts: 1 },
    ]);
    const listed = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'resumed.bin', UploadId }));
    expect(listed.Parts?.map((p) => p.ETag)).toEqual([one.ETag]);
    const two = await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: 'resumed.bin', UploadId, PartNumber: 2, Body: 'tail' }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'resumed.bin',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: one.ETag },
            { PartNumber: 2, ETag: two.ETag },
          ],
        },
      }),
    );
    const resumed = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'resumed.bin' }));
    expect((await readAll(resumed.Body as AsyncIterable<Uint8Array>)).length).toBe(5 * 1024 * 1024 + 4);
    client.destroy();
  });
});

describe('stop()', () => {
  it('closes keep-alive connections and removes the data dir it created', async () => {
    const temporary = await startS3Server({ buckets: ['throwaway'] });
    const client = s3Client(temporary, 'default');
    await client.send(new HeadBucketCommand({ Bucket: 'throwaway' }));
    await temporary.stop();
    await expect(access(temporary.dataDir)).rejects.toThrow();
    await expect(client.send(new HeadBucketCommand({ Bucket: 'throwaway' }))).rejects.toThrow();
    client.destroy();
  });
});

describe('CLI', () => {
  it('prints the endpoint, serves its buckets, and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/support/s3-server/cli.ts',
        '--port',
        '0',
        '--bucket',
        'cli-a',
        '--bucket',
        'cli-b',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      expect(line).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = s3Client({ endpoint: line, region: 'us-east-1' }, 'default');
      await expect(client.send(new HeadBucketCommand({ Bucket: 'cli-b' }))).resolves.toBeDefined();
      client.destroy();
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
