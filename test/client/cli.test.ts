/**
 * The `citadel` CLI as users run it: a separate `node --import tsx client/cli.ts` process against the real
 * local stack (API handlers, PostgreSQL, the S3 server and the simulated scan).
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CitadelClient } from '../../client/client';
import { EICAR } from '../../local/guardduty-simulator';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { finished, MiB, ROOT, randomFile, runCli, sha256Of, startCli, until } from './support';

let env: UploadEnvironment;
let dir: string;
let cliEnv: Record<string, string>;
let client: CitadelClient;

const UUID = /^[0-9a-f-]{36}$/;
const pdfHead = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-cli-'));
  const token = await env.token('user', 'carol');
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
    expect(runs[6]?.stderr).toContain('Set CITADEL_API_URL');
    expect(runs[7]?.stderr).toContain('Set CITADEL_TOKEN');
  });
});
