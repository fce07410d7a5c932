/**
 * Verdicts, quarantine and what may be read afterwards: the simulated GuardDuty scan feeds the real scan
 * pipeline; downloads, listings and deletes go through the real handlers.
 */
import { GetObjectCommand, GetObjectTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCAN_RESULT_DETAIL_TYPE } from '../../../contract/scan';
import type { ScanResultEvent } from '../../../lambda/scan/event';
import { handler as scanHandler } from '../../../lambda/scan/handler';
import { processScanResult } from '../../../lambda/scan/pipeline';
import { quarantine } from '../../../lambda/scan/quarantine';
import { EICAR } from '../../../local/guardduty-simulator';
import { lambdaContext } from '../../support/lambda';
import {
  LOCAL_QUARANTINE_BUCKET,
  LOCAL_UPLOADS_BUCKET,
  startUploadEnvironment,
  type UploadEnvironment,
} from '../../support/uploads';
import {
  auditCount,
  type Call,
  type Created,
  caller,
  download,
  keysIn,
  pdfBytes,
  settled,
  sha256,
  upload,
} from './api';

/** Bytes that make the simulated GuardDuty answer UNSUPPORTED (as for a password-protected archive). */
const UNSCANNABLE = 'CITADEL-TEST-UNSCANNABLE';
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(200, 0),
]);
const WINDOWS_EXE = Buffer.concat([
  Buffer.from('MZ'),
  Buffer.alloc(0x3a),
  Buffer.from([0x80, 0, 0, 0]),
  Buffer.alloc(0x40),
  Buffer.from('PE\0\0'),
  Buffer.alloc(300),
]);

let env: UploadEnvironment;
let alice: Call;
let bob: Call;
let manager: Call;
let admin: Call;

beforeAll(async () => {
  env = await startUploadEnvironment({
    verdict: (_object, bytes) => (bytes.includes(UNSCANNABLE) ? 'UNSUPPORTED' : undefined),
  });
  alice = caller(env, await env.token('user', 'alice'));
  bob = caller(env, await env.token('user', 'bob'));
  manager = caller(env, await env.token('manager', 'mona'));
  admin = caller(env, await env.token('admin', 'ada'));
}, 60_000);
afterAll(async () => env?.stop());

const row = async (id: string) =>
  (
    await env.sql<{
      state: string;
      detected_type: string | null;
      failure_reason: string | null;
      scan_status: string | null;
    }>('SELECT state, detected_type, failure_reason, scan_status FROM citadel.files WHERE id = $1', [id])
  )[0];

const uploaded = async (call: Call, bytes: Buffer, declared: Parameters<typeof upload>[2] = {}) => {
  const { created, done } = await upload(call, bytes, declared);
  expect(done.status).toBe(200);
  const file = await settled(env, call, created.id);
  return { ...created, state: file.body.state };
};

describe('verdicts', () => {
  it('quarantines malware (EICAR): gone from uploads, tagged in quarantine, never downloadable', async () => {
    const bytes = Buffer.from(`${EICAR}\n`);
    const file = await uploaded(alice, bytes, {
      filename: 'eicar.com',
      contentType: 'application/octet-stream',
    });
    expect(file.state).toBe('infected');
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, file.key)).toEqual([]);
    expect(await keysIn(env, LOCAL_QUARANTINE_BUCKET, file.key)).toEqual([file.key]);
    const tags = await env.uploads.s3.send(
      new GetObjectTaggingCommand({ Bucket: LOCAL_QUARANTINE_BUCKET, Key: file.key }),
    );
    expect(tags.TagSet).toContainEqual({ Key: 'GuardDutyMalwareScanStatus', Value: 'THREATS_FOUND' });
    expect(await row(file.id)).toMatchObject({
      scan_status: 'THREATS_FOUND',
      failure_reason: expect.stringContaining('EICAR'),
    });

    const link = await alice('GET', `/v1/files/${file.id}/download`);
    expect(link.status).toBe(409);
    expect(link.body.detail).toContain('malware scan found a threat');
    expect(link.headers.get('content-type')).toBe('application/problem+json');
  });

  it('accepts content whose signature is the declared type, and records the detected type', async () => {
    const file = await uploaded(alice, PNG, { filename: 'pixel.png', contentType: 'image/png' });
    expect(file.state).toBe('clean');
    expect(await row(file.id)).toMatchObject({ detected_type: 'image/png', scan_status: 'NO_THREATS_FOUND' });
    expect((await download(alice, file.id)).bytes.equals(PNG)).toBe(true);
  });

  it('rejects and quarantines content that is not the declared type', async () => {
    const file = await uploaded(alice, PNG, { filename: 'photo.jpg', contentType: 'image/jpeg' });
    expect(file.state).toBe('rejected');
    expect(await row(file.id)).toMatchObject({
      detected_type: 'image/png',
      failure_reason: 'declared image/jpeg, but the content is image/png',
    });
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, file.key)).toEqual([]);
    expect(await keysIn(env, LOCAL_QUARANTINE_BUCKET, file.key)).toEqual([file.key]);
    expect((await alice('GET', `/v1/files/${file.id}/download`)).status).toBe(409);
  });

  it('never accepts an executable, even declared as generic binary', async () => {
    const file = await uploaded(alice, WINDOWS_EXE, {
      filename: 'setup.bin',
      contentType: 'application/octet-stream',
    });
    expect(file.state).toBe('rejected');
    expect((await row(file.id))?.failure_reason).toContain('executable content');
  });

  it('moves objects too large for one CopyObject into quarantine by ranged multipart copy, byte for byte', async () => {
    const bytes = pdfBytes(11 * 1024 * 1024 + 17, 12);
    const key = `uploads/alice/${'0'.repeat(8)}-0000-4000-8000-${'1'.repeat(12)}`;
    await env.uploads.s3.send(new PutObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: key, Body: bytes }));
    // The same path a > 5 GiB object takes, at a scale the test can afford: 5 MiB ranges.
    await quarantine(key, bytes.length, undefined, { single: 1024 * 1024, part: 5 * 1024 * 1024 });
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, key)).toEqual([]);
    const copy = await env.uploads.s3.send(
      new GetObjectCommand({ Bucket: LOCAL_QUARANTINE_BUCKET, Key: key }),
    );
    expect(
      sha256(
        Buffer.from(
          await (copy.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      ),
    ).toBe(sha256(bytes));
    expect(copy.ETag).toMatch(/-3"$/);
    await env.uploads.idle();
  });

  it('holds what GuardDuty could not scan: scan_failed, left in place unreadable', async () => {
    const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from(UNSCANNABLE)]);
    const file = await uploaded(alice, bytes);
    expect(file.state).toBe('scan_failed');
    expect(await row(file.id)).toMatchObject({ scan_status: 'UNSUPPORTED' });
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, file.key)).toEqual([file.key]);
    const link = await alice('GET', `/v1/files/${file.id}/download`);
    expect(link.status).toBe(409);
    expect(link.body.detail).toContain('could not complete');
  });

  it('checks a declared SHA-256 against the whole object', async () => {
    const bytes = pdfBytes(300_000, 21);
    const good = await uploaded(alice, bytes, { sha256: sha256(bytes) });
    expect(good.state).toBe('clean');
    const bad = await uploaded(alice, bytes, { sha256: sha256(Buffer.from('something else')) });
    expect(bad.state).toBe('rejected');
    expect((await row(bad.id))?.failure_reason).toBe('content does not match the declared SHA-256');
  });

  it('gives each file one verdict: a replayed event changes nothing', async () => {
    const file = await uploaded(alice, pdfBytes(5000, 8));
    expect(file.state).toBe('clean');
    const before = await env.sql('SELECT * FROM citadel.audit_events WHERE target = $1 ORDER BY id', [
      `file:${file.id}`,
    ]);
    const replay = scanEvent(LOCAL_UPLOADS_BUCKET, file.key, 'THREATS_FOUND');
    expect(await processScanResult(replay)).toBe('ignored');
    expect((await row(file.id))?.state).toBe('clean');
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, file.key)).toEqual([file.key]);
    const after = await env.sql('SELECT * FROM citadel.audit_events WHERE target = $1 ORDER BY id', [
      `file:${file.id}`,
    ]);
    expect(after).toEqual(before);
  });

  it("a verdict that beats S3's Object Created event records the completion once, then the verdict", async () => {
    const bytes = pdfBytes(3000, 21);
    const created = (
      await alice<Created>('POST', '/v1/uploads', {
        filename: 'early.pdf',
        size: bytes.length,
        contentType: 'application/pdf',
      })
    ).body;
    env.uploads.pause(); // S3's event and the simulated scan are held, as a slow event bus would
    try {
      // The object arrives as a browser completing at S3 would leave it.
      await env.uploads.s3.send(
        new PutObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: created.key, Body: bytes }),
      );
      expect((await row(created.id))?.state).toBe('uploading');
      expect(await processScanResult(scanEvent(LOCAL_UPLOADS_BUCKET, created.key, 'NO_THREATS_FOUND'))).toBe(
        'clean',
      );
    } finally {
      env.uploads.resume();
    }
    await env.uploads.idle(); // the held Object Created event and scan now arrive late: no-ops
    expect((await row(created.id))?.state).toBe('clean');
    expect(await auditCount(env, `file:${created.id}`, 'upload.complete')).toBe(1);
    expect(await auditCount(env, `file:${created.id}`, 'file.scan')).toBe(1);
    expect((await download(alice, created.id)).bytes).toEqual(bytes);
  });

  it('deletes an object that arrives for an aborted upload (a browser completing as it was aborted)', async () => {
    const bytes = pdfBytes(2000, 22);
    const created = (
      await alice<Created>('POST', '/v1/uploads', {
        filename: 'late.pdf',
        size: bytes.length,
        contentType: 'application/pdf',
      })
    ).body;
    expect((await alice('DELETE', `/v1/uploads/${created.id}`)).status).toBe(204);
    await env.uploads.s3.send(
      new PutObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: created.key, Body: bytes }),
    );
    await env.uploads.idle();
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, created.key)).toEqual([]);
    expect((await row(created.id))?.state).toBe('aborted');
  });

  it('ignores objects no upload created and other buckets; refuses unknown event shapes loudly', async () => {
    expect(
      await processScanResult(scanEvent(LOCAL_UPLOADS_BUCKET, 'uploads/nobody/x', 'NO_THREATS_FOUND')),
    ).toBe('ignored');
    expect(await processScanResult(scanEvent('someone-elses-bucket', 'uploads/a/b', 'THREATS_FOUND'))).toBe(
      'ignored',
    );
    await expect(
      scanHandler({ 'detail-type': 'Object Created', detail: {} }, lambdaContext()),
    ).rejects.toThrow('unrecognised scan-result event');
  });

  it('downloads nothing while the scan is running', async () => {
    env.uploads.pause();
    try {
      const { created, done } = await upload(alice, pdfBytes(1000, 30));
      expect(done.body.state).toBe('scanning');
      const link = await alice('GET', `/v1/files/${created.id}/download`);
      expect(link.status).toBe(409);
      expect(link.body.detail).toContain('have not finished');
    } finally {
      env.uploads.resume();
    }
    await env.uploads.idle();
  });
});

describe('reading, listing and deleting files', () => {
  it("lets managers and admins read anyone's file, and hides it from other users", async () => {
    const file = await uploaded(alice, pdfBytes(2000, 50));
    expect((await bob('GET', `/v1/files/${file.id}/download`)).status).toBe(404);
    expect((await manager('GET', `/v1/files/${file.id}/download`)).status).toBe(200);
    expect((await admin('GET', `/v1/files/${file.id}`)).status).toBe(200);
  });

  it("lists one's own files newest first, pages without gaps, and lets only managers list others'", async () => {
    const carol = caller(env, await env.token('user', 'carol'));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await uploaded(carol, pdfBytes(100 + i, 60 + i))).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        status: number;
        body: { items: Array<{ id: string; ownerId: string }>; nextCursor: string | null };
      } = await carol('GET', `/v1/files?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.every((f) => f.ownerId === 'carol')).toBe(true);
      seen.push(...page.body.items.map((f) => f.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    expect((await bob('GET', '/v1/files?owner=carol')).status).toBe(403);
    const managed = await manager<{ items: Array<{ ownerId: string }> }>(
      'GET',
      '/v1/files?owner=carol&limit=100',
    );
    expect(managed.body.items).toHaveLength(7);
    const everyone = await manager<{ items: Array<{ ownerId: string }> }>('GET', '/v1/files?limit=100');
    expect(new Set(everyone.body.items.map((f) => f.ownerId))).toEqual(new Set(['alice', 'carol']));
  });

  it('deletes for the owner and admins only; the object goes, the row stays as deleted', async () => {
    const file = await uploaded(alice, pdfBytes(3000, 70));
    expect((await bob('DELETE', `/v1/files/${file.id}`)).status).toBe(404);
    // A manager can read the file, so is told it is not theirs to delete (403), not that it is missing.
    expect((await manager('DELETE', `/v1/files/${file.id}`)).status).toBe(403);
    expect((await alice('DELETE', `/v1/files/${file.id}`)).status).toBe(204);
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, file.key)).toEqual([]);
    expect((await alice('GET', `/v1/files/${file.id}`)).status).toBe(404);
    expect((await alice('DELETE', `/v1/files/${file.id}`)).status).toBe(404);
    expect((await row(file.id))?.state).toBe('deleted');

    const other = await uploaded(alice, pdfBytes(3000, 71));
    expect((await admin('DELETE', `/v1/files/${other.id}`)).status).toBe(204);
    expect(await keysIn(env, LOCAL_UPLOADS_BUCKET, other.key)).toEqual([]);
    const audit = await env.sql<{ actor_id: string; details: { owner: string } }>(
      "SELECT actor_id, details FROM citadel.audit_events WHERE target = $1 AND action = 'file.delete' AND outcome = 'success'",
      [`file:${other.id}`],
    );
    expect(audit).toEqual([
      { actor_id: 'ada', details: expect.objectContaining({ owner: 'alice', previousState: 'clean' }) },
    ]);
  });

  it('deleting an upload in progress aborts it in S3', async () => {
    const created = await alice<{ id: string; uploadId: string }>('POST', '/v1/uploads', {
      filename: 'big.pdf',
      size: 10_000_000,
      contentType: 'application/pdf',
    });
    expect((await alice('DELETE', `/v1/files/${created.body.id}`)).status).toBe(204);
    expect(
      env.s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).some((u) => u.uploadId === created.body.uploadId),
    ).toBe(false);
  });
});

function scanEvent(
  bucket: string,
  key: string,
  result: 'NO_THREATS_FOUND' | 'THREATS_FOUND',
): ScanResultEvent {
  return {
    id: 'replayed-event',
    'detail-type': SCAN_RESULT_DETAIL_TYPE,
    source: 'aws.guardduty',
    detail: {
      scanStatus: 'COMPLETED',
      resourceType: 'S3_OBJECT',
      s3ObjectDetails: { bucketName: bucket, objectKey: key },
      scanResultDetails: { scanResultStatus: result, threats: [] },
    },
  };
}
