/**
 * The admin API's routes through their real handlers and real PostgreSQL. AWS is the in-memory fake of
 * `test/support/admin-aws.ts` (Cognito app clients and users; the API-key control function behind Lambda Invoke),
 * so the tests can see which app clients exist and which keys are enabled at any time.
 */
import { randomUUID } from 'node:crypto';
import {
  AdminGetUserCommand,
  AdminSetUserMFAPreferenceCommand,
  AdminUserGlobalSignOutCommand,
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
  InvalidParameterException,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  apiClientCreateBody,
  createApiClient,
  listApiClients,
  listAuditEvents,
  resetUserMfa,
  revokeApiClient,
  rotateApiKey,
} from '../../../contract/api/admin';
import type { RouteDefinition } from '../../../contract/route';
import { handler as createHandler } from '../../../lambda/admin/create-api-client';
import { handler as listHandler } from '../../../lambda/admin/list-api-clients';
import { handler as auditHandler } from '../../../lambda/admin/list-audit-events';
import { handler as mfaHandler } from '../../../lambda/admin/reset-user-mfa';
import { handler as revokeHandler } from '../../../lambda/admin/revoke-api-client';
import { handler as rotateHandler } from '../../../lambda/admin/rotate-api-key';
import { closePool } from '../../../lambda/shared/db';
import {
  ADMIN_ENV,
  ControlFunctionError,
  cognitoThrottled,
  FakeAdminAws,
  lambdaThrottled,
  setAdminEnv,
} from '../../support/admin-aws';
import {
  AdminTables,
  type Answer,
  call,
  JSON_HEADERS,
  type ProxyHandler,
  routeEvent,
} from '../../support/admin-fixtures';
import { migratedDatabase } from '../../support/database';
import type { EventInit } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { userClaims } from '../../support/principals';

setAdminEnv();
const aws = new FakeAdminAws();
const PLANS = JSON.parse(ADMIN_ENV.CITADEL_USAGE_PLANS) as Record<string, string>;
const ADMIN_ID = 'admin-ada';
const ADMIN = userClaims('admin', ADMIN_ID);
let server: TestPostgres;
let tables: AdminTables;

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'adminroutes');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
});
beforeEach(() => {
  setAdminEnv();
  aws.resetHistory();
});
afterAll(async () => {
  aws.restore();
  await closePool();
  await server?.destroy();
});

const send = (handler: ProxyHandler, route: RouteDefinition, init: EventInit = {}) =>
  call(handler, routeEvent(route, { claims: ADMIN, requestId: randomUUID(), ...init }));

const create = (body: unknown, init: EventInit = {}) =>
  send(createHandler, createApiClient, { headers: JSON_HEADERS, body: JSON.stringify(body), ...init });
const list = (query: Record<string, string>) => send(listHandler, listApiClients, { query });
const rotate = (id: string) => send(rotateHandler, rotateApiKey, { pathParameters: { id } });
const revoke = (id: string) => send(revokeHandler, revokeApiClient, { pathParameters: { id } });
const resetMfa = (username: string) => send(mfaHandler, resetUserMfa, { pathParameters: { username } });
const audit = (query: Record<string, string>) => send(auditHandler, listAuditEvents, { query });

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const created = (a: Answer) => a.body as { client: { id: string }; clientSecret: string; apiKey: string };

/** A client made through the create route (the normal way), with its fake key and app client. */
async function newClient(name = `client ${randomUUID().slice(0, 8)}`) {
  const answer = await create({ name, scopes: ['files.read'], tier: 'standard' });
  expect(answer.status).toBe(201);
  const { client, apiKey, clientSecret } = created(answer);
  const row = await tables.client(client.id);
  if (!row) throw new Error('create answered 201 but stored no row');
  return { id: client.id, name, row, apiKey, clientSecret };
}

/** Keys the fake holds for a client, by id, with whether each is enabled. */
const keyStates = (name: string) => Object.fromEntries(aws.keysNamed(name).map((k) => [k.keyId, k.enabled]));

const expectProblem = (a: Answer, status: number, type: string) => {
  expect(a.status).toBe(status);
  expect(a.headers['Content-Type']).toBe('application/problem+json');
  expect(a.body).toMatchObject({ type: `urn:citadel:problem:${type}`, status, instance: a.requestId });
  expect(a.raw).not.toMatch(/\bat .+:\d+:\d+|Exception|\.ts\b/);
};

/** Walks every page of a listing; fails on a page that does not answer 200. */
async function walk(
  fetch: (query: Record<string, string>) => Promise<Answer>,
  query: Record<string, string>,
) {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await fetch(cursor ? { ...query, cursor } : query);
    expect(page.status).toBe(200);
    const body = page.body as { items: Array<{ id: string }>; nextCursor: string | null };
    ids.push(...body.items.map((i) => i.id));
    cursor = body.nextCursor;
    pages += 1;
    if (pages > 200) throw new Error('pagination does not end');
  } while (cursor);
  return { ids, pages };
}

describe('POST /v1/admin/api-clients', () => {
  it('creates a client-credentials app client with exactly the chosen scopes and a key in the chosen tier', async () => {
    // Act
    const answer = await create({
      name: 'Billing export',
      scopes: ['files.write', 'files.read'],
      tier: 'premium',
    });
    // Assess: the answer
    expect(answer.status).toBe(201);
    const body = answer.body as {
      client: Record<string, unknown>;
      clientSecret: string;
      apiKey: string;
      tokenEndpoint: string;
    };
    expect(body.client).toMatchObject({
      name: 'Billing export',
      scopes: ['files.write', 'files.read'],
      tier: 'premium',
      state: 'active',
      createdBy: ADMIN_ID,
      previousKeyExpiresAt: null,
      revokedAt: null,
    });
    expect(body.tokenEndpoint).toBe(ADMIN_ENV.CITADEL_TOKEN_ENDPOINT);
    // Cognito: one app client, client credentials only, a secret, exactly the qualified scopes
    const calls = aws.cognito.commandCalls(CreateUserPoolClientCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input).toMatchObject({
      UserPoolId: ADMIN_ENV.CITADEL_USER_POOL_ID,
      ClientName: 'citadel-Billing export',
      GenerateSecret: true,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['client_credentials'],
    });
    expect([...(input?.AllowedOAuthScopes ?? [])].sort()).toEqual([
      'citadel/files.read',
      'citadel/files.write',
    ]);
    const appClient = aws.appClients.get(String(body.client.clientId));
    expect(appClient?.clientSecret).toBe(body.clientSecret);
    expect(appClient?.deleted).toBe(false);
    // The key: enabled, in the premium plan, and the one returned
    expect(aws.controlRequests()).toEqual([{ action: 'create', name: 'Billing export', tier: 'premium' }]);
    const key = aws.keyByValue(body.apiKey);
    expect(key).toMatchObject({ tier: 'premium', usagePlanId: PLANS.premium, enabled: true });
    // The row and its audit event
    const row = await tables.client(String(body.client.id));
    expect(row).toMatchObject({
      name: 'Billing export',
      cognito_client_id: body.client.clientId,
      scopes: ['files.write', 'files.read'],
      tier: 'premium',
      api_key_id: key?.keyId,
      previous_api_key_id: null,
      state: 'active',
      created_by: ADMIN_ID,
    });
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        actor_id: ADMIN_ID,
        actor_kind: 'user',
        action: 'api_client.create',
        target: `api_client:${body.client.id}`,
        outcome: 'success',
        source_ip: '203.0.113.10',
        details: { tier: 'premium', scopes: ['files.write', 'files.read'] },
      }),
    ]);
  });

  it.each([[['files.read']], [['files.write']]] as const)(
    'asks Cognito for exactly %j and nothing more',
    async (scopes) => {
      const answer = await create({ name: 'single scope', scopes, tier: 'basic' });
      expect(answer.status).toBe(201);
      const input = aws.cognito.commandCalls(CreateUserPoolClientCommand)[0]?.args[0].input;
      expect(input?.AllowedOAuthScopes).toEqual(scopes.map((s) => `citadel/${s}`));
      expect(aws.keyByValue(created(answer).apiKey)?.usagePlanId).toBe(PLANS.basic);
    },
  );

  it('returns the secret and the key once and never stores them', async () => {
    // Prepare
    const { id, apiKey, clientSecret, row } = await newClient('secret keeper');
    // Act: everything the database holds, as text, and what the listing shows
    const stored = await tables.rows<{ t: string }>(
      `SELECT t::text AS t FROM citadel.api_clients t
       UNION ALL SELECT a::text FROM citadel.audit_events a
       UNION ALL SELECT f::text FROM citadel.files f`,
    );
    const listing = await list({ limit: '100' });
    // Assess
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter(({ t }) => t.includes(clientSecret) || t.includes(apiKey))).toEqual([]);
    expect(listing.raw).toContain(id);
    expect(listing.raw).not.toContain(clientSecret);
    expect(listing.raw).not.toContain(apiKey);
    expect(listing.raw).not.toContain(row.api_key_id);
    const columns = await tables.rows<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'citadel' AND table_name = 'api_clients'`,
    );
    expect(columns.map((c) => c.column_name).filter((c) => /secret|value/i.test(c))).toEqual([]);
  });

  // Cognito documents ClientName as 1–128 characters of [\w\s+=,.@-] and the handler sends `citadel-<name>`:
  // every name the contract accepts must be one Cognito takes, and every other name a 400 naming the field.
  it.each([
    ['the contract’s longest name (120 characters)', 'n'.repeat(120)],
    ['every punctuation mark the contract allows', 'Reporting prod.v2_eu-west@acme'],
    ['surrounding spaces (trimmed)', '  padded name  '],
  ])(
    'creates a client for every name the contract accepts: %s (Cognito ClientName limits)',
    async (_what, name) => {
      const answer = await create({ name, scopes: ['files.read'], tier: 'basic' });
      expect(answer.status).toBe(201);
      const input = aws.cognito.commandCalls(CreateUserPoolClientCommand)[0]?.args[0].input;
      expect(input?.ClientName).toBe(`citadel-${name.trim()}`);
    },
  );

  it('creates a client for any generated name the contract accepts (Cognito ClientName limits)', async () => {
    const accepted = fc
      .stringMatching(/^[A-Za-z0-9 ._@-]{1,140}$/)
      .filter(
        (n) => apiClientCreateBody.safeParse({ name: n, scopes: ['files.read'], tier: 'basic' }).success,
      );
    await fc.assert(
      fc.asyncProperty(accepted, async (name) => {
        aws.resetHistory();
        const answer = await create({ name, scopes: ['files.read'], tier: 'basic' });
        expect(answer.status).toBe(201);
      }),
      { numRuns: 30 },
    );
  });

  it.each([
    ['parentheses', 'Reporting (prod)'],
    ['121 characters', 'n'.repeat(121)],
    ['the contract’s old limit of 128 characters', 'n'.repeat(128)],
    ['a letter outside ASCII', 'Café export'],
    ['a tab inside', 'tab\there'],
  ])('refuses a name Cognito would not take: %s (400 naming body.name, no AWS call)', async (_what, name) => {
    const answer = await create({ name, scopes: ['files.read'], tier: 'basic' });
    expectProblem(answer, 400, 'validation');
    expect((answer.body as { errors: Array<{ in: string; path: string }> }).errors).toEqual([
      expect.objectContaining({ in: 'body', path: 'name' }),
    ]);
    expect(aws.callCount()).toBe(0);
  });

  describe('a failure at any step leaves nothing behind', () => {
    const body = { name: 'doomed client', scopes: ['files.read'], tier: 'standard' };

    async function assertNothingLeft(answer: Answer, before: number) {
      expect(await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients')).toBe(before);
      expect(aws.keysNamed('doomed client').filter((k) => k.enabled)).toEqual([]);
      expect(
        [...aws.appClients.values()].filter(
          (c) => c.input.ClientName === 'citadel-doomed client' && !c.deleted,
        ),
      ).toEqual([]);
      expect(await tables.audit(answer.requestId)).toEqual([
        expect.objectContaining({ action: 'api_client.create', outcome: 'failure', actor_id: ADMIN_ID }),
      ]);
    }

    it('Cognito throttled: 503 with Retry-After, no key asked for', async () => {
      // Prepare
      const before = await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients');
      aws.failNext('CreateUserPoolClient', cognitoThrottled());
      // Act
      const answer = await create(body);
      // Assess
      expectProblem(answer, 503, 'service-unavailable');
      expect(answer.headers['Retry-After']).toBe('10');
      expect(aws.controlRequests()).toEqual([]);
      await assertNothingLeft(answer, before);
    });

    it('Cognito refuses the client: a 500 problem without internals', async () => {
      const before = await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients');
      aws.failNext(
        'CreateUserPoolClient',
        new InvalidParameterException({ message: 'scope citadel/x does not exist', $metadata: {} }),
      );
      const answer = await create(body);
      expectProblem(answer, 500, 'internal');
      expect(answer.raw).not.toContain('citadel/x');
      expect(aws.controlRequests()).toEqual([]);
      await assertNothingLeft(answer, before);
    });

    it('the key cannot be created (control function failed): 503, the app client is deleted', async () => {
      const before = await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients');
      aws.failNext(
        'control:create',
        new ControlFunctionError('TooManyRequestsException', 'Too Many Requests'),
      );
      const answer = await create(body);
      expectProblem(answer, 503, 'service-unavailable');
      const made = [...aws.appClients.values()].at(-1);
      expect(made?.input.ClientName).toBe('citadel-doomed client');
      const deleted = aws.cognito
        .commandCalls(DeleteUserPoolClientCommand)
        .map((c) => c.args[0].input.ClientId);
      expect(deleted).toEqual([made?.clientId]);
      await assertNothingLeft(answer, before);
    });

    it('the key service is throttled (Lambda Invoke): 503, the app client is deleted', async () => {
      const before = await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients');
      aws.failNext('Invoke', lambdaThrottled());
      const answer = await create(body);
      expectProblem(answer, 503, 'service-unavailable');
      expect(aws.cognito.commandCalls(DeleteUserPoolClientCommand)).toHaveLength(1);
      await assertNothingLeft(answer, before);
    });

    it.each([
      ['the client row', 'api_clients'],
      ['the audit event in the same transaction', 'audit_events'],
    ])('the database refuses %s: 500, key disabled, app client deleted, no row', async (_what, table) => {
      // Prepare: the app role loses INSERT on one table for this request only
      const before = await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients');
      await tables.rows(`REVOKE INSERT ON citadel.${table} FROM citadel_app`);
      let answer: Answer;
      try {
        // Act
        answer = await create(body);
      } finally {
        await tables.rows(`GRANT INSERT ON citadel.${table} TO citadel_app`);
      }
      // Assess
      expectProblem(answer, 500, 'internal');
      const keys = aws.keysNamed('doomed client');
      expect(keys.length).toBeGreaterThan(0);
      expect(aws.controlRequests()).toContainEqual({
        action: 'disable',
        keyId: keys[keys.length - 1]?.keyId,
      });
      expect(aws.cognito.commandCalls(DeleteUserPoolClientCommand)).toHaveLength(1);
      expect(await tables.count('SELECT count(*)::int AS n FROM citadel.api_clients')).toBe(before);
      expect(aws.keysNamed('doomed client').filter((k) => k.enabled)).toEqual([]);
      if (table === 'api_clients') {
        await assertNothingLeft(answer, before);
      } else {
        // The failure could not be audited either (INSERT refused), but no success row was committed.
        expect((await tables.audit(answer.requestId)).filter((r) => r.outcome === 'success')).toEqual([]);
      }
    });
  });
});

describe('GET /v1/admin/api-clients', () => {
  it('walks clients created one after another page by page: newest first, none missing, none twice', async () => {
    // Prepare: more than two pages' worth, created through the route
    for (let i = 0; i < 7; i++) {
      await newClient(`paged ${i}`);
      await pause(3);
    }
    const all = await tables.rows<{ id: string }>(
      'SELECT id FROM citadel.api_clients ORDER BY created_at DESC, id DESC',
    );
    // Act
    const { ids, pages } = await walk(list, { limit: '3' });
    // Assess
    expect(all.length).toBeGreaterThan(6);
    expect(ids).toEqual(all.map((r) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(pages).toBe(Math.ceil(all.length / 3));
  });

  it('orders clients created at the same instant by id and pages through them', async () => {
    // Prepare: four clients with one creation time (millisecond-aligned)
    for (let i = 0; i < 4; i++) await tables.seedClient(aws, { createdAt: '2001-02-03T04:05:06.789Z' });
    const all = await tables.rows<{ id: string }>(
      'SELECT id FROM citadel.api_clients ORDER BY created_at DESC, id DESC',
    );
    // Act
    const { ids } = await walk(list, { limit: '2' });
    // Assess
    expect(ids).toEqual(all.map((r) => r.id));
  });

  // PostgreSQL keeps microseconds: a cursor that kept milliseconds only would start the next page before rows
  // created in the same millisecond as the last row shown, and skip them.
  it('does not skip clients created within the same millisecond as a page boundary (cursor keeps microseconds)', async () => {
    // Prepare
    for (const us of ['123456', '123455', '123454', '123453', '123452'])
      await tables.seedClient(aws, { createdAt: `2002-03-04T05:06:07.${us}Z` });
    const all = await tables.rows<{ id: string }>(
      'SELECT id FROM citadel.api_clients ORDER BY created_at DESC, id DESC',
    );
    // Act
    const { ids } = await walk(list, { limit: '2' });
    // Assess
    expect(ids).toEqual(all.map((r) => r.id));
  });
});

describe('POST /v1/admin/api-clients/{id}/rotate', () => {
  it('issues a new enabled key and keeps the old one enabled for the overlap window', async () => {
    // Prepare
    process.env.CITADEL_KEY_OVERLAP_HOURS = '6';
    const client = await newClient();
    const oldKey = client.row.api_key_id;
    // Act
    const answer = await rotate(client.id);
    // Assess
    expect(answer.status).toBe(200);
    const body = answer.body as {
      apiKey: string;
      previousKeyExpiresAt: string;
      client: Record<string, unknown>;
    };
    const fresh = aws.keyByValue(body.apiKey);
    expect(fresh).toMatchObject({ enabled: true, tier: 'standard', usagePlanId: PLANS.standard });
    expect(aws.isEnabled(oldKey)).toBe(true);
    const [row] = await tables.rows<{
      api_key_id: string;
      previous_api_key_id: string;
      previous_key_expires_at: Date;
      overlap_s: number;
      from_now_s: number;
    }>(
      `SELECT api_key_id, previous_api_key_id, previous_key_expires_at,
              extract(epoch FROM previous_key_expires_at - updated_at)::float8 AS overlap_s,
              extract(epoch FROM previous_key_expires_at - now())::float8 AS from_now_s
         FROM citadel.api_clients WHERE id = $1`,
      [client.id],
    );
    expect(row?.api_key_id).toBe(fresh?.keyId);
    expect(row?.previous_api_key_id).toBe(oldKey);
    expect(row?.overlap_s).toBe(6 * 3600);
    expect(row?.from_now_s).toBeGreaterThan(6 * 3600 - 60);
    expect(row?.from_now_s).toBeLessThanOrEqual(6 * 3600);
    expect(body.previousKeyExpiresAt).toBe(row?.previous_key_expires_at.toISOString());
    expect(body.client).toMatchObject({ id: client.id, previousKeyExpiresAt: body.previousKeyExpiresAt });
    expect(answer.raw).not.toContain(oldKey);
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        action: 'api_client.rotate',
        outcome: 'success',
        target: `api_client:${client.id}`,
        details: { overlapHours: 6, supersededEarly: false },
      }),
    ]);
  });

  it('rotating twice disables the oldest key at once: never more than two valid keys', async () => {
    // Prepare
    const client = await newClient();
    const k0 = client.row.api_key_id;
    expect((await rotate(client.id)).status).toBe(200);
    const k1 = (await tables.client(client.id))?.api_key_id as string;
    // Act
    const answer = await rotate(client.id);
    // Assess
    expect(answer.status).toBe(200);
    const row = await tables.client(client.id);
    const k2 = row?.api_key_id as string;
    expect(row?.previous_api_key_id).toBe(k1);
    expect(keyStates(client.name)).toEqual({ [k0]: false, [k1]: true, [k2]: true });
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        action: 'api_client.rotate',
        details: expect.objectContaining({ supersededEarly: true }),
      }),
    ]);
  });

  it('concurrent rotations leave exactly the keys the row names enabled', async () => {
    // Prepare
    const client = await newClient();
    // Act
    const answers = await Promise.all([rotate(client.id), rotate(client.id), rotate(client.id)]);
    // Assess
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(200);
    expect(statuses.filter((s) => s !== 200 && s !== 409)).toEqual([]);
    for (const a of answers.filter((x) => x.status === 409)) expectProblem(a, 409, 'conflict');
    const row = await tables.client(client.id);
    const enabled = aws
      .keysNamed(client.name)
      .filter((k) => k.enabled)
      .map((k) => k.keyId);
    expect(enabled.sort()).toEqual([row?.api_key_id, row?.previous_api_key_id].sort());
  });

  it('a failed key creation changes nothing', async () => {
    const client = await newClient();
    aws.failNext('control:create', new ControlFunctionError('TooManyRequestsException', 'Too Many Requests'));
    const answer = await rotate(client.id);
    expectProblem(answer, 503, 'service-unavailable');
    expect(await tables.client(client.id)).toEqual(client.row);
    expect(keyStates(client.name)).toEqual({ [client.row.api_key_id]: true });
  });

  // Were the superseded key disabled after the commit, inside the try whose catch disables the fresh key, a failed
  // disable would switch off the committed current key and leave the oldest key enabled with no row naming it
  // (neither the expiry job nor a revoke would ever disable it).
  it('a failure disabling the superseded key never disables the current key nor strands an enabled key', async () => {
    // Prepare: one rotation done, so the next one supersedes an overlapping key early
    const client = await newClient();
    expect((await rotate(client.id)).status).toBe(200);
    aws.failNext(
      'control:disable',
      new ControlFunctionError('TooManyRequestsException', 'Too Many Requests'),
    );
    // Act
    const answer = await rotate(client.id);
    // Assess: whatever the answer, the keys the row names are enabled and no other key is
    expect([200, 503]).toContain(answer.status);
    const row = await tables.client(client.id);
    expect(aws.isEnabled(row?.api_key_id as string)).toBe(true);
    const enabled = aws
      .keysNamed(client.name)
      .filter((k) => k.enabled)
      .map((k) => k.keyId);
    expect(enabled.sort()).toEqual([row?.api_key_id, row?.previous_api_key_id].sort());
  });

  it('answers 404 for an unknown client without touching AWS', async () => {
    const answer = await rotate(randomUUID());
    expectProblem(answer, 404, 'not-found');
    expect(aws.callCount()).toBe(0);
  });
});

describe('DELETE /v1/admin/api-clients/{id}', () => {
  it('disables every key, deletes the Cognito app client and marks the row revoked', async () => {
    // Prepare: a client with two valid keys (mid-overlap)
    const client = await newClient();
    expect((await rotate(client.id)).status).toBe(200);
    const before = await tables.client(client.id);
    aws.resetHistory();
    // Act
    const answer = await revoke(client.id);
    // Assess
    expect(answer.status).toBe(204);
    expect(answer.raw).toBe('');
    expect(Object.values(keyStates(client.name))).toEqual([false, false]);
    expect(aws.controlRequests()).toEqual(
      expect.arrayContaining([
        { action: 'disable', keyId: before?.api_key_id },
        { action: 'disable', keyId: before?.previous_api_key_id },
      ]),
    );
    expect(aws.cognito.commandCalls(DeleteUserPoolClientCommand).map((c) => c.args[0].input)).toEqual([
      { UserPoolId: ADMIN_ENV.CITADEL_USER_POOL_ID, ClientId: client.row.cognito_client_id },
    ]);
    expect(aws.appClients.get(client.row.cognito_client_id)?.deleted).toBe(true);
    expect(await tables.client(client.id)).toMatchObject({
      state: 'revoked',
      revoked_at: expect.any(Date),
      previous_api_key_id: null,
      previous_key_expires_at: null,
    });
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        action: 'api_client.revoke',
        outcome: 'success',
        target: `api_client:${client.id}`,
      }),
    ]);
  });

  it('is idempotent: revoking again answers 204 and touches nothing; the client can no longer be rotated', async () => {
    // Prepare
    const client = await newClient();
    expect((await revoke(client.id)).status).toBe(204);
    const revoked = await tables.client(client.id);
    aws.resetHistory();
    // Act
    const again = await revoke(client.id);
    const rotated = await rotate(client.id);
    // Assess
    expect(again.status).toBe(204);
    expect(await tables.client(client.id)).toEqual(revoked);
    expect(await tables.audit(again.requestId)).toEqual([]);
    expectProblem(rotated, 404, 'not-found');
    expect(aws.callCount()).toBe(0);
    expect(aws.enabledKeyIds()).not.toContain(client.row.api_key_id);
  });

  it('Cognito throttled: 503, the row stays active, and a retry completes the revocation', async () => {
    const client = await newClient();
    aws.failNext('DeleteUserPoolClient', cognitoThrottled());
    const first = await revoke(client.id);
    expectProblem(first, 503, 'service-unavailable');
    expect((await tables.client(client.id))?.state).toBe('active');
    const retry = await revoke(client.id);
    expect(retry.status).toBe(204);
    expect((await tables.client(client.id))?.state).toBe('revoked');
    expect(aws.appClients.get(client.row.cognito_client_id)?.deleted).toBe(true);
  });

  it('answers 404 for an unknown client without touching AWS', async () => {
    expectProblem(await revoke(randomUUID()), 404, 'not-found');
    expect(aws.callCount()).toBe(0);
  });
});

describe('POST /v1/admin/users/{username}/mfa-reset', () => {
  it('clears every MFA factor and signs the user out everywhere', async () => {
    // Prepare
    const user = aws.addUser(`6f1c${randomUUID().slice(4)}`);
    // Act
    const answer = await resetMfa(user.username);
    // Assess
    expect(answer.status).toBe(204);
    const pool = ADMIN_ENV.CITADEL_USER_POOL_ID;
    expect(aws.cognito.calls().map((c) => c.args[0].constructor.name)).toEqual([
      AdminGetUserCommand.name,
      AdminSetUserMFAPreferenceCommand.name,
      AdminUserGlobalSignOutCommand.name,
    ]);
    expect(aws.cognito.commandCalls(AdminSetUserMFAPreferenceCommand)[0]?.args[0].input).toEqual({
      UserPoolId: pool,
      Username: user.username,
      SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false },
      SMSMfaSettings: { Enabled: false, PreferredMfa: false },
      EmailMfaSettings: { Enabled: false, PreferredMfa: false },
    });
    expect(aws.cognito.commandCalls(AdminUserGlobalSignOutCommand)[0]?.args[0].input).toEqual({
      UserPoolId: pool,
      Username: user.username,
    });
    expect(user.mfa).toEqual({ software: false, sms: false, email: false });
    expect(user.signedOutAt).toEqual(expect.any(Number));
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        actor_id: ADMIN_ID,
        action: 'user.mfa_reset',
        target: `user:${user.username}`,
        outcome: 'success',
      }),
    ]);
  });

  it('answers 404 for an unknown user, changes nothing and audits the failure', async () => {
    const answer = await resetMfa('no-such-user');
    expectProblem(answer, 404, 'not-found');
    expect(aws.cognito.commandCalls(AdminSetUserMFAPreferenceCommand)).toHaveLength(0);
    expect(aws.cognito.commandCalls(AdminUserGlobalSignOutCommand)).toHaveLength(0);
    expect(await tables.audit(answer.requestId)).toEqual([
      expect.objectContaining({
        action: 'user.mfa_reset',
        target: 'user:no-such-user',
        outcome: 'failure',
        details: { reason: 'no such user' },
      }),
    ]);
  });

  it('answers 503 with Retry-After when Cognito throttles, and signs nobody out', async () => {
    const user = aws.addUser('throttled-user');
    aws.failNext('AdminSetUserMFAPreference', cognitoThrottled());
    const answer = await resetMfa(user.username);
    expectProblem(answer, 503, 'service-unavailable');
    expect(answer.headers['Retry-After']).toBe('10');
    expect(user.signedOutAt).toBeUndefined();
  });
});

describe('GET /v1/admin/audit', () => {
  const BASE = Date.parse('2011-06-01T00:00:00.000Z');
  const at = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();
  const SEED = [
    { m: 0, actor: 'auditor-a', action: 'file.download' },
    { m: 1, actor: 'auditor-b', action: 'file.download' },
    { m: 2, actor: 'auditor-a', action: 'api_client.rotate' },
    { m: 3, actor: 'auditor-a', action: 'file.download' },
    { m: 4, actor: 'auditor-b', action: 'api_client.rotate' },
    { m: 5, actor: 'auditor-a', action: 'user.mfa_reset' },
    { m: 6, actor: 'auditor-a', action: 'file.download' },
    { m: 7, actor: 'auditor-b', action: 'file.download' },
    { m: 8, actor: 'auditor-a', action: 'api_client.rotate' },
    { m: 9, actor: 'auditor-a', action: 'file.download' },
  ];
  const ids = new Map<number, string>();

  beforeAll(async () => {
    for (const e of SEED) {
      const [row] = await tables.rows<{ id: string }>(
        `INSERT INTO citadel.audit_events (occurred_at, actor_id, actor_kind, action, target, outcome, request_id)
         VALUES ($1, $2, 'user', $3, 'file:x', 'success', $4) RETURNING id::text`,
        [at(e.m), e.actor, e.action, `seed-${e.m}`],
      );
      ids.set(e.m, row?.id as string);
    }
  });

  const expectedIds = (keep: (e: (typeof SEED)[number]) => boolean) =>
    SEED.filter(keep)
      .sort((x, y) => y.m - x.m)
      .map((e) => ids.get(e.m));

  it('filters by actor, newest first, across pages', async () => {
    const { ids: got, pages } = await walk(audit, { actor: 'auditor-a', limit: '2' });
    expect(got).toEqual(expectedIds((e) => e.actor === 'auditor-a'));
    expect(pages).toBe(4);
  });

  it('filters by action within a time range (both ends inclusive), across pages', async () => {
    const { ids: got } = await walk(audit, {
      action: 'file.download',
      from: at(1),
      to: at(7),
      limit: '1',
    });
    expect(got).toEqual(expectedIds((e) => e.action === 'file.download' && e.m >= 1 && e.m <= 7));
  });

  it('combines actor, action and time range, and accepts offsets other than Z', async () => {
    const { ids: got } = await walk(audit, {
      actor: 'auditor-a',
      action: 'api_client.rotate',
      from: '2011-06-01T02:01:00+02:00',
      limit: '5',
    });
    expect(got).toEqual(
      expectedIds((e) => e.actor === 'auditor-a' && e.action === 'api_client.rotate' && e.m >= 1),
    );
  });

  it('lists the newest events first and shows each event’s fields', async () => {
    const answer = await audit({ actor: 'auditor-b', limit: '100' });
    expect(answer.status).toBe(200);
    const items = (answer.body as { items: Array<Record<string, unknown>> }).items;
    expect(items.map((i) => i.occurredAt)).toEqual([at(7), at(4), at(1)]);
    expect(items[0]).toEqual({
      id: ids.get(7),
      occurredAt: at(7),
      actorId: 'auditor-b',
      actorKind: 'user',
      action: 'file.download',
      target: 'file:x',
      outcome: 'success',
      requestId: 'seed-7',
      sourceIp: null,
      details: {},
    });
    expect((answer.body as { nextCursor: unknown }).nextCursor).toBeNull();
  });

  it('finds the events the admin routes wrote, by actor and action', async () => {
    const client = await newClient();
    const answer = await audit({ actor: ADMIN_ID, action: 'api_client.create', limit: '1' });
    expect(answer.status).toBe(200);
    expect((answer.body as { items: Array<Record<string, unknown>> }).items).toEqual([
      expect.objectContaining({
        target: `api_client:${client.id}`,
        sourceIp: '203.0.113.10',
        outcome: 'success',
      }),
    ]);
  });

  // As for the api-clients listing: the cursor must keep the microseconds of occurred_at.
  it('does not skip events recorded within the same millisecond across a page boundary (cursor keeps microseconds)', async () => {
    // Prepare: a burst of five events inside one millisecond
    for (const us of ['000900', '000700', '000500', '000300', '000100']) {
      await tables.rows(
        `INSERT INTO citadel.audit_events (occurred_at, actor_id, actor_kind, action, outcome)
         VALUES ($1, 'burst-actor', 'anonymous', 'access.denied', 'denied')`,
        [`2012-01-01T00:00:00.${us}Z`],
      );
    }
    // Act
    const { ids: got } = await walk(audit, { actor: 'burst-actor', limit: '2' });
    // Assess
    expect(got).toHaveLength(5);
  });
});
