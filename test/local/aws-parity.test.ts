/**
 * Locally, the same rules as in AWS: objects not scanned clean (and anything in quarantine) cannot be read with
 * the local keys a developer has, as the bucket policies deny them; GuardDuty's simulator finds EICAR inside ZIP
 * archives; and the scheduled jobs run on a timer with the Api stack's own intervals, so abandoned uploads end.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { strToU8, zipSync } from 'fflate';
import { ARCHIVE_LIMITS, containsEicar, EICAR } from '../../local/guardduty-simulator';
import { LOCAL_JOBS, type LocalJob, startLocalJobs } from '../../local/jobs';
import {
  LOCAL_PRINCIPALS,
  LOCAL_QUARANTINE_BUCKET,
  LOCAL_S3_POLICY,
  LOCAL_UPLOADS_BUCKET,
} from '../../local/uploads';
import { type Call, caller, settled, upload } from '../lambda/uploads/api';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { stageTemplates } from '../support/wiring/stages';

let env: UploadEnvironment;
let alice: Call;
let developer: S3Client;
let templates: ReturnType<typeof stageTemplates>['templates'];

beforeAll(async () => {
  // Synthesized first: synthesis holds the event loop for seconds, which would stale the servers' keep-alive sockets.
  templates = stageTemplates('dev').templates;
  env = await startUploadEnvironment();
  alice = caller(env, await env.token('user', 'alice'));
  developer = new S3Client({
    endpoint: env.s3Server.endpoint,
    region: env.s3Server.region,
    forcePathStyle: true,
    credentials: LOCAL_PRINCIPALS.api,
  });
}, 60_000);
afterAll(async () => {
  developer?.destroy();
  await env?.stop();
});

const readAs = async (client: S3Client, bucket: string, key: string) => {
  try {
    await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();
    return 'read';
  } catch (error) {
    return (error as { name?: string }).name;
  }
};

/** A ZIP holding `files`; `nested` wraps it in `depth` more ZIPs; deflated or stored. */
const zip = (files: Record<string, string | Uint8Array>, level: 0 | 6 = 6) =>
  zipSync(
    Object.fromEntries(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? strToU8(v) : v])),
    { level },
  );

describe('the scan-tag read gate, locally', () => {
  it('keeps unscanned and quarantined objects unreadable with the local keys, and a clean one readable', async () => {
    env.uploads.pause(); // hold GuardDuty: the object exists, unscanned
    const pending = await upload(alice, Buffer.from('%PDF-1.7\nunscanned'), { filename: 'u.pdf' });
    const key = pending.created.key;
    expect(await readAs(developer, LOCAL_UPLOADS_BUCKET, key)).toBe('AccessDenied');
    const url = await getSignedUrl(
      developer,
      new GetObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: key }),
    );
    expect((await fetch(url)).status).toBe(403);
    env.uploads.resume();
    expect((await settled(env, alice, pending.created.id)).body.state).toBe('clean');
    expect(await readAs(developer, LOCAL_UPLOADS_BUCKET, key)).toBe('read');

    const infected = await upload(alice, Buffer.from(`${EICAR}\n`), {
      filename: 'eicar.com',
      contentType: 'application/octet-stream',
    });
    expect((await settled(env, alice, infected.created.id)).body.state).toBe('infected');
    expect(await readAs(developer, LOCAL_QUARANTINE_BUCKET, infected.created.key)).toBe('AccessDenied');
    expect(await readAs(env.uploads.s3, LOCAL_QUARANTINE_BUCKET, infected.created.key)).toBe('read');
    expect(env.scanErrors).toEqual([]);
  });

  it('is the bucket policy of the storage stack, principal for principal', () => {
    const storage = Object.entries(templates).find(([n]) => n.endsWith('-Storage'))?.[1];
    const statements = Object.values(storage?.Resources ?? {})
      .filter((r) => r.Type === 'AWS::S3::BucketPolicy')
      .flatMap(
        (r) =>
          (r.Properties as { PolicyDocument: { Statement: Array<{ Sid?: string }> } }).PolicyDocument
            .Statement,
      );
    const sids = statements.map((s) => s.Sid);
    // The three denies the local policy reproduces exist in the deployed templates under these names.
    expect(sids).toEqual(
      expect.arrayContaining([
        'DenyReadsUntilScannedClean',
        'DenyScanStatusTagExceptGuardDuty',
        'DenyReadsExceptBreakGlass',
      ]),
    );
    const gate = statements.find((s) => s.Sid === 'DenyReadsUntilScannedClean') as unknown as {
      Condition: Record<string, Record<string, unknown>>;
    };
    expect(gate.Condition.StringNotEquals).toEqual({
      [`s3:ExistingObjectTag/${LOCAL_S3_POLICY.scanGate?.tag}`]: LOCAL_S3_POLICY.scanGate?.value,
    });
    // Two principals are exempt in AWS (GuardDuty, the scan role); locally break-glass inspects as well.
    expect(
      (gate.Condition.ArnNotEquals as { 'aws:PrincipalArn': unknown[] })['aws:PrincipalArn'],
    ).toHaveLength(2);
    expect(LOCAL_S3_POLICY.scanGate?.exempt).not.toContain(LOCAL_PRINCIPALS.api.accessKeyId);
  });
});

describe('the GuardDuty simulator and archives', () => {
  it('finds EICAR inside a ZIP (stored, deflated, nested), and not in a clean one', () => {
    expect(containsEicar(zip({ 'readme.txt': 'hello', 'eicar.com': EICAR }, 0))).toBe(true);
    expect(containsEicar(zip({ 'eicar.com': EICAR }, 6))).toBe(true);
    const nested = zip({ 'inner.zip': zip({ 'deeper.zip': zip({ 'x/eicar.com': EICAR }) }) });
    expect(containsEicar(nested)).toBe(true);
    expect(containsEicar(zip({ 'a.txt': 'clean', 'b.bin': new Uint8Array(5000) }))).toBe(false);
    // Deflated, the string is not in the archive's bytes: only opening it finds it.
    expect(Buffer.from(zip({ 'eicar.com': EICAR }, 6)).includes(EICAR)).toBe(false);
  });

  it('opens archives only so deep (a bomb of nesting is not followed past the limit)', () => {
    let archive: Uint8Array = strToU8(EICAR);
    for (let i = 0; i < ARCHIVE_LIMITS.depth + 1; i++) archive = zip({ [`level${i}`]: archive });
    expect(containsEicar(archive)).toBe(false);
    let shallow: Uint8Array = strToU8(EICAR);
    for (let i = 0; i < ARCHIVE_LIMITS.depth; i++) shallow = zip({ [`level${i}`]: shallow });
    expect(containsEicar(shallow)).toBe(true);
  });

  it('quarantines an uploaded ZIP with EICAR inside, end to end', async () => {
    const bytes = Buffer.from(zip({ 'docs/report.txt': 'fine', 'docs/eicar.com': EICAR }));
    const { created } = await upload(alice, bytes, { filename: 'docs.zip', contentType: 'application/zip' });
    expect((await settled(env, alice, created.id)).body.state).toBe('infected');
    expect(env.uploads.guardDuty.scanned).toContainEqual({ key: created.key, result: 'THREATS_FOUND' });
  });
});

describe('the scheduled jobs, locally', () => {
  it('run every job at the interval of its EventBridge schedule in the Api stack', () => {
    const api = Object.entries(templates).find(([n]) => n.endsWith('-Api'))?.[1];
    const resources = Object.entries(api?.Resources ?? {});
    for (const job of LOCAL_JOBS) {
      const [fnId] = resources.find(
        ([, r]) =>
          r.Type === 'AWS::Lambda::Function' &&
          (r.Properties as { Environment?: { Variables?: Record<string, string> } }).Environment?.Variables
            ?.POWERTOOLS_SERVICE_NAME === job.serviceName,
      ) ?? [undefined];
      expect({ job: job.serviceName, found: fnId !== undefined }).toEqual({
        job: job.serviceName,
        found: true,
      });
      const rule = resources.find(
        ([, r]) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties).includes(`"${fnId}"`),
      )?.[1] as { Properties: { ScheduleExpression: string } } | undefined;
      const [, n, unit] = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(
        rule?.Properties.ScheduleExpression ?? '',
      ) ?? [undefined, '0', 'minutes'];
      expect({ job: job.serviceName, everyMs: job.everyMs }).toEqual({
        job: job.serviceName,
        everyMs: Number(n) * (unit?.startsWith('hour') ? 3_600_000 : 60_000),
      });
    }
  });

  it('ends an abandoned upload `failed` on the timer, as the hourly job does in AWS', async () => {
    const { body: created } = await alice<{ id: string }>('POST', '/v1/uploads', {
      filename: 'half.pdf',
      size: 100,
      contentType: 'application/pdf',
    });
    // Created two days ago and never completed: past its lifetime and the grace hour.
    await env.sql(`UPDATE citadel.files SET created_at = now() - interval '2 days' WHERE id = $1`, [
      created.id,
    ]);
    const results: unknown[] = [];
    const uploadsJob = LOCAL_JOBS.find((j) => j.serviceName === 'citadel-expire-uploads') as LocalJob;
    const jobs = startLocalJobs({
      jobs: [{ ...uploadsJob, everyMs: 50 }],
      onResult: (_, r) => results.push(r),
      onError: (_, e) => results.push(e),
    });
    try {
      const deadline = Date.now() + 10_000;
      while ((await alice<{ state: string }>('GET', `/v1/files/${created.id}`)).body.state === 'uploading') {
        if (Date.now() > deadline) throw new Error('the job never ran');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await jobs.stop();
    }
    const file = await alice<{ state: string; failureReason: string }>('GET', `/v1/files/${created.id}`);
    expect(file.body).toMatchObject({ state: 'failed', failureReason: 'not completed within 1 day(s)' });
    expect(results[0]).toMatchObject({ expired: expect.arrayContaining([created.id]) });
  });
});
