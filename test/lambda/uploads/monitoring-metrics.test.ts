/**
 * The metrics the upload alarms read, emitted by the real handlers: the stage-wide upload outcomes
 * (`flow = uploads`, one EMF document each, whichever function records them), the scan latency at the verdict,
 * and the sweep's count of scans overdue past the stage's scan timeout.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

// Metrics are on in this file (they are off in every other): the assertions read the EMF documents.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

const { scanTimeoutSeconds } = await import('../../../contract/api/uploads');
const { expireStaleUploads } = await import('../../../lambda/uploads/expire-uploads');
const { metrics } = await import('../../../lambda/shared/powertools');
const { startUploadEnvironment } = await import('../../support/uploads');
const { caller, pdfBytes, settled, upload } = await import('./api');

type Env = Awaited<ReturnType<typeof startUploadEnvironment>>;
let env: Env;
const emf: Array<Record<string, unknown>> = [];
const recorded: Array<[string, string, number]> = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * 1024 * 1024 });
  process.stdout.write = ((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.includes('"_aws"')) emf.push(JSON.parse(line));
    return true;
  }) as typeof process.stdout.write;
  jest.spyOn(metrics, 'addMetric').mockImplementation(function (this: unknown, name, unit, value) {
    recorded.push([name, String(unit), value]);
    return undefined as never;
  });
}, 60_000);
afterAll(async () => {
  process.stdout.write = write;
  jest.restoreAllMocks();
  await env?.stop();
});

const flowLines = (name: string) =>
  emf.filter((d) => d.flow === 'uploads' && typeof d[name] === 'number' && d.service === undefined);

describe('upload metrics', () => {
  it('records creation and completion stage-wide (flow=uploads), and the scan latency at the verdict', async () => {
    const alice = caller(env, await env.token('user', 'metrics-alice'));
    const { created } = await upload(alice, pdfBytes(9 * 1024 * 1024, 5));
    expect((await settled(env, alice, created.id)).body.state).toBe('clean');
    expect(flowLines('UploadsCreated')).toHaveLength(1);
    expect(flowLines('UploadsCompleted')).toHaveLength(1);
    expect(flowLines('BytesUploaded')[0]?.BytesUploaded).toBe(9 * 1024 * 1024);
    const [doc] = flowLines('UploadsCompleted') as [{ _aws: { CloudWatchMetrics: unknown[] } }];
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Citadel', Dimensions: [['flow']] });
    const latency = recorded.filter(([name]) => name === 'ScanLatency');
    expect(latency).toHaveLength(1);
    expect(latency[0]?.[1]).toBe('Milliseconds');
    expect(latency[0]?.[2]).toBeGreaterThanOrEqual(0);
  });

  it('counts a failed upload stage-wide, and the sweep counts scans overdue past the scan timeout', async () => {
    const alice = caller(env, await env.token('user', 'metrics-bob'));
    const stale = await alice<{ id: string }>('POST', '/v1/uploads', {
      filename: 'never.pdf',
      size: 9 * 1024 * 1024,
      contentType: 'application/pdf',
    });
    await env.sql("UPDATE citadel.files SET created_at = now() - interval '26 hours' WHERE id = $1", [
      stale.body.id,
    ]);
    const { created } = await upload(alice, pdfBytes(9 * 1024 * 1024, 6));
    await settled(env, alice, created.id);
    // A completed file still waiting for its verdict, past the timeout (and one just inside it).
    const timeout = scanTimeoutSeconds(64 * 1024 * 1024);
    await env.sql(
      `UPDATE citadel.files SET state = 'scanning', completed_at = now() - make_interval(secs => $2) WHERE id = $1`,
      [created.id, timeout + 60],
    );
    const before = flowLines('UploadsFailed').length;
    const result = await expireStaleUploads(new Date());
    expect(result.expired).toContain(stale.body.id);
    expect(result.scansOverdue).toBe(1);
    expect(flowLines('UploadsFailed')).toHaveLength(before + 1);
    expect(recorded).toContainEqual(['ScansOverdue', 'Count', 1]);
    await env.sql('UPDATE citadel.files SET completed_at = now() - make_interval(secs => $2) WHERE id = $1', [
      created.id,
      timeout - 60,
    ]);
    expect((await expireStaleUploads(new Date())).scansOverdue).toBe(0);
  });
});
