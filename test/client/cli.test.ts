/**
 * The `citadel` CLI as users run it: a separate `node --import tsx client/cli.ts` process against the real
 * local stack (API handlers, PostgreSQL, the S3 server and the simulated scan).
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  createProgressPrinter,
  formatEta,
  RateMeter,
  renderProgress,
  renderProgressLine,
} from '../../client/cli';
import { CitadelClient } from '../../client/client';
import type { UploadProgress } from '../../client/upload';
import { EICAR } from '../../local/guardduty-simulator';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { finished, MiB, ROOT, randomFile, runCli, sha256Of, startCli, until } from './support';

let env: UploadEnvironment;
let dir: string;
let token: string;
let cliEnv: Record<string, string>;
let client: CitadelClient;

const UUID = /^[0-9a-f-]{36}$/;
const pdfHead = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-cli-'));
  token = await env.token('user', 'carol');
  cliEnv = { CITADEL_API_URL: env.url, CITADEL_TOKEN: token };
  client = new CitadelClient({ baseUrl: env.url, token });
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('citadel upload', () => {
  it('uploads with --json, and status, ls, download and rm work on the result', async () => {
    const file = await randomFile(path.join(dir, 'report.pdf'), 20 * MiB, pdfHead);
    const stateDir = path.join(dir, 'state-happy');

    const up = await runCli(['upload', file, '--json', '--state-dir', stateDir], cliEnv);

    expect(up.code).toBe(0);
    const result = JSON.parse(up.stdout);
    expect(result).toMatchObject({
      id: expect.stringMatching(UUID),
      resumed: false,
      partsUploaded: [1, 2, 3],
      partsSkipped: [],
      file: { state: 'clean', contentType: 'application/pdf', filename: 'report.pdf', size: 20 * MiB },
    });
    expect(up.stderr).toContain('type: application/pdf (sniffed');
    expect(up.stderr).toContain('verdict: clean');

    const status = await runCli(['status', result.id, '--json'], cliEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).file).toMatchObject({ id: result.id, state: 'clean' });

    const ls = await runCli(['ls', '--limit', '5', '--json'], cliEnv);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout).items.map((f: { id: string }) => f.id)).toContain(result.id);

    const target = path.join(dir, 'report.out.pdf');
    const dl = await runCli(['download', result.id, '-o', target, '--json'], cliEnv);
    expect(dl.code).toBe(0);
    expect(JSON.parse(dl.stdout)).toEqual({
      id: result.id,
      path: target,
      bytes: 20 * MiB,
      sha256: await sha256Of(file),
    });
    expect(await sha256Of(target)).toBe(await sha256Of(file));

    const removed = await runCli(['rm', result.id, '--json'], cliEnv);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({ id: result.id, deleted: true });

    const gone = await runCli(['status', result.id], cliEnv);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/Not found \(404\): No such file\./);
    expect(gone.stderr).toMatch(/request id: [0-9a-f-]{36}/);
  });

  it('resumes in a new process after the first was killed, sending only the parts S3 lacked', async () => {
    // Prepare: 30 MiB → 4 parts; one part at a time, slowed down so the kill lands mid-upload.
    const file = await randomFile(path.join(dir, 'big.bin'), 30 * MiB);
    const stateDir = path.join(dir, 'state-resume');
    const args = ['upload', file, '--json', '--state-dir', stateDir, '--concurrency', '1'];
    const first = startCli([...args, '--limit-rate', '12MiB'], cliEnv);
    const firstDone = finished(first);
    await until(() => env.s3Server.multipartUploads().some((u) => u.parts >= 2));
    first.kill('SIGKILL');
    expect((await firstDone).signal).toBe('SIGKILL');
    const [recordFile] = await readdir(stateDir);
    const record = JSON.parse(await readFile(path.join(stateDir, recordFile as string), 'utf8'));
    await new Promise((r) => setTimeout(r, 200)); // let S3 settle the request cut short
    const held = (await client.getUpload(record.id)).parts.map((p) => p.partNumber);
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.length).toBeLessThan(4);
    // Watch what S3 receives: each part stored is a new `<partNumber>-<uuid>.part` file in the upload's
    // directory. The files of the parts held now are known; any other name is a part sent again.
    const uploadDir = path.join(env.s3Server.dataDir, 'uploads', record.uploadId);
    const heldFiles = new Set((await readdir(uploadDir)).filter((f) => f.endsWith('.part')));
    expect(heldFiles.size).toBe(held.length);
    const received = new Set<number>();
    const watcher: FSWatcher = watch(uploadDir, (_, name) => {
      const m = /^(\d+)-.*\.part$/.exec(String(name));
      if (m && !heldFiles.has(String(name))) received.add(Number(m[1]));
    });
    watcher.on('error', () => undefined); // the directory goes away on completion

    // Act: a brand-new process, same command.
    const second = await runCli(args, cliEnv);
    watcher.close();

    // Assess
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    const rest = [1, 2, 3, 4].filter((n) => !held.includes(n));
    expect(result).toMatchObject({ id: record.id, resumed: true, partsSkipped: held, partsUploaded: rest });
    expect([...received].sort()).toEqual(rest);
    expect(second.stderr).toContain(
      `resuming upload ${record.id}: S3 already holds ${held.length} of 4 parts`,
    );
    expect(result.file.state).toBe('clean');
    expect(await readdir(stateDir)).toEqual([]);
    const out = path.join(dir, 'big.out');
    await runCli(['download', record.id, '-o', out], cliEnv);
    expect(await sha256Of(out)).toBe(await sha256Of(file));
  });

  it('on Ctrl-C (SIGINT) keeps the upload for resuming and exits 130', async () => {
    const file = await randomFile(path.join(dir, 'interrupted.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-sigint');
    const child = startCli(
      ['upload', file, '--state-dir', stateDir, '--concurrency', '1', '--limit-rate', '8MiB'],
      cliEnv,
    );
    const done = finished(child);
    await until(() => env.s3Server.multipartUploads().some((u) => u.parts >= 1));

    child.kill('SIGINT');
    const run = await done;

    expect(run.code).toBe(130);
    const [recordFile] = await readdir(stateDir);
    const { id } = JSON.parse(await readFile(path.join(stateDir, recordFile as string), 'utf8'));
    expect(run.stderr).toContain(
      `interrupted. The upload is kept: run the same command again to resume, or \`citadel abort ${id}\``,
    );
    expect((await client.getFile(id)).state).toBe('uploading');
    expect((await runCli(['abort', id], cliEnv)).code).toBe(0);
  });

  it('on Ctrl-C with --no-resume discards the upload and says so, exit 130', async () => {
    const file = await randomFile(path.join(dir, 'interrupted-unrecorded.bin'), 20 * MiB);
    const child = startCli(
      ['upload', file, '--no-resume', '--concurrency', '1', '--limit-rate', '8MiB'],
      cliEnv,
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const done = finished(child);
    await until(() => /upload [0-9a-f-]{36}: 3 parts/.test(stderr));
    const id = /upload ([0-9a-f-]{36}): 3 parts/.exec(stderr)?.[1] as string;
    await until(() => env.s3Server.multipartUploads().some((u) => u.key.endsWith(id) && u.parts >= 1));

    child.kill('SIGINT');
    const run = await done;

    expect(run.code).toBe(130);
    expect(run.stderr).toContain(
      `interrupted. Upload ${id} was discarded (--no-resume: nothing could resume it).`,
    );
    expect(run.stderr).not.toContain('run the same command again');
    expect((await client.getFile(id)).state).toBe('aborted');
  });

  it('exits 3 when the scan finds malware (EICAR), and the file cannot be downloaded', async () => {
    const file = path.join(dir, 'eicar.com.txt');
    await writeFile(file, EICAR);

    const up = await runCli(['upload', file, '--json', '--no-resume'], cliEnv);

    expect(up.code).toBe(3);
    const result = JSON.parse(up.stdout);
    expect(result.file.state).toBe('infected');
    expect(up.stderr).toContain('verdict: infected: the malware scan found a threat');
    const dl = await runCli(['download', result.id, '-o', path.join(dir, 'eicar.out')], cliEnv);
    expect(dl.code).toBe(2);
    expect(dl.stderr).toMatch(
      /Conflict \(409\): This file cannot be downloaded: the malware scan found a threat/,
    );
  });

  it('exits 3 when the bytes are not the declared type (rejected)', async () => {
    const file = await randomFile(path.join(dir, 'not-a.png'), 64 * 1024, pdfHead);

    const up = await runCli(['upload', file, '--type', 'image/png', '--json', '--no-resume'], cliEnv);

    expect(up.code).toBe(3);
    expect(JSON.parse(up.stdout).file).toMatchObject({ state: 'rejected', contentType: 'image/png' });
    expect(up.stderr).toContain('verdict: rejected: the content is not the declared type');
  });

  it('with --no-wait returns as soon as the upload is complete (scanning), exit 0', async () => {
    const file = await randomFile(path.join(dir, 'nowait.bin'), 1 * MiB);

    const up = await runCli(['upload', file, '--no-wait', '--json', '--no-resume'], cliEnv);

    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout).file.state).toBe('scanning');
  });
});

describe('citadel exit codes', () => {
  it('exits 2 on an API refusal, printing the problem detail, the field errors and the request id', async () => {
    const file = await randomFile(path.join(dir, 'notes.bin'), 1024);

    const up = await runCli(['upload', file, '--type', 'text/x-unknown', '--json', '--no-resume'], cliEnv);

    expect(up.code).toBe(2);
    expect(up.stderr).toContain('Request validation failed (400)');
    expect(up.stderr).toContain('body contentType: is not a content type this stage accepts');
    expect(up.stderr).toMatch(/request id: [0-9a-f-]{36}/);
    expect(JSON.parse(up.stdout).error).toMatchObject({
      status: 400,
      type: 'urn:citadel:problem:validation',
    });
  });

  it('aborts an upload in progress with `abort`', async () => {
    const created = await client.createUpload({
      filename: 'x.bin',
      size: 10 * MiB,
      contentType: 'application/octet-stream',
    });

    const run = await runCli(['abort', created.id, '--json'], cliEnv);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ id: created.id, aborted: true });
    expect((await client.getFile(created.id)).state).toBe('aborted');
  });

  it('exits 1 on usage and configuration errors', async () => {
    const cases: Array<[string, string[], Record<string, string>]> = [
      ['no command', [], cliEnv],
      ['an unknown command', ['frobnicate'], cliEnv],
      ['upload without a file', ['upload'], cliEnv],
      ['a file that does not exist', ['upload', '/nonexistent/file.bin'], cliEnv],
      ['a bad --concurrency', ['upload', path.join(ROOT, 'package.json'), '--concurrency', '0'], cliEnv],
      ['an unknown option', ['ls', '--frob'], cliEnv],
      ['no API URL in the environment', ['ls'], {}],
      ['no token in the environment', ['ls'], { CITADEL_API_URL: env.url }],
    ];

    const runs = await Promise.all(cases.map(([, args, environment]) => runCli(args, environment)));

    runs.forEach((run, i) => {
      expect([cases[i]?.[0], run.code]).toEqual([cases[i]?.[0], 1]);
      expect(run.stderr).toMatch(/citadel: |Usage: citadel/);
    });
    expect(runs[6]?.stderr).toContain('No API URL: give --api <url> or set CITADEL_API_URL');
    expect(runs[7]?.stderr).toContain(
      'No token: give --token <token> (or --token env:NAME), or set CITADEL_TOKEN',
    );
  });
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('citadel --api and --token', () => {
  it('runs upload, status and ls from --api and --token alone, given before or after the command', async () => {
    const file = await randomFile(path.join(dir, 'flags.bin'), 1 * MiB);

    const up = await runCli(
      ['upload', file, '--json', '--no-resume', '--api', env.url, '--token', token],
      {},
    );
    const { id } = JSON.parse(up.stdout);
    const status = await runCli(['--api', env.url, '--token', token, 'status', id, '--json'], {});
    const ls = await runCli(['ls', `--api=${env.url}`, `--token=${token}`, '--limit', '5', '--json'], {});

    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout).file).toMatchObject({ id: expect.stringMatching(UUID), state: 'clean' });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).file).toMatchObject({ id, state: 'clean', filename: 'flags.bin' });
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout).items.map((f: { id: string }) => f.id)).toContain(id);
  });

  it('lets --api and --token win over CITADEL_API_URL and CITADEL_TOKEN', async () => {
    const unusableEnv = { CITADEL_API_URL: 'https://citadel.invalid', CITADEL_TOKEN: 'not-a-token' };

    const flagsOverBadEnv = await runCli(['ls', '--json', '--api', env.url, '--token', token], unusableEnv);
    const badTokenOverGoodEnv = await runCli(['ls', '--token', 'not-a-token'], cliEnv);

    expect(flagsOverBadEnv.code).toBe(0);
    expect(JSON.parse(flagsOverBadEnv.stdout)).toMatchObject({ items: expect.any(Array) });
    expect(badTokenOverGoodEnv.code).toBe(2);
    expect(badTokenOverGoodEnv.stderr).toMatch(/citadel: .*\(401\)/);
  });

  it('reads the token from the variable `--token env:NAME` names, over CITADEL_TOKEN', async () => {
    const fromVariable = await runCli(['ls', '--json', '--token', 'env:MY_CITADEL_TOKEN'], {
      CITADEL_API_URL: env.url,
      MY_CITADEL_TOKEN: token,
    });
    const variableWins = await runCli(['ls', '--token', 'env:MY_CITADEL_TOKEN'], {
      ...cliEnv,
      MY_CITADEL_TOKEN: 'not-a-token',
    });

    expect(fromVariable.code).toBe(0);
    expect(JSON.parse(fromVariable.stdout)).toMatchObject({ items: expect.any(Array) });
    expect(variableWins.code).toBe(2);
    expect(variableWins.stderr).toMatch(/\(401\)/);
  });

  it('exits 1 with a message naming the fix when there is no usable token', async () => {
    const apiOnly = { CITADEL_API_URL: env.url };
    const cases: Array<[string[], Record<string, string>, string]> = [
      [
        ['ls'],
        apiOnly,
        'No token: give --token <token> (or --token env:NAME), or set CITADEL_TOKEN (or CITADEL_CLIENT_ID',
      ],
      [
        ['ls', '--token', 'env:CITADEL_UNSET_VAR'],
        cliEnv,
        '--token env:CITADEL_UNSET_VAR: the environment variable CITADEL_UNSET_VAR is not set',
      ],
      [
        ['ls', '--token', 'env:EMPTY'],
        { ...apiOnly, EMPTY: '' },
        'the environment variable EMPTY is not set (or is empty)',
      ],
      [['ls', '--token', 'env:1-bad'], apiOnly, '"1-bad" is not an environment variable name'],
      [['ls', '--token='], apiOnly, '--token is empty'],
      [['ls', '--token'], apiOnly, "Option '--token <value>' argument missing"],
    ];

    const runs = await Promise.all(cases.map(([args, environment]) => runCli(args, environment)));

    runs.forEach((run, i) => {
      expect([cases[i]?.[0], run.code]).toEqual([cases[i]?.[0], 1]);
      expect(run.stderr).toContain(cases[i]?.[2]);
      expect(run.stdout).toBe('');
    });
  });

  it('exits 1 with a clear message on an API URL that is not an http(s) base URL', async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['ls', '--api', 'not a url'], cliEnv, '--api: "not a url" is not a URL; give the API\'s base URL'],
      [['ls', '--api', 'ftp://files.example.com'], cliEnv, 'is not an http(s) URL'],
      [['ls', '--api', `${env.url}/?stage=dev`], cliEnv, 'has a query or fragment'],
      [
        ['ls'],
        { CITADEL_TOKEN: token, CITADEL_API_URL: 'api.example.com' },
        'CITADEL_API_URL: "api.example.com" is not a URL',
      ],
      [['ls', '--api'], cliEnv, "Option '--api <value>' argument missing"],
    ];

    const runs = await Promise.all(cases.map(([args, environment]) => runCli(args, environment)));

    runs.forEach((run, i) => {
      expect([cases[i]?.[0], run.code]).toEqual([cases[i]?.[0], 1]);
      expect(run.stderr).toContain(cases[i]?.[2]);
    });
  });

  it('exits 4 naming the URL when nothing answers at --api', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;

    const run = await runCli(['ls', '--json', '--api', url, '--token', token], {});

    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`citadel: cannot reach the API at ${url} (connect ECONNREFUSED`);
    expect(JSON.parse(run.stdout).error.message).toContain(`cannot reach the API at ${url}`);
  });
});

const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const hashes = (line: string): number => line.split('#').length - 1;
const percentOf = (line: string): number => Number(/(\d+\.\d)%/.exec(line)?.[1]);

describe('renderProgress', () => {
  it('draws a bar, the percentage, the bytes, the rate and the ETA in the width given', () => {
    expect(renderProgress({ bytesDone: 1.5 * GiB, bytesTotal: 3 * GiB, rateBps: 100 * MiB, width: 80 })).toBe(
      '[#########----------]   50.0%    1.50 GiB / 3.00 GiB   100.0 MiB/s  ETA 0:16',
    );
    expect(renderProgress({ bytesDone: 0, bytesTotal: 3 * GiB, rateBps: 0, width: 80 })).toBe(
      '[-------------------]    0.0%         0 B / 3.00 GiB        -- B/s  ETA --:--',
    );
    expect(renderProgress({ bytesDone: 20 * MiB, bytesTotal: 20 * MiB, rateBps: 50 * MiB, width: 90 })).toBe(
      '[#############################]  100.0%    20.0 MiB / 20.0 MiB    50.0 MiB/s  ETA 0:00',
    );
  });

  it('drops the bar, then the bytes and the rate, as the terminal narrows', () => {
    const view = { bytesDone: 1.5 * GiB, bytesTotal: 3 * GiB, rateBps: 100 * MiB };

    expect(renderProgress({ ...view, width: 60 })).toBe(
      ' 50.0%    1.50 GiB / 3.00 GiB   100.0 MiB/s  ETA 0:16',
    );
    expect(renderProgress({ ...view, width: 30 })).toBe(' 50.0%  ETA 0:16');
    expect(renderProgress({ ...view, width: 8 })).toBe(' 50.0%');
    expect(renderProgress({ ...view, width: 0 })).toBe('');
  });

  it('does not promise 100% before the last byte, and never floods a wide terminal', () => {
    expect(
      percentOf(renderProgress({ bytesDone: 999_999, bytesTotal: 1_000_000, rateBps: 0, width: 80 })),
    ).toBe(99.9);
    expect(hashes(renderProgress({ bytesDone: 1, bytesTotal: 1, rateBps: 0, width: 500 }))).toBe(60);
  });

  const total = fc.integer({ min: 0, max: 5 * TiB });
  const rate = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 100 * GiB, noNaN: true }));
  const width = fc.integer({ min: 0, max: 300 });

  it('never exceeds the width', () => {
    fc.assert(
      fc.property(
        total,
        fc.integer({ min: -1, max: 6 * TiB }),
        rate,
        width,
        (bytesTotal, bytesDone, rateBps, w) => {
          expect(renderProgress({ bytesDone, bytesTotal, rateBps, width: w }).length).toBeLessThanOrEqual(w);
        },
      ),
    );
  });

  it('shows a percentage from 0 to 100, whatever the bytes reported', () => {
    fc.assert(
      fc.property(total, fc.integer({ min: -MiB, max: 6 * TiB }), rate, (bytesTotal, bytesDone, rateBps) => {
        for (const line of [
          renderProgress({ bytesDone, bytesTotal, rateBps, width: 200 }),
          renderProgressLine({ bytesDone, bytesTotal, rateBps }),
        ]) {
          const percent = percentOf(line);
          expect(percent).toBeGreaterThanOrEqual(0);
          expect(percent).toBeLessThanOrEqual(100);
        }
      }),
    );
  });

  it('shows the ETA as --:-- while the rate is unknown (0), at any width that has room for it', () => {
    fc.assert(
      fc.property(total, fc.nat(), fc.integer({ min: 17, max: 300 }), (bytesTotal, done, w) => {
        const view = { bytesDone: Math.min(done, bytesTotal), bytesTotal, rateBps: 0 };
        expect(renderProgress({ ...view, width: w })).toContain('ETA --:--');
        expect(renderProgressLine(view)).toMatch(/ -- B\/s {2}ETA --:--$/);
      }),
    );
  });

  it('fills the bar monotonically as bytes arrive (same width, total and rate)', () => {
    fc.assert(
      fc.property(
        total,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        rate,
        width,
        (bytesTotal, a, b, rateBps, w) => {
          const [less, more] = [Math.min(a, b), Math.max(a, b)].map((x) => Math.floor(x * bytesTotal)) as [
            number,
            number,
          ];
          const fill = (bytesDone: number) =>
            hashes(renderProgress({ bytesDone, bytesTotal, rateBps, width: w }));
          expect(fill(less)).toBeLessThanOrEqual(fill(more));
        },
      ),
    );
  });

  it('formats the ETA as m:ss, then h:mm:ss, capped at >99h', () => {
    expect([0, 7, 6.2, 59.5, 3599, 3600, 359_999, 360_000, Number.POSITIVE_INFINITY].map(formatEta)).toEqual([
      '0:00',
      '0:07',
      '0:07',
      '1:00',
      '59:59',
      '1:00:00',
      '99:59:59',
      '>99h',
      '--:--',
    ]);
  });
});

describe('RateMeter', () => {
  it('knows no rate until a second of samples, then measures bytes per second', () => {
    const meter = new RateMeter();
    meter.add(0, 0);
    meter.add(5 * MiB, 500);
    const early = meter.rate(500);
    meter.add(10 * MiB, 1000);

    expect(early).toBe(0);
    expect(meter.rate(1000)).toBe(10 * MiB);
  });

  it('forgets what came before the last 5 s, and falls to 0 when bytes stop', () => {
    const meter = new RateMeter();
    // 100 MiB/s for 5 s, then 10 MiB/s for 10 s
    for (let t = 0; t <= 5000; t += 100) meter.add((t / 1000) * 100 * MiB, t);
    for (let t = 5100; t <= 15_000; t += 100) meter.add(500 * MiB + ((t - 5000) / 1000) * 10 * MiB, t);

    expect(meter.rate(15_000)).toBeCloseTo(10 * MiB, 0);
    expect(meter.average()).toBeCloseTo((600 * MiB) / 15, 0);
    expect(meter.rate(20_000)).toBe(0);
  });
});

describe('createProgressPrinter', () => {
  const report = (bytesUploaded: number, partsDone: number, partsSkipped = 0): UploadProgress => ({
    bytesUploaded,
    bytesTotal: 40 * MiB,
    partsDone,
    partsTotal: 5,
    partsSkipped,
    bytesHeld: partsSkipped * 8 * MiB,
  });

  function printer(tty: boolean, columns?: number) {
    let now = 0;
    const written: string[] = [];
    const p = createProgressPrinter({
      tty,
      write: (text) => written.push(text),
      columns: () => columns,
      now: () => now,
    });
    return { p, written, at: (t: number) => (now = t) };
  }

  it('off a terminal prints one line every 2 s and one at the end, with the rate and the ETA', () => {
    const { p, written, at } = printer(false);
    p.reset();

    at(0);
    p.progress(report(1 * MiB, 0));
    at(1000);
    p.progress(report(11 * MiB, 1));
    at(2000);
    p.progress(report(21 * MiB, 2));
    at(3000);
    p.progress(report(40 * MiB, 5));
    p.progress(report(40 * MiB, 5)); // the uploader's final flush

    expect(written).toEqual([
      '2.5%  1.0 MiB / 40.0 MiB  parts 0/5  -- B/s  ETA --:--\n',
      '52.5%  21.0 MiB / 40.0 MiB  parts 2/5  10.0 MiB/s  ETA 0:02\n',
      '100.0%  40.0 MiB / 40.0 MiB  parts 5/5  13.0 MiB/s  ETA 0:00\n',
    ]);
  });

  it('counts the parts S3 already held as done but not towards the rate when resuming', () => {
    const { p, written, at } = printer(false);
    p.reset(); // resumed: S3 holds parts 1 and 2 (16 MiB)

    at(0);
    p.progress(report(16 * MiB, 2, 2)); // the uploader's first report: the held parts, in one go
    at(2000);
    p.progress(report(16 * MiB + 10 * MiB, 3, 2));
    at(4000);
    p.progress(report(16 * MiB + 20 * MiB, 4, 2));

    expect(written).toEqual([
      '40.0%  16.0 MiB / 40.0 MiB  parts 2/5  -- B/s  ETA --:--\n',
      '65.0%  26.0 MiB / 40.0 MiB  parts 3/5  5.0 MiB/s  ETA 0:03\n',
      '90.0%  36.0 MiB / 40.0 MiB  parts 4/5  5.0 MiB/s  ETA 0:01\n',
    ]);
  });

  it('shows one final line when S3 already held every part', () => {
    const { p, written, at } = printer(false);
    p.reset();

    at(0);
    p.progress(report(40 * MiB, 5, 5));
    p.progress(report(40 * MiB, 5, 5)); // the uploader's final flush

    expect(written).toEqual(['100.0%  40.0 MiB / 40.0 MiB  parts 5/5  -- B/s  ETA --:--\n']);
  });

  it('on a terminal redraws one bar in place, fitted to its width, and keeps messages above it', () => {
    const { p, written, at } = printer(true, 81);
    p.reset();

    at(0);
    p.progress(report(0, 0));
    at(2000);
    p.progress(report(20 * MiB, 2));
    p.log('part 3: socket hang up; retry 1 in 0.3 s');
    at(4000);
    p.progress(report(40 * MiB, 5));

    const bar = (s: string) => `\r${s}\x1b[K`;
    expect(written).toEqual([
      bar('[-------------------]    0.0%         0 B / 40.0 MiB        -- B/s  ETA --:--'),
      bar('[#########----------]   50.0%    20.0 MiB / 40.0 MiB    10.0 MiB/s  ETA 0:02'),
      '\r\x1b[Kpart 3: socket hang up; retry 1 in 0.3 s\n',
      bar('[#########----------]   50.0%    20.0 MiB / 40.0 MiB    10.0 MiB/s  ETA 0:02'),
      bar('[###################]  100.0%    40.0 MiB / 40.0 MiB    10.0 MiB/s  ETA 0:00'),
      '\n',
    ]);
  });
});
