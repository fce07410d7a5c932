import { execFile, execFileSync } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { LAMBDA_CA_BUNDLE, pgTls } from '../../lambda/shared/db/tls';
import { startPostgres, type TestPostgres } from '../support/postgres';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const PROXY = 'citadel.proxy-abc123def.eu-west-1.rds.amazonaws.com';
const INSTANCE = 'citadel-dev-postgres.abc123def.eu-west-1.rds.amazonaws.com';

describe('database TLS options', () => {
  it("verifies RDS Proxy by chain and name against Node's own roots, with nothing else to load", () => {
    expect(pgTls(PROXY, {})).toEqual({ rejectUnauthorized: true, servername: PROXY });
  });

  it('verifies an RDS instance by chain and name once NODE_EXTRA_CA_CERTS names the runtime CA bundle', () => {
    expect(pgTls(INSTANCE, { NODE_EXTRA_CA_CERTS: LAMBDA_CA_BUNDLE })).toEqual({
      rejectUnauthorized: true,
      servername: INSTANCE,
    });
  });

  it('refuses an RDS instance without NODE_EXTRA_CA_CERTS, naming the fix, instead of failing every handshake', () => {
    expect(() => pgTls(INSTANCE, {})).toThrow(
      /RDS instance.*NODE_EXTRA_CA_CERTS=\/var\/runtime\/ca-cert\.pem.*trustRdsCertificates/,
    );
    expect(() => pgTls(INSTANCE.replace('.com', '.com.cn'), {})).toThrow(/NODE_EXTRA_CA_CERTS/);
  });

  it('is off only when explicitly disabled for loopback servers', () => {
    expect(pgTls('127.0.0.1', { CITADEL_DB_TLS: 'disable' })).toBe(false);
    expect(pgTls('127.0.0.1', {})).toEqual({ rejectUnauthorized: true });
  });
});

/**
 * The trust the functions rely on, end to end: a real PostgreSQL with TLS whose certificate comes from a CA Node
 * does not ship (as an RDS CA), reached through `pg` with `pgTls`. Node reads `NODE_EXTRA_CA_CERTS` once, at start,
 * so the connections that should succeed run in a child process started with it, as Lambda starts the runtime.
 */
describe('database TLS against a server with a private CA', () => {
  let dir: string;
  let server: TestPostgres;

  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citadel-tls-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Citadel test CA',
    );
    openssl('req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    );
    // PostgreSQL refuses a key others can read; run as root, the server is the `postgres` user.
    execFileSync('chmod', ['600', path.join(dir, 'server.key')]);
    if (process.getuid?.() === 0) {
      const [uid, gid] = ['-u', '-g'].map((flag) =>
        Number(execFileSync('id', [flag, 'postgres']).toString()),
      );
      await chown(path.join(dir, 'server.key'), uid as number, gid as number);
      await chown(path.join(dir, 'server.crt'), uid as number, gid as number);
    }
    execFileSync('chmod', ['755', dir]);
    server = await startPostgres({
      settings: {
        ssl: 'on',
        ssl_cert_file: path.join(dir, 'server.crt'),
        ssl_key_file: path.join(dir, 'server.key'),
      },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const login = () => ({
    port: server.port,
    user: server.superuser.user,
    password: server.superuser.password,
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
  });

  /** Connects in this process (Node's own roots only) with `ssl`; returns whether the session is encrypted. */
  async function connectHere(host: string, ssl: pg.ClientConfig['ssl']): Promise<boolean> {
    const client = new pg.Client({ ...login(), host, ssl });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return rows[0]?.ssl === true;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Connects with `pgTls(host)` in a fresh Node process started with `env`; resolves to its report. */
  async function connectInChild(host: string, env: Record<string, string>): Promise<string> {
    const script = `
      import pg from 'pg';
      const { pgTls } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'lambda/shared/db/tls.ts')).href)});
      const client = new pg.Client({ ...JSON.parse(process.env.LOGIN), host: process.env.HOST, ssl: pgTls(process.env.HOST) });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        console.log(rows[0].ssl ? 'encrypted' : 'plain');
      } catch (error) {
        console.log('refused: ' + (error.code ?? '') + ' ' + error.message);
      } finally {
        await client.end().catch(() => undefined);
      }`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_OPTIONS: '',
        LOGIN: JSON.stringify(login()),
        HOST: host,
        ...env,
      },
    });
    return stdout.trim();
  }

  it("refuses the server while Node does not trust its CA, which only verification stops (the defect's connection succeeds)", async () => {
    const tls = pgTls('localhost', {});
    await expect(connectHere('localhost', tls)).rejects.toThrow(
      /self[- ]signed certificate in certificate chain|unable to (get|verify)/i,
    );
    // The same server, the same options, minus verification: it answers over TLS. This is the defect the
    // refusal above guards against, and what would pass if `pgTls` stopped verifying.
    expect(await connectHere('localhost', { ...(tls as object), rejectUnauthorized: false })).toBe(true);
  });

  it('connects over TLS once NODE_EXTRA_CA_CERTS names the CA, as trustRdsCertificates does in Lambda', async () => {
    expect(await connectInChild('localhost', { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') })).toBe(
      'encrypted',
    );
    expect(await connectInChild('localhost', {})).toMatch(
      /^refused: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN) /,
    );
  });

  it("still checks the server's name with the CA trusted: a certificate for another name is refused", async () => {
    // The certificate names `localhost` only; 127.0.0.1 is the same server under a name it does not carry.
    expect(await connectInChild('127.0.0.1', { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') })).toMatch(
      /^refused: ERR_TLS_CERT_ALTNAME_INVALID/,
    );
  });
});
