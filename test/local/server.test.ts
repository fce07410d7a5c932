import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SECURITY_HEADERS } from '../../contract/http';
import { routes } from '../../contract/routes';
import { closePool } from '../../lambda/shared/db';
import { devTokenEndpoint } from '../../local/dev-endpoints';
import { createDevTokenIssuer, type DevTokenIssuer } from '../../local/dev-tokens';
import { type LocalServer, startLocalServer } from '../../local/server';
import { whoamiRoute } from '../fixtures/whoami';
import { migratedDatabase } from '../support/database';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: LocalServer;
let tokens: DevTokenIssuer;
let postgres: TestPostgres;

beforeAll(async () => {
  postgres = await startPostgres();
  process.env.DATABASE_URL = (await migratedDatabase(postgres)).appUrl;
  process.env.NODE_ENV = 'development';
  tokens = await createDevTokenIssuer();
  server = await startLocalServer({
    tokens,
    routes: [routes.getHealth, whoamiRoute],
    corsOrigins: ['https://app.example.com'],
    devEndpoints: devTokenEndpoint(tokens),
  });
});
afterAll(async () => {
  await server.close();
  await closePool();
  await postgres.destroy();
  process.env.NODE_ENV = 'test';
});

const lowerHeaders = Object.fromEntries(
  Object.entries(SECURITY_HEADERS).map(([k, v]) => [k.toLowerCase(), v]),
);
const headersOf = (res: Response) => Object.fromEntries(res.headers.entries());

describe('local API server', () => {
  it('serves GET /v1/health through the real handler on loopback', async () => {
    const res = await fetch(`${server.url}/v1/health`);
    expect(res.status).toBe(200);
    expect(headersOf(res)).toMatchObject({
      ...lowerHeaders,
      'content-type': expect.stringMatching(/^application\/json/),
    });
    expect(headersOf(res)['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ status: 'ok', stage: expect.any(String) });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers an unknown path with a 404 problem and a wrong method with 405 + Allow', async () => {
    const notFound = await fetch(`${server.url}/v1/nope`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('content-type')).toBe('application/problem+json');
    const problem = await notFound.json();
    expect(problem).toMatchObject({ type: 'urn:citadel:problem:not-found', status: 404 });
    expect(problem.instance).toBe(notFound.headers.get('x-request-id'));

    const wrong = await fetch(`${server.url}/v1/health`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, OPTIONS');
    expect(await wrong.json()).toMatchObject({ type: 'urn:citadel:problem:method-not-allowed', status: 405 });
  });

  it('answers CORS preflight for allowed origins only', async () => {
    const ok = await fetch(`${server.url}/v1/health`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com' },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const no = await fetch(`${server.url}/v1/health`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example' },
    });
    expect(no.status).toBe(403);
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("answers its own (API Gateway's) errors readably for a listed origin only, echoing it", async () => {
    const listed = await fetch(`${server.url}/v1/test/whoami/x`, {
      headers: { Origin: 'https://app.example.com' },
    });
    expect(listed.status).toBe(401);
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(listed.headers.get('vary')).toBe('Origin');
    const machine = await fetch(`${server.url}/v1/nope`);
    expect(machine.status).toBe(404);
    expect(machine.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a page on an unlisted origin first, as the web ACL does; requests without Origin pass', async () => {
    const token = await tokens.mint({ role: 'user' });
    const foreign = await fetch(`${server.url}/v1/health`, { headers: { Origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(await foreign.json()).toMatchObject({
      type: 'urn:citadel:problem:forbidden',
      detail: expect.stringContaining('only from the origins its stage lists'),
    });
    const withToken = await fetch(`${server.url}/v1/test/whoami/x`, {
      headers: { Origin: 'https://evil.example', Authorization: `Bearer ${token}` },
    });
    expect(withToken.status).toBe(403);
    expect((await fetch(`${server.url}/v1/health`)).status).toBe(200);
  });

  it('verifies tokens like the Cognito authorizer and hands the claims to the handler', async () => {
    const anonymous = await fetch(`${server.url}/v1/test/whoami/x`);
    expect(anonymous.status).toBe(401);
    const token = await tokens.mint({ role: 'manager' });
    const ok = await fetch(`${server.url}/v1/test/whoami/bob`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ kind: 'user', id: 'dev-user-manager', role: 'manager', name: 'bob' });
    const guest = await tokens.mint({ role: 'guest' });
    const denied = await fetch(`${server.url}/v1/test/whoami/bob`, { headers: { Authorization: guest } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ type: 'urn:citadel:problem:forbidden' });
  });

  it('refuses tampered, expired and wrong-scope tokens before any handler runs', async () => {
    const good = await tokens.mint({ role: 'admin' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), 'cognito:groups': ['admin', 'x'] })).toString('base64url')}.${s}`;
    const expired = await tokens.mint({ role: 'admin', expiresInSeconds: -10 });
    const noScope = await tokens.mint({ role: 'admin', scopes: ['files.write'] });
    for (const [token, status] of [
      [tampered, 401],
      [expired, 401],
      ['not.a.jwt', 401],
      [noScope, 403],
    ] as const) {
      const res = await fetch(`${server.url}/v1/test/whoami/x`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('mints dev tokens for a role or a machine client', async () => {
    const res = await fetch(`${server.url}/_dev/token?machine=1&scope=files.read`);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const claims = await tokens.verify(accessToken);
    expect(claims).toMatchObject({
      token_use: 'access',
      client_id: 'devmachineclient',
      scope: 'citadel/files.read',
    });
    expect((await fetch(`${server.url}/_dev/token?role=root`)).status).toBe(400);
  });

  it('refuses to mint tokens outside development', async () => {
    process.env.NODE_ENV = 'production';
    try {
      await expect(createDevTokenIssuer()).rejects.toThrow(/refusing to run outside development/);
    } finally {
      process.env.NODE_ENV = 'development';
    }
  });

  it('answers generated bad requests to /v1/health with a 4xx problem, never a 5xx', async () => {
    const token = fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        fc.array(token, { maxLength: 3 }),
        fc.dictionary(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,60}$/), {
          maxKeys: 5,
        }),
        fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
        async (method, extraSegments, headers, body) => {
          const path = ['/v1/health', ...extraSegments.map(encodeURIComponent)].join('/');
          const res = await fetch(`${server.url}${path}${body && method === 'GET' ? '?q=1' : ''}`, {
            method,
            headers,
            body: method === 'GET' ? undefined : body,
          });
          const isHealth = method === 'GET' && extraSegments.length === 0 && !body;
          if (isHealth) return expect(res.status).toBe(200);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(res.headers.get('content-type')).toBe('application/problem+json');
          expect((await res.json()).instance).toBe(res.headers.get('x-request-id'));
        },
      ),
      { numRuns: 150 },
    );
  });
});
