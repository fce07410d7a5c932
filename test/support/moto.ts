/**
 * `moto_server` (an AWS API emulator: moto 5.2, Python) for the AWS conformance suites in `test/moto/`.
 *
 * One server per test file, on a free loopback port, started in `beforeAll` and stopped in `afterAll`. The SDK
 * clients of the code under test reach it through the SDK's documented endpoint setting, the `AWS_ENDPOINT_URL`
 * environment variable (AWS SDKs and Tools reference guide, "Service-specific endpoints"); production code is
 * not changed. A test file sets it (through `describeAgainstMoto`) before it imports the handler it drives.
 *
 * When `moto_server` is not on `PATH` the suites do not run, and say so: `describeAgainstMoto` then declares a
 * single test that prints why and how to install moto, and that fails when `CITADEL_REQUIRE_MOTO=1` (CI).
 *
 * The server never outlives the test process: it runs under a small `sh` watchdog that stops it as soon as the
 * test process closes the watchdog's stdin, which the kernel also does when the test process dies (even by
 * SIGKILL).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { freePort } from './postgres';

export const MOTO_COMMAND = 'moto_server';
/** Set to `1` (CI does, in `.ci/run`) to make a missing `moto_server` a test failure instead of a skip. */
export const REQUIRE_MOTO_ENV = 'CITADEL_REQUIRE_MOTO';
export const MOTO_INSTALL_HINT = "pip install 'moto[server]'";

/** The executable `command` resolves to on `searchPath`, if any. */
export function findExecutable(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type MotoAvailability =
  | { readonly available: true; readonly executable: string }
  | { readonly available: false; readonly reason: string };

/** Whether `moto_server` can run here; decided once, synchronously, when a suite is declared. */
export function motoAvailability(env: NodeJS.ProcessEnv = process.env): MotoAvailability {
  const executable = findExecutable(MOTO_COMMAND, env.PATH ?? '');
  return executable
    ? { available: true, executable }
    : { available: false, reason: `${MOTO_COMMAND} is not on PATH` };
}

/** What a suite says when it could not run. */
export function skipMessage(suite: string, reason: string): string {
  return (
    `[moto] SKIPPED "${suite}": ${reason}, so these AWS conformance tests did not run. ` +
    `Install moto with: ${MOTO_INSTALL_HINT} (CI sets ${REQUIRE_MOTO_ENV}=1, which makes this a failure).`
  );
}

/**
 * Reports a suite that could not run: throws under `CITADEL_REQUIRE_MOTO=1`, otherwise prints the message to
 * stderr (jest shows it with the file's results) and returns it.
 */
export function reportSkipped(suite: string, reason: string, env: NodeJS.ProcessEnv = process.env): string {
  const message = skipMessage(suite, reason);
  if (env[REQUIRE_MOTO_ENV] === '1') throw new Error(message);
  console.warn(message);
  return message;
}

export interface MotoServer {
  /** `http://127.0.0.1:<port>`: what `AWS_ENDPOINT_URL` is set to. */
  readonly endpoint: string;
  readonly port: number;
  /** The `moto_server` process itself. */
  readonly pid: number;
  /** Forgets every resource of every service (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** moto's own settings (`POST /moto-api/config`), e.g. `{ lambda: { use_docker: false } }`. */
  configure(config: Record<string, unknown>): Promise<void>;
  /** Stops the server and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** @default the `moto_server` found on PATH */
  readonly executable?: string;
  /** @default 20_000 */
  readonly readyTimeoutMs?: number;
}

/**
 * The watchdog: starts the server in the background, prints its pid, and kills it when stdin reaches end of
 * file (the test process closed it or died). An asynchronous list gets /dev/null as stdin, so the test
 * process's pipe is kept on fd 3 for the watcher. `$0` is the executable, `$1` the port.
 */
export const MOTO_WATCHDOG_SCRIPT = [
  'exec 3<&0',
  '"$0" -H 127.0.0.1 -p "$1" </dev/null 3<&- &',
  'server=$!',
  'echo "$server"',
  '{ cat <&3 >/dev/null; kill "$server" 2>/dev/null; } &',
  'wait "$server"',
].join('\n');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `undefined` after `ms` (the timer never outlives the wait). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server that exited before it answered (e.g. another process took the free port first). */
class MotoStartFailed extends Error {
  override readonly name = 'MotoStartFailed';
}

/** Starts `moto_server` on a free loopback port and waits until it answers HTTP (three tries). */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const executable = options.executable ?? findExecutable(MOTO_COMMAND);
  if (!executable) throw new Error(`${MOTO_COMMAND} is not on PATH; install it with: ${MOTO_INSTALL_HINT}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(executable, options.readyTimeoutMs ?? 20_000);
    } catch (error) {
      if (!(error instanceof MotoStartFailed) || attempt === 3) throw error;
    }
  }
}

async function startOnce(executable: string, readyTimeoutMs: number): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // Own process group, so a watchdog that does not stop in time can be killed with everything under it.
  const child = spawn('sh', ['-c', MOTO_WATCHDOG_SCRIPT, executable, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  // Writing to a watchdog that already exited must not crash the test process.
  child.stdin?.on('error', () => undefined);
  // Every pipe closed: all output read (the watcher holds them until stdin is closed).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4_000);
  };
  child.stderr?.on('data', keep);
  const pid = await new Promise<number>((resolve, reject) => {
    let line = '';
    const read = (chunk: Buffer) => {
      line += chunk.toString('utf8');
      const end = line.indexOf('\n');
      if (end < 0) return;
      child.stdout?.off('data', read);
      resolve(Number(line.slice(0, end)));
    };
    child.stdout?.on('data', read);
    child.once('error', reject);
    child.once('exit', () => reject(new MotoStartFailed(`${MOTO_COMMAND} did not start: ${output}`)));
  });
  // Nothing else is expected on stdout; keep both pipes drained (a full pipe would block the server).
  child.stdout?.resume();

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.stdin?.end();
    const done = await within(
      exited(child).then(() => true),
      5_000,
    );
    if (!done) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await exited(child);
    }
    for (let i = 0; i < 50 && isRunning(pid); i++) await sleep(20);
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      await within(closed, 1_000);
      throw new MotoStartFailed(`${MOTO_COMMAND} exited during start-up (port ${port}): ${output}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        await within(closed, 1_000);
        throw new Error(
          `${MOTO_COMMAND} did not answer on ${endpoint} within the start-up timeout: ${output}`,
        );
      }
      await sleep(50);
    }
  }

  const post = async (route: string, body?: unknown) => {
    const response = await fetch(`${endpoint}/moto-api/${route}`, {
      method: 'POST',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`moto ${route} answered ${response.status}: ${text}`);
  };

  return {
    endpoint,
    port,
    pid,
    reset: () => post('reset'),
    configure: (config) => post('config', config),
    stop,
  };
}

/** What a suite body gets: the running server, valid from the suite's first `beforeAll` on. */
export interface MotoSuite {
  server(): MotoServer;
}

/**
 * `describe(name, body)` against one `moto_server` for the whole suite, with `AWS_ENDPOINT_URL` pointing at it
 * from the suite's first hook on (import the code under test in a later `beforeAll`, with `await import`).
 * Without `moto_server`, a single test reports the skip instead (see `reportSkipped`). Use once per file.
 */
export function describeAgainstMoto(
  name: string,
  body: (moto: MotoSuite) => void,
  availability: MotoAvailability = motoAvailability(),
): void {
  if (!availability.available) {
    const { reason } = availability;
    describe(name, () => {
      it(`did not run: ${reason} (install: ${MOTO_INSTALL_HINT})`, () => {
        reportSkipped(name, reason);
      });
    });
    return;
  }
  describe(name, () => {
    let server: MotoServer | undefined;
    const saved = process.env.AWS_ENDPOINT_URL;
    beforeAll(async () => {
      server = await startMoto({ executable: availability.executable });
      process.env.AWS_ENDPOINT_URL = server.endpoint;
    });
    afterAll(async () => {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
      await server?.stop();
    });
    body({
      server: () => {
        if (!server) throw new Error('moto_server is not running (used outside a test or hook?)');
        return server;
      },
    });
  });
}
