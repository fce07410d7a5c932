/**
 * The server's bucket-policy denies, driven with the AWS SDK as the local principals use them: the scan-tag read
 * gate (GET, HEAD, presigned GET, copy and part-copy sources), the scan-tag write guard (PutObject, multipart
 * create, copy with REPLACE, PutObjectTagging) and a bucket only break-glass reads. Each is also shown off: the
 * same requests pass on a server started without a policy.
 */
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type S3Server, startS3Server } from '../support/s3-server/index';
import type { AccessPolicy } from '../support/s3-server/policy';
import { expectS3Error, s3Client, uniqueKey } from './helpers';

const KEYS = {
  api: { accessKeyId: 'api-key', secretAccessKey: 'api-secret' },
  scan: { accessKeyId: 'scan-key', secretAccessKey: 'scan-secret' },
  guardDuty: { accessKeyId: 'gd-key', secretAccessKey: 'gd-secret' },
  breakGlass: { accessKeyId: 'bg-key', secretAccessKey: 'bg-secret' },
};
const TAG = 'GuardDutyMalwareScanStatus';
const POLICY: AccessPolicy = {
  scanGate: {
    bucket: 'uploads',
    prefix: 'uploads/',
    tag: TAG,
    value: 'NO_THREATS_FOUND',
    exempt: [KEYS.scan.accessKeyId, KEYS.guardDuty.accessKeyId],
  },
  tagGuard: { bucket: 'uploads', tag: TAG, writers: [KEYS.guardDuty.accessKeyId] },
  lockedBuckets: [{ bucket: 'quarantine', readers: [KEYS.breakGlass.accessKeyId] }],
};

let gated: S3Server;
let open: S3Server;
const clients = (server: S3Server) =>
  Object.fromEntries(
    Object.entries(KEYS).map(([name, credentials]) => [
      name,
      s3Client(server, 'when-required', { credentials }),
    ]),
  ) as Record<keyof typeof KEYS, S3Client>;
let on: Record<keyof typeof KEYS, S3Client>;
let off: Record<keyof typeof KEYS, S3Client>;

beforeAll(async () => {
  const options = { buckets: ['uploads', 'quarantine'], credentials: Object.values(KEYS) };
  gated = await startS3Server({ ...options, policy: POLICY });
  open = await startS3Server(options);
  on = clients(gated);
  off = clients(open);
});
afterAll(async () => {
  await gated?.stop();
  await open?.stop();
});

/** An object under the gated prefix, tagged `status` by GuardDuty (untagged when undefined). */
async function scanned(c: Record<keyof typeof KEYS, S3Client>, status?: string): Promise<string> {
  const key = uniqueKey('uploads/u/obj');
  await c.api.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: 'bytes' }));
  if (status)
    await c.guardDuty.send(
      new PutObjectTaggingCommand({
        Bucket: 'uploads',
        Key: key,
        Tagging: { TagSet: [{ Key: TAG, Value: status }] },
      }),
    );
  return key;
}

describe('the scan-tag read gate (DenyReadsUntilScannedClean)', () => {
  it('denies GET, HEAD and a presigned GET of an unscanned or infected object; allows them once clean', async () => {
    for (const status of [undefined, 'THREATS_FOUND', 'UNSUPPORTED']) {
      const key = await scanned(on, status);
      await expectS3Error(
        on.api.send(new GetObjectCommand({ Bucket: 'uploads', Key: key })),
        'AccessDenied',
        403,
      );
      await expect(on.api.send(new HeadObjectCommand({ Bucket: 'uploads', Key: key }))).rejects.toMatchObject(
        {
          $metadata: { httpStatusCode: 403 },
        },
      );
      const url = await getSignedUrl(on.api, new GetObjectCommand({ Bucket: 'uploads', Key: key }));
      expect((await fetch(url)).status).toBe(403);
      // Listing is not a read of the object: the API finds objects this way before the scan.
      const listed = await on.api.send(new ListObjectsV2Command({ Bucket: 'uploads', Prefix: key }));
      expect(listed.KeyCount).toBe(1);
    }
    const clean = await scanned(on, 'NO_THREATS_FOUND');
    const url = await getSignedUrl(on.api, new GetObjectCommand({ Bucket: 'uploads', Key: clean }));
    expect(await (await fetch(url)).text()).toBe('bytes');
  });

  it('exempts GuardDuty and the scan pipeline, and copies (CopyObject, UploadPartCopy) are reads of the source', async () => {
    const infected = await scanned(on, 'THREATS_FOUND');
    const body = await on.scan.send(new GetObjectCommand({ Bucket: 'uploads', Key: infected }));
    expect(await body.Body?.transformToString()).toBe('bytes');
    await on.guardDuty.send(new HeadObjectCommand({ Bucket: 'uploads', Key: infected }));

    const copy = (client: S3Client) =>
      client.send(
        new CopyObjectCommand({ Bucket: 'quarantine', Key: infected, CopySource: `uploads/${infected}` }),
      );
    await expectS3Error(copy(on.api), 'AccessDenied', 403);
    await copy(on.scan);
    const { UploadId } = await on.api.send(
      new CreateMultipartUploadCommand({ Bucket: 'uploads', Key: 'x/big' }),
    );
    await expectS3Error(
      on.api.send(
        new UploadPartCopyCommand({
          Bucket: 'uploads',
          Key: 'x/big',
          UploadId,
          PartNumber: 1,
          CopySource: `uploads/${infected}`,
        }),
      ),
      'AccessDenied',
      403,
    );
  });

  it('gates only the configured prefix and bucket', async () => {
    const key = uniqueKey('elsewhere/obj');
    await on.api.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: 'x' }));
    await on.api.send(new GetObjectCommand({ Bucket: 'uploads', Key: key }));
  });
});

describe('the scan-tag write guard (DenyScanStatusTagExceptGuardDuty)', () => {
  it('lets only GuardDuty set the scan tag, however it is sent', async () => {
    const key = uniqueKey('uploads/u/tagged');
    const tagging = `${TAG}=NO_THREATS_FOUND`;
    await expectS3Error(
      on.api.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: 'x', Tagging: tagging })),
      'AccessDenied',
      403,
    );
    await expectS3Error(
      on.api.send(new CreateMultipartUploadCommand({ Bucket: 'uploads', Key: key, Tagging: tagging })),
      'AccessDenied',
      403,
    );
    await on.api.send(new PutObjectCommand({ Bucket: 'uploads', Key: key, Body: 'x', Tagging: 'other=1' }));
    await expectS3Error(
      on.api.send(
        new PutObjectTaggingCommand({
          Bucket: 'uploads',
          Key: key,
          Tagging: { TagSet: [{ Key: TAG, Value: 'NO_THREATS_FOUND' }] },
        }),
      ),
      'AccessDenied',
      403,
    );
    await expectS3Error(
      on.api.send(
        new CopyObjectCommand({
          Bucket: 'uploads',
          Key: `${key}-copy`,
          CopySource: `uploads/${key}`,
          TaggingDirective: 'REPLACE',
          Tagging: tagging,
        }),
      ),
      'AccessDenied',
      403,
    );
    await on.guardDuty.send(
      new PutObjectTaggingCommand({
        Bucket: 'uploads',
        Key: key,
        Tagging: { TagSet: [{ Key: TAG, Value: 'NO_THREATS_FOUND' }] },
      }),
    );
  });
});

describe('a locked bucket (DenyReadsExceptBreakGlass)', () => {
  it('is readable, tags included, by break-glass only', async () => {
    const key = uniqueKey('q/obj');
    await on.scan.send(new PutObjectCommand({ Bucket: 'quarantine', Key: key, Body: 'held' }));
    for (const client of [on.api, on.scan, on.guardDuty]) {
      await expectS3Error(
        client.send(new GetObjectCommand({ Bucket: 'quarantine', Key: key })),
        'AccessDenied',
        403,
      );
      await expectS3Error(
        client.send(new GetObjectTaggingCommand({ Bucket: 'quarantine', Key: key })),
        'AccessDenied',
        403,
      );
    }
    const read = await on.breakGlass.send(new GetObjectCommand({ Bucket: 'quarantine', Key: key }));
    expect(await read.Body?.transformToString()).toBe('held');
  });
});

describe('without a policy', () => {
  it('the same reads and writes pass (what the gate, the guard and the lock take away)', async () => {
    const key = await scanned(off, 'THREATS_FOUND');
    await off.api.send(new GetObjectCommand({ Bucket: 'uploads', Key: key }));
    await off.api.send(
      new PutObjectTaggingCommand({
        Bucket: 'uploads',
        Key: key,
        Tagging: { TagSet: [{ Key: TAG, Value: 'NO_THREATS_FOUND' }] },
      }),
    );
    await off.api.send(
      new CopyObjectCommand({ Bucket: 'quarantine', Key: key, CopySource: `uploads/${key}` }),
    );
    await off.api.send(new GetObjectCommand({ Bucket: 'quarantine', Key: key }));
  });
});
