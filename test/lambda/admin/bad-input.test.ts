/**
 * Generated bad input (fast-check) against every admin route, GET /v1/me and GET /v1/admin/audit, through the
 * real handlers and real PostgreSQL: junk bodies, hostile path ids and user names, bad query filters and bad
 * claims. Every answer must be a 4xx problem+json naming the request id, with no stack trace; no AWS call may
 * be made and nothing may be written but the audit rows that record refused callers.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import {
  createApiClient,
  listApiClients,
  listAuditEvents,
  MACHINE_SCOPES,
  resetUserMfa,
  revokeApiClient,
  rotateApiKey,
  TIERS,
} from '../../../contract/api/admin';
import { getMe } from '../../../contract/api/me';
import { ROLES, type Scope } from '../../../contract/roles';
import type { RouteDefinition } from '../../../contract/route';
import { handler as createHandler } from '../../../lambda/admin/create-api-client';
import { handler as listHandler } from '../../../lambda/admin/list-api-clients';
import { handler as auditHandler } from '../../../lambda/admin/list-audit-events';
import { handler as mfaHandler } from '../../../lambda/admin/reset-user-mfa';
import { handler as revokeHandler } from '../../../lambda/admin/revoke-api-client';
import { handler as rotateHandler } from '../../../lambda/admin/rotate-api-key';
import { handler as meHandler } from '../../../lambda/me/get-me';
import { closePool } from '../../../lambda/shared/db';
import { FakeAdminAws, setAdminEnv } from '../../support/admin-aws';
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
import { machineClaims, userClaims } from '../../support/principals';

setAdminEnv();
const aws = new FakeAdminAws();
const ADMIN = userClaims('admin', 'fuzz-admin');
const RUNS = { small: 60, medium: 120, large: 250 } as const;
let server: TestPostgres;
let tables: AdminTables;
let clientId: string;
let baseline: { clients: string[]; written: number };
let generated = 0;

const snapshot = async () => ({
  clients: (
    await tables.rows<{ t: string }>('SELECT t::text AS t FROM citadel.api_clients t ORDER BY id')
  ).map((r) => r.t),
  written: await tables.count(
    "SELECT count(*)::int AS n FROM citadel.audit_events WHERE outcome <> 'denied'",
  ),
});

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'badinput');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
  // A real client and a real user, so that a request wrongly let through would act on something.
  clientId = (await tables.seedClient(aws, { name: 'fuzz target' })).id;
  aws.addUser('fuzz-user');
});
beforeEach(async () => {
  aws.resetHistory();
  baseline = await snapshot();
});
afterEach(async () => {
  // Nothing written, nothing asked of AWS — whatever the test generated.
  expect(aws.callCount()).toBe(0);
  expect(await snapshot()).toEqual(baseline);
});
afterAll(async () => {
  console.info(`bad input: ${generated} generated inputs run (fast-check, shrinking included)`);
  aws.restore();
  await closePool();
  await server?.destroy();
});

// ---- Requests ---------------------------------------------------------------------------------------------

interface Target {
  readonly route: RouteDefinition;
  readonly handler: ProxyHandler;
  /** A valid request apart from what a test replaces. */
  readonly valid: () => EventInit;
}

const VALID_BODY = { name: 'fuzz client', scopes: ['files.read'], tier: 'basic' };

const TARGETS = {
  create: {
    route: createApiClient,
    handler: createHandler,
    valid: () => ({ headers: JSON_HEADERS, body: JSON.stringify(VALID_BODY) }),
  },
  list: { route: listApiClients, handler: listHandler, valid: () => ({ query: { limit: '10' } }) },
  rotate: {
    route: rotateApiKey,
    handler: rotateHandler,
    valid: () => ({ pathParameters: { id: clientId } }),
  },
  revoke: {
    route: revokeApiClient,
    handler: revokeHandler,
    valid: () => ({ pathParameters: { id: clientId } }),
  },
  mfa: {
    route: resetUserMfa,
    handler: mfaHandler,
    valid: () => ({ pathParameters: { username: 'fuzz-user' } }),
  },
  audit: { route: listAuditEvents, handler: auditHandler, valid: () => ({ query: { limit: '10' } }) },
  me: { route: getMe, handler: meHandler, valid: () => ({}) },
} satisfies Record<string, Target>;
const ALL_TARGETS: readonly Target[] = Object.values(TARGETS);

const NO_CLAIMS = Symbol('no authorizer');

/** Sends `init` with `claims` as the authorizer's claims (`NO_CLAIMS`: no authorizer at all). */
async function send(target: Target, init: EventInit, claims: unknown): Promise<Answer> {
  const event: APIGatewayProxyEvent = routeEvent(target.route, { ...init, requestId: randomUUID() });
  (event.requestContext as { authorizer: unknown }).authorizer = claims === NO_CLAIMS ? null : { claims };
  return call(target.handler, event);
}

const STACK = /\bat (?:async )?[\w.<>$]+ \(|\bat file:|node_modules|\/work\/|\.ts:\d+:\d+|\.js:\d+:\d+/;

/** A 4xx problem+json naming the request id, carrying nothing but the problem fields. */
function expectRefused(answer: Answer, statuses?: readonly number[]): void {
  const context = `${answer.status} ${answer.raw.slice(0, 300)}`;
  if (answer.status < 400 || answer.status > 499 || (statuses && !statuses.includes(answer.status)))
    throw new Error(`expected a ${statuses?.join('/') ?? '4xx'} problem, got ${context}`);
  expect(answer.headers['Content-Type']).toBe('application/problem+json');
  expect(answer.headers['x-request-id']).toBe(answer.requestId);
  const body = answer.body ?? {};
  expect(body).toMatchObject({
    type: expect.stringMatching(/^urn:citadel:problem:[a-z-]+$/),
    title: expect.any(String),
    status: answer.status,
    detail: expect.any(String),
    instance: answer.requestId,
  });
  expect(
    Object.keys(body).filter((k) => !['type', 'title', 'status', 'detail', 'instance', 'errors'].includes(k)),
  ).toEqual([]);
  expect(answer.raw).not.toMatch(STACK);
  expect(aws.callCount()).toBe(0);
}

/** Checks `predicate` on `numRuns` generated inputs (shrinking included), counting every input run. */
const run = <T>(inputs: fc.Arbitrary<T>, predicate: (input: T) => Promise<void>, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      generated += 1;
      await predicate(input);
    }),
    { numRuns },
  );

// ---- Generators -------------------------------------------------------------------------------------------

const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);
const control = fc
  .oneof(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 127, max: 159 }))
  .map((c) => String.fromCharCode(c));
const withInside = (middle: fc.Arbitrary<string>) =>
  fc.tuple(word, middle, word).map(([a, m, b]) => `${a}${m}${b}`);

const badName = fc.oneof(
  notAString,
  fc.constantFrom('', '   ', '\t\n'),
  fc.integer({ min: 129, max: 4000 }).map((n) => 'n'.repeat(n)),
  fc.string({ minLength: 129, maxLength: 600 }).map((s) => `x${s.replaceAll(' ', '_')}`.padEnd(129, 'y')),
  withInside(control),
  withInside(
    fc.constantFrom(
      '/',
      '\\',
      '<',
      '>',
      '"',
      "'",
      ';',
      '{',
      '}',
      '$',
      '%',
      '&',
      '*',
      '!',
      '?',
      '#',
      '`',
      '|',
      '=',
      '+',
      ',',
      ':',
    ),
  ),
);
const unknownScope = fc.oneof(
  fc.constantFrom(
    'admin',
    'citadel/admin',
    'citadel/files.read',
    'FILES.READ',
    'files.read ',
    'files.delete',
    '*',
    '',
  ),
  fc.string({ maxLength: 20 }).filter((s) => !(MACHINE_SCOPES as readonly string[]).includes(s)),
);
const badScopes = fc.oneof(
  notAString.filter((v) => !Array.isArray(v)),
  fc.string(),
  fc.constant([]),
  fc.array(unknownScope, { minLength: 1, maxLength: 2 }),
  fc.constantFrom(['admin'], ['files.read', 'admin'], ['files.write', 'admin'], ['files.read', 'files.read']),
  fc.constant(['files.read', 'files.write', 'files.read']),
  fc.array(notAString, { minLength: 1, maxLength: 2 }),
);
const badTier = fc.oneof(
  notAString,
  fc.constantFrom('BASIC', 'gold', 'free', 'premium ', '', 'enterprise'),
  fc.string({ maxLength: 20 }).filter((s) => !(TIERS as readonly string[]).includes(s)),
);
const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};
const omit = (key: 'name' | 'scopes' | 'tier') =>
  Object.fromEntries(Object.entries(VALID_BODY).filter(([k]) => k !== key));

/** Bodies for the create route, each invalid by construction, with the headers to send them with. */
const badBody: fc.Arbitrary<EventInit> = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((s) => !isJson(s)),
    fc
      .oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }))
      .map((v) => JSON.stringify(v)),
    badName.map((name) => JSON.stringify({ ...VALID_BODY, name })),
    badScopes.map((scopes) => JSON.stringify({ ...VALID_BODY, scopes })),
    badTier.map((tier) => JSON.stringify({ ...VALID_BODY, tier })),
    fc.constantFrom('name', 'scopes', 'tier' as const).map((k) => JSON.stringify(omit(k))),
    fc
      .dictionary(
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !['name', 'scopes', 'tier'].includes(k)),
        fc.jsonValue({ maxDepth: 1 }),
        { minKeys: 1, maxKeys: 3 },
      )
      .map((extra) => JSON.stringify({ ...VALID_BODY, ...extra })),
    fc
      .integer({ min: 64 * 1024, max: 80_000 })
      .map((n) => JSON.stringify({ ...VALID_BODY, name: 'a'.repeat(n) })),
  )
  .map((body) => ({ headers: JSON_HEADERS, body }));

/** A valid body sent without (or with the wrong) media type. */
const wrongMediaType: fc.Arbitrary<EventInit> = fc
  .constantFrom(
    undefined,
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=latin1',
    'json',
  )
  .map((type) => ({
    headers: type ? { 'content-type': type } : ({} as Record<string, string>),
    body: JSON.stringify(VALID_BODY),
  }));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const badId = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).filter((s) => !UUID.test(s)),
  fc.constantFrom(
    '../',
    '..%2F..%2Fetc%2Fpasswd',
    '../../admin/audit',
    '\u0000',
    'a\u0000b',
    '',
    ' ',
    '%00',
    'null',
  ),
  fc.uuid().map((u) => `${u}/..`),
  fc.uuid().map((u) => `${u}\u0000`),
  fc.uuid().map((u) => ` ${u}`),
  fc.integer({ min: 37, max: 5000 }).map((n) => 'f'.repeat(n)),
  // Well-formed but unknown: a 404, and still no AWS call.
  fc.uuid(),
);
const badUsername = fc.oneof(
  fc.constant(''),
  withInside(fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u2028', '\u3000')),
  withInside(control),
  word.map((w) => `${w}\u0000`),
  fc.integer({ min: 129, max: 3000 }).map((n) => 'u'.repeat(n)),
  fc.string({ unit: 'binary', minLength: 129, maxLength: 400 }),
);

const isValidLimit = (s: string) => {
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= 100;
};
const badLimit = fc.oneof(
  fc.integer({ max: 0 }).map(String),
  fc.integer({ min: 101 }).map(String),
  fc
    .double({ noNaN: true })
    .filter((d) => !Number.isInteger(d))
    .map(String),
  fc.string({ maxLength: 10 }).filter((s) => !isValidLimit(s)),
  fc.constantFrom('NaN', 'Infinity', '-1', '1e3', '0x65', 'ten', '', '5 apples'),
);

/** Mirrors what a cursor must decode to ([ISO date, id]); generated cursors must not. */
const decodesToPosition = (cursor: string) => {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string';
  } catch {
    return false;
  }
};
const aDate = fc.date({
  min: new Date('1990-01-01T00:00:00Z'),
  max: new Date('2090-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const badCursor = fc.oneof(
  fc.constant(''),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s)),
  fc.integer({ min: 513, max: 2000 }).map((n) => 'A'.repeat(n)),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/).filter((s) => !decodesToPosition(s)),
  fc
    .jsonValue({ maxDepth: 2 })
    .filter(
      (v) => !(Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string'),
    )
    .map(b64),
  fc
    .tuple(
      fc.string({ maxLength: 20 }).filter((s) => Number.isNaN(new Date(s).getTime())),
      fc.string({ minLength: 1, maxLength: 8 }),
    )
    .map(b64),
  fc.constantFrom(['2024-01-01T00:00:00.000Z', ''], ['2024-01-01T00:00:00.000Z', 'x'.repeat(65)]).map(b64),
  // The right shape, but an id no listing has (neither a UUID nor a bigint), or an instant PostgreSQL cannot
  // hold or that is not at microsecond precision (cursors carry the stored timestamp exactly).
  fc
    .tuple(
      fc.constant('2024-01-01T00:00:00.000000Z'),
      fc.string({ maxLength: 70 }).filter((s) => !UUID.test(s) && !/^\d+$/.test(s)),
    )
    .map(b64),
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          '-200000-01-01T00:00:00.000000Z',
          '+275760-09-13T00:00:00.000000Z',
          '0000-01-01T00:00:00.000000Z',
          '2024-02-30T00:00:00.000000Z',
          '2023-02-29T00:00:00.000000Z',
          '2024-01-01T24:00:00.000000Z',
          '2024-01-01T00:00:60.000000Z',
          '2024-01-01T00:00:00.000000+16:00',
          'infinity',
          '-infinity',
          'epoch',
          'now',
        ),
        aDate.map((d) => d.toISOString()),
      ),
      fc.constantFrom('1', '9223372036854775807', '6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b'),
    )
    .map(b64),
  fc
    .constantFrom('9223372036854775808', '-1', '01', '1.0', '1e3')
    .map((id) => b64(['2024-01-01T00:00:00.000000Z', id])),
);
const badDate = fc.oneof(
  fc.constantFrom(
    '2024-13-01T00:00:00Z',
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:60:00Z',
    '2024-01-01T00:00:60Z',
    '2024-01-01',
    '2024-01-01T00:00:00',
    '2024-01-01 00:00:00Z',
    '2024-01-01T00:00:00+99:99',
    ' 2024-01-01T00:00:00Z',
    'yesterday',
    'now',
    '1700000000',
    '',
  ),
  aDate.map((d) => d.toISOString().slice(0, 19)),
  aDate.map((d) => d.toString()),
  fc.tuple(aDate, fc.string({ minLength: 1, maxLength: 5 })).map(([d, junk]) => `${d.toISOString()}${junk}`),
  fc.string({ maxLength: 25 }).filter((s) => !/^\d{4}-\d{2}-\d{2}T/.test(s)),
  // Well-formed ISO 8601 that PostgreSQL refuses: year 0000, UTC offsets beyond ±15:59.
  aDate.map((d) => `0000${d.toISOString().slice(4)}`),
  fc
    .tuple(
      aDate,
      fc.constantFrom('+', '-'),
      fc.integer({ min: 16, max: 23 }),
      fc.integer({ min: 0, max: 59 }),
    )
    .map(
      ([d, sign, h, m]) =>
        `${d.toISOString().slice(0, 19)}${sign}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`,
    ),
);
const fromAfterTo = fc
  .tuple(aDate, fc.integer({ min: 1, max: 10 ** 9 }))
  .map(([to, ms]) => ({ from: new Date(to.getTime() + ms).toISOString(), to: to.toISOString() }));
const unknownParams = (allowed: readonly string[]) =>
  fc.dictionary(
    fc.string({ maxLength: 12 }).filter((k) => !allowed.includes(k)),
    fc.string({ maxLength: 12 }),
    { minKeys: 1, maxKeys: 3 },
  );

/** Query strings each invalid by construction, for a route whose allowed parameters are `allowed`. */
const badQuery = (allowed: readonly string[]): fc.Arbitrary<Record<string, string | string[]>> => {
  const common = [
    badLimit.map((limit) => ({ limit })),
    badCursor.map((cursor) => ({ cursor })),
    unknownParams(allowed).map((extra) => ({ limit: '10', ...extra })),
    fc
      .tuple(word, word)
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => ({ limit: '10', cursor: [a, b] })),
    fc
      .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }))
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => ({ limit: [String(a), String(b)] })),
  ];
  if (!allowed.includes('actor')) return fc.oneof(...common);
  return fc.oneof(
    ...common,
    badDate.map((from) => ({ from })),
    badDate.map((to) => ({ to })),
    fromAfterTo,
    fc
      .oneof(
        fc.constant(''),
        fc.integer({ min: 257, max: 2000 }).map((n) => 'a'.repeat(n)),
        withInside(control),
        word.map((w) => `${w}\u0000`),
      )
      .map((actor) => ({ actor })),
    fc
      .string({ maxLength: 70 })
      .filter((a) => !/^[a-z][a-z0-9_.]{1,63}$/.test(a))
      .map((action) => ({ action })),
  );
};

// ---- Claims -----------------------------------------------------------------------------------------------

const stringish = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  notAString,
  fc.integer({ min: 257, max: 600 }).map((n) => 's'.repeat(n)),
);
const without = (claims: Record<string, unknown>, key: string, value: unknown) => {
  const copy: Record<string, unknown> = { ...claims };
  if (value === undefined) delete copy[key];
  else copy[key] = value;
  return copy;
};

/** Claims no route accepts: a 401 everywhere (or the 403 of an anonymous-looking caller). */
const unauthenticated = fc.oneof(
  fc.constantFrom<unknown>(NO_CLAIMS, undefined, null, {}, [], 'token', 42),
  fc.anything({ maxDepth: 1 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  fc
    .oneof(
      fc.constant(undefined),
      fc.constantFrom('id', 'refresh', 'ACCESS', 'access ', ''),
      notAString,
      fc.string(),
    )
    .filter((t) => t !== 'access')
    .map((t) => without(ADMIN, 'token_use', t)),
  stringish.map((sub) => without(ADMIN, 'sub', sub)),
  stringish.map((cid) => without(ADMIN, 'client_id', cid)),
  // Contradictory: no user name, and subject ≠ client, or a group on a machine token
  fc
    .tuple(word, word)
    .filter(([a, b]) => a !== b)
    .map(([sub, cid]) => ({ ...machineClaims(cid, ['files.read']), sub })),
  fc
    .constantFrom(...ROLES)
    .map((g) => ({ ...machineClaims('fuzzbot', ['files.read', 'files.write']), 'cognito:groups': g })),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.anything({ maxDepth: 1 }), { maxKeys: 6 }),
);

/** Authenticated but refused on admin routes (and on the audit log): wrong group, no admin scope, a machine. */
const notAnAdmin = fc.oneof(
  fc
    .array(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/).filter((g) => !(ROLES as readonly string[]).includes(g)),
      {
        minLength: 1,
        maxLength: 3,
      },
    )
    .map((groups) => ({ ...ADMIN, 'cognito:groups': groups.join(',') })),
  fc
    .constantFrom(
      '',
      'openid',
      'citadel/Admin',
      'admin',
      'citadel/admin.all',
      'other/admin',
      'citadel/files.read citadel/files.write',
      'citadeladmin',
    )
    .map((scope) => ({ ...ADMIN, scope })),
  fc
    .constantFrom<Scope[]>(['admin'], ['files.read', 'files.write', 'admin'])
    .map((s) => machineClaims('fuzzbot', s)),
  fc.constantFrom('guest', 'user').map((role) => userClaims(role, `fuzz-${role}`)),
);

/** Refused on GET /v1/me too: no citadel scope at all. */
const noScope = fc
  .constantFrom(
    '',
    'openid',
    'citadel/Admin',
    'other/admin',
    'citadel/files',
    'citadel/files.read.all',
    'citadel:admin',
  )
  .map((scope) => ({ ...userClaims('admin', 'fuzz-noscope'), scope }));

// ---- Properties -------------------------------------------------------------------------------------------

describe('generated bad input is refused with a 4xx problem, writes nothing and calls no AWS service', () => {
  it('POST /v1/admin/api-clients: junk JSON, wrong types, extra keys, huge strings, control characters, unknown scopes/tiers, the admin scope', async () => {
    await run(
      badBody,
      async (init) => expectRefused(await send(TARGETS.create, init, ADMIN), [400, 413]),
      RUNS.large,
    );
    await run(
      wrongMediaType,
      async (init) => expectRefused(await send(TARGETS.create, init, ADMIN), [415]),
      RUNS.small,
    );
  });

  it.each([
    ['POST /v1/admin/api-clients/{id}/rotate', TARGETS.rotate],
    ['DELETE /v1/admin/api-clients/{id}', TARGETS.revoke],
  ])('%s: non-UUIDs, ../, NUL, very long and unknown ids', async (_name, target) => {
    await run(
      badId,
      async (id) =>
        expectRefused(await send(target, { pathParameters: { id } }, ADMIN), UUID.test(id) ? [404] : [400]),
      RUNS.medium,
    );
    expectRefused(await send(target, { pathParameters: undefined }, ADMIN), [400]);
  });

  it('POST /v1/admin/users/{username}/mfa-reset: empty, spaces, control characters, NUL, very long', async () => {
    await run(
      badUsername,
      async (username) =>
        expectRefused(await send(TARGETS.mfa, { pathParameters: { username } }, ADMIN), [400]),
      RUNS.medium,
    );
  });

  it.each([
    ['GET /v1/admin/api-clients', TARGETS.list, ['cursor', 'limit']],
    ['GET /v1/admin/audit', TARGETS.audit, ['actor', 'action', 'from', 'to', 'cursor', 'limit']],
  ])(
    '%s: bad cursors, dates, from > to, limits, unknown and repeated parameters',
    async (_name, target, allowed) => {
      await run(
        badQuery(allowed),
        async (query) => expectRefused(await send(target, { query }, ADMIN), [400]),
        RUNS.large,
      );
    },
  );

  it.each([
    ['rotate', TARGETS.rotate],
    ['revoke', TARGETS.revoke],
    ['mfa-reset', TARGETS.mfa],
    ['GET /v1/me', TARGETS.me],
    ['api-clients list', TARGETS.list],
    ['audit', TARGETS.audit],
  ])('%s: a body, or a query string where the route takes none', async (_name, target) => {
    const takesQuery = target.route.query !== undefined;
    await run(
      fc.oneof(
        fc
          .string({ minLength: 1, maxLength: 200 })
          .filter((s) => s.trim() !== '')
          .map((body) => ({ body })),
        fc.jsonValue().map((v) => ({ body: JSON.stringify(v), headers: JSON_HEADERS })),
        ...(takesQuery ? [] : [unknownParams([]).map((query) => ({ query }))]),
      ),
      async (extra) => expectRefused(await send(target, { ...target.valid(), ...extra }, ADMIN), [400]),
      RUNS.small,
    );
  });

  it.each(ALL_TARGETS.map((t) => [`${t.route.method} ${t.route.path}`, t] as const))(
    '%s: garbled, missing and contradictory claims, wrong token_use',
    async (_name, target) => {
      await run(
        unauthenticated,
        async (claims) => expectRefused(await send(target, target.valid(), claims), [401, 403]),
        RUNS.small,
      );
    },
  );

  it.each(
    ALL_TARGETS.filter((t) => t !== TARGETS.me).map((t) => [`${t.route.method} ${t.route.path}`, t] as const),
  )(
    '%s: unknown groups, no admin scope, machine clients (even with the admin scope), lower roles',
    async (_name, target) => {
      // None of these callers is an admin holding the admin scope, nor a manager (the audit log's floor).
      await run(
        notAnAdmin,
        async (claims) => expectRefused(await send(target, target.valid(), claims), [403]),
        RUNS.small,
      );
    },
  );

  it('GET /v1/me: a token with no citadel scope', async () => {
    await run(
      noScope,
      async (claims) => expectRefused(await send(TARGETS.me, {}, claims), [403]),
      RUNS.small,
    );
  });
});

// ---- Inputs the contract accepts that PostgreSQL cannot take --------------------------------------------------
// Each of these once answered 500: the expectation is a 400 problem like any other bad input.

describe('filter and cursor values that pass validation but not PostgreSQL', () => {
  it.each([
    ['GET /v1/admin/audit (id is a bigint)', TARGETS.audit, 'not-a-number'],
    ['GET /v1/admin/api-clients (id is a uuid)', TARGETS.list, 'not-a-uuid'],
  ])(
    '%s: a well-formed cursor whose id has the wrong type is a 400, not a 500',
    async (_name, target, id) => {
      expectRefused(
        await send(target, { query: { cursor: b64(['2024-01-01T00:00:00.000Z', id]) } }, ADMIN),
        [400],
      );
    },
  );

  it.each([
    ['GET /v1/admin/audit', TARGETS.audit],
    ['GET /v1/admin/api-clients', TARGETS.list],
  ])('%s: a cursor date outside PostgreSQL’s range is a 400, not a 500', async (_name, target) => {
    expectRefused(
      await send(target, { query: { cursor: b64(['-200000-01-01T00:00:00.000Z', '1']) } }, ADMIN),
      [400],
    );
  });

  it.each([
    ['a NUL in the actor filter', { actor: 'fuzz\u0000admin' }],
    ['year 0000 in from', { from: '0000-01-01T00:00:00Z' }],
    ['an offset beyond ±15:59 in to', { to: '2024-01-01T00:00:00+23:59' }],
  ])('GET /v1/admin/audit: %s is a 400, not a 500', async (_name, query) => {
    expectRefused(await send(TARGETS.audit, { query }, ADMIN), [400]);
  });
});
