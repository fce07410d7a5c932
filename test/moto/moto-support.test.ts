/**
 * The moto test helper (`test/support/moto.ts`): the skip report when `moto_server` is missing, and the
 * server's life cycle: it answers the SDK through `AWS_ENDPOINT_URL`, resets, stops, and never outlives the
 * process that started it.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateSecretCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  describeAgainstMoto,
  findExecutable,
  MOTO_WATCHDOG_SCRIPT,
  motoAvailability,
  REQUIRE_MOTO_ENV,
  reportSkipped,
  startMoto,
} from '../support/moto';
import { freePort } from '../support/postgres';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

describe('when moto_server is missing', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citadel-path-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('is found only as an executable file on PATH', async () => {
    // Prepare: a directory with a non-executable moto_server, then an executable one.
    const file = path.join(dir, 'moto_server');
    await writeFile(file, '#!/bin/sh\n', { mode: 0o644 });
    // Act / Assess
    expect(motoAvailability({ PATH: `/nonexistent${path.delimiter}${dir}` })).toEqual({
      available: false,
      reason: 'moto_server is not on PATH',
    });
    await chmod(file, 0o755);
    expect(motoAvailability({ PATH: `/nonexistent${path.delimiter}${dir}` })).toEqual({
      available: true,
      executable: file,
    });
    expect(findExecutable('moto_server', '')).toBeUndefined();
  });

  it('prints why the suite did not run and how to install moto', () => {
    // Prepare
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    // Act
    const message = reportSkipped('Rotation against moto', 'moto_server is not on PATH', {});
    // Assess
    expect(message).toBe(
      '[moto] SKIPPED "Rotation against moto": moto_server is not on PATH, so these AWS conformance tests did ' +
        "not run. Install moto with: pip install 'moto[server]' (CI sets CITADEL_REQUIRE_MOTO=1, which makes " +
        'this a failure).',
    );
    expect(warn).toHaveBeenCalledWith(message);
  });

  it(`fails instead when ${REQUIRE_MOTO_ENV}=1`, () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(() =>
      reportSkipped('Rotation against moto', 'moto_server is not on PATH', { [REQUIRE_MOTO_ENV]: '1' }),
    ).toThrow(/^\[moto\] SKIPPED "Rotation against moto": moto_server is not on PATH/);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('when moto_server does not start', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citadel-fake-moto-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fake(name: string, body: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  }

  it('reports what it printed when it exits at once', async () => {
    const executable = await fake('exits', 'echo "address already in use" >&2; exit 1');
    await expect(startMoto({ executable })).rejects.toThrow(
      /moto_server exited during start-up \(port \d+\): address already in use/,
    );
  });

  it('gives up after the start-up timeout and leaves no process behind', async () => {
    // Prepare: a server that never answers; it records its pid first.
    const pidFile = path.join(dir, 'silent.pid');
    const executable = await fake('silent', `echo $$ > ${pidFile}; exec sleep 60`);
    // Act / Assess
    await expect(startMoto({ executable, readyTimeoutMs: 500 })).rejects.toThrow(
      /moto_server did not answer on http:\/\/127\.0\.0\.1:\d+ within the start-up timeout/,
    );
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await waitUntil(() => !running(pid), 2_000)).toBe(true);
  });
});

describeAgainstMoto('moto_server life cycle', (moto) => {
  it('answers the SDK through AWS_ENDPOINT_URL, and a reset forgets everything', async () => {
    // Prepare: a client built with no endpoint option, like the handlers' clients.
    const client = new SecretsManagerClient({});
    await client.send(new CreateSecretCommand({ Name: 'citadel/life-cycle', SecretString: '{}' }));
    expect(process.env.AWS_ENDPOINT_URL).toBe(moto.server().endpoint);
    const before = await client.send(new ListSecretsCommand({}));
    // Act
    await moto.server().reset();
    // Assess
    expect(before.SecretList?.map((s) => s.Name)).toEqual(['citadel/life-cycle']);
    expect((await client.send(new ListSecretsCommand({}))).SecretList).toEqual([]);
  });

  it('stops its server', async () => {
    // Prepare: a second server of our own (the suite's keeps running).
    const server = await startMoto();
    expect(running(server.pid)).toBe(true);
    // Act
    await server.stop();
    await server.stop();
    // Assess
    expect(running(server.pid)).toBe(false);
    await expect(fetch(`${server.endpoint}/moto-api/`)).rejects.toThrow();
  });

  /**
   * A process starts the watchdog as `startMoto` does (stdin a pipe, own process group), prints the server's
   * pid and is then SIGKILLed, so nothing of it runs any clean-up. Returns whether the server was still
   * running 2 s later (and kills it then).
   */
  async function survivesKilledOwner(script: string): Promise<boolean> {
    const executable = motoAvailability();
    if (!executable.available) throw new Error('unreachable: the suite runs only with moto_server');
    const owner = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process');
         spawn('sh', ['-c', process.env.SCRIPT, process.env.MOTO, process.env.PORT],
           { stdio: ['pipe', 'inherit', 'ignore'], detached: true });
         setInterval(() => undefined, 60_000);`,
      ],
      {
        env: { ...process.env, SCRIPT: script, MOTO: executable.executable, PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const pid = await new Promise<number>((resolve) =>
      owner.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect(running(pid)).toBe(true);
    owner.kill('SIGKILL');
    const gone = await waitUntil(() => !running(pid), 2_000);
    if (!gone) process.kill(pid, 'SIGKILL');
    return !gone;
  }

  it('never outlives the process that started it, even one killed with SIGKILL', async () => {
    expect(await survivesKilledOwner(MOTO_WATCHDOG_SCRIPT)).toBe(false);
  });

  it('(the check above catches a server started without the watchdog)', async () => {
    const unguarded = ['"$0" -H 127.0.0.1 -p "$1" </dev/null &', 'echo "$!"', 'wait'].join('\n');
    expect(await survivesKilledOwner(unguarded)).toBe(true);
  });
});
