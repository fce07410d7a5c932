/**
 * The rough edges a new user of the `citadel` CLI hits, run as users run it (a separate process against the real
 * local stack): stdin, directories and empty files, downloads that would overwrite or land in a missing directory,
 * `--json` on Ctrl-C, an API URL copied with its `/v1`, and `npm run -s`.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CitadelClient } from '../../client/client';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { type CliRun, finished, MiB, ROOT, randomFile, runCli, sha256Of, startCli, until } from './support';

let env: UploadEnvironment;
let dir: string;
let cliEnv: Record<string, string>;
let client: CitadelClient;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-cli-edges-'));
  const token = await env.token('user', 'erin');
  cliEnv = { CITADEL_API_URL: env.url, CITADEL_TOKEN: token };
  client = new CitadelClient({ baseUrl: env.url, token });
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The CLI with stdin from `stdin`: a file descriptor (a redirect, `< file`) or bytes written to a pipe. */
function cliWithStdin(args: readonly string[], stdin: number | Buffer): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'client/cli.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...cliEnv },
    stdio: [typeof stdin === 'number' ? stdin : 'pipe', 'pipe', 'pipe'],
  });
  if (Buffer.isBuffer(stdin)) child.stdin?.end(stdin);
  return finished(child);
}

describe('citadel upload: what it reads', () => {
  it('uploads stdin with `-`: a pipe with --size, a redirected file without it', async () => {
    const file = await randomFile(path.join(dir, 'piped.bin'), 9 * MiB + 5);
    const bytes = await readFile(file);

    const piped = await cliWithStdin(['upload', '-', '--size', String(bytes.length), '--json'], bytes);
    const redirected = await cliWithStdin(
      ['upload', '-', '--name', 'redirected.bin', '--json'],
      openSync(file, 'r'),
    );

    expect([piped.code, piped.stderr.slice(-300)]).toEqual([0, expect.any(String)]);
    expect(JSON.parse(piped.stdout).file).toMatchObject({
      state: 'clean',
      filename: 'stdin',
      size: bytes.length,
    });
    expect(redirected.code).toBe(0);
    const stored = JSON.parse(redirected.stdout).file;
    expect(stored).toMatchObject({ state: 'clean', filename: 'redirected.bin', size: bytes.length });
    const copy = path.join(dir, 'redirected.out');
    expect((await runCli(['download', stored.id, '-o', copy], cliEnv)).code).toBe(0);
    expect(await sha256Of(copy)).toBe(await sha256Of(file));
  });

  it('says what is wrong with the input, exit 1, without the whole help text', async () => {
    const empty = path.join(dir, 'empty.txt');
    await writeFile(empty, '');
    const cases: Array<[string, Promise<CliRun>, RegExp]> = [
      [
        'a pipe without --size',
        cliWithStdin(['upload', '-'], Buffer.from('abc')),
        /stdin is a pipe.*--size <bytes>/,
      ],
      ['a directory', runCli(['upload', dir], cliEnv), /is a directory: give a file \(or - to read stdin\)/],
      [
        '/dev/stdin as a pipe',
        cliWithStdin(['upload', '/dev/stdin'], Buffer.from('abc')),
        /not a regular file.*upload - --size/,
      ],
      ['a missing file', runCli(['upload', path.join(dir, 'nope.bin')], cliEnv), /nope\.bin: no such file\./],
      [
        'an empty file',
        runCli(['upload', empty, '--json'], cliEnv),
        /empty\.txt is empty \(0 bytes\); Citadel stores no empty files\./,
      ],
      [
        'empty stdin',
        cliWithStdin(['upload', '-', '--size', '0'], Buffer.alloc(0)),
        /stdin is empty \(0 bytes\)/,
      ],
    ];

    for (const [what, running, message] of cases) {
      const run = await running;
      expect({ what, code: run.code, stderr: run.stderr }).toEqual({
        what,
        code: 1,
        stderr: expect.stringMatching(message),
      });
      expect({ what, help: run.stderr.includes('Usage: citadel') }).toEqual({ what, help: false });
      expect(run.stderr).not.toContain('transfer failed');
    }
    // With --json the refusal is a JSON document too.
    const json = await runCli(['upload', empty, '--json'], cliEnv);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { message: expect.stringContaining('is empty (0 bytes)') },
    });
  });

  it('with --json, an interrupted upload prints one JSON document saying what was kept (exit 130)', async () => {
    const file = await randomFile(path.join(dir, 'interrupted.bin'), 20 * MiB);
    const stateDir = path.join(dir, 'state-json');
    const child = startCli(
      ['upload', file, '--json', '--state-dir', stateDir, '--concurrency', '1', '--limit-rate', '8MiB'],
      cliEnv,
    );
    const done = finished(child);
    await until(() => env.s3Server.multipartUploads().some((u) => u.parts >= 1));

    child.kill('SIGINT');
    const run = await done;

    expect(run.code).toBe(130);
    const [record] = await readdir(stateDir);
    const { id } = JSON.parse(await readFile(path.join(stateDir, record as string), 'utf8'));
    expect(JSON.parse(run.stdout)).toEqual({ interrupted: true, id, kept: true });
    expect((await runCli(['abort', id], cliEnv)).code).toBe(0);
  });
});

describe('citadel download: where it writes', () => {
  let id: string;
  let source: string;
  beforeAll(async () => {
    source = await randomFile(path.join(dir, 'kept.bin'), 1 * MiB);
    id = JSON.parse((await runCli(['upload', source, '--json'], cliEnv)).stdout).id;
  }, 60_000);

  it('refuses to replace an existing file without --force (exit 1, file untouched), and replaces it with', async () => {
    const target = path.join(dir, 'existing.bin');
    await writeFile(target, 'mine');

    const refused = await runCli(['download', id, '-o', target], cliEnv);
    const intoDir = await runCli(['download', id, '-o', dir], cliEnv); // kept.bin is there already
    const forced = await runCli(['download', id, '-o', target, '--force'], cliEnv);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${target} already exists`);
    expect(intoDir.code).toBe(1);
    expect(intoDir.stderr).toContain(`${path.join(dir, 'kept.bin')} already exists`);
    expect(forced.code).toBe(0);
    expect(await sha256Of(target)).toBe(await sha256Of(source));
  });

  it('names the missing directory, never a temporary file, and leaves nothing behind', async () => {
    const missing = path.join(dir, 'no-such-dir');
    const run = await runCli(['download', id, '-o', path.join(missing, 'copy.bin'), '--json'], cliEnv);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the directory ${missing} does not exist`);
    expect(run.stderr + run.stdout).not.toMatch(/citadel-part|\.\d{6,}\./);
    expect(JSON.parse(run.stdout)).toEqual({ error: { message: expect.stringContaining('does not exist') } });
    await mkdir(missing);
    expect(await readdir(missing)).toEqual([]);
  });
});

describe('citadel configuration', () => {
  it('accepts an API URL copied with its /v1', async () => {
    const run = await runCli(['ls', '--json', '--api', `${env.url}/v1/`], cliEnv);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ items: expect.any(Array) });
  });

  it('prints parseable JSON through `npm run -s citadel` (and npm alone would put its header first)', async () => {
    const npm = (args: string[]) =>
      finished(
        spawn('npm', args, {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...cliEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    const [silent, loud] = await Promise.all([
      npm(['run', '-s', 'citadel', '--', 'ls', '--json']),
      npm(['run', 'citadel', '--', 'ls', '--json']),
    ]);

    expect(silent.code).toBe(0);
    expect(JSON.parse(silent.stdout)).toMatchObject({ items: expect.any(Array) });
    expect(() => JSON.parse(loud.stdout)).toThrow();
    expect(loud.stdout).toContain('> citadel@');
    await expect(client.listFiles()).resolves.toBeDefined();
  }, 60_000);
});
