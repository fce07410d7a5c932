/**
 * Generated bad input (fast-check) against the recovery routes, through the real handlers and a real PostgreSQL:
 * junk bodies, wrong types, extra keys, oversized and control-character user names, codes of the wrong shape, wrong
 * media types, bodies and query strings where none is taken, and bad claims. Every answer must be a 4xx
 * problem+json naming the request id with no stack trace; no AWS call may be made; nothing may be written but the
 * audit rows that record refused callers (no code, no set, no attempt counted, no success or failure row).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import { createRecoveryCodes, recoverAccount } from '../../../contract/api/recovery';
import { ROLES } from '../../../contract/roles';
import type { RouteDefinition } from '../../../contract/route';
import { handler as issueHandler } from '../../../lambda/recovery/create-recovery-codes';
import { handler as recoverHandler } from '../../../lambda/recovery/recover-account';
import { closePool } from '../../../lambda/shared/db';
import { FakeAdminAws, type FakeUser, setAdminEnv } from '../../support/admin-aws';
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
import { type PreparedCodes, prepareCodes, seedRecoverableUser } from '../../support/recovery-fixtures';

setAdminEnv();
const aws = new FakeAdminAws();
let server: TestPostgres;
let tables: AdminTables;
let prepared: PreparedCodes;
let person: FakeUser;
let generated = 0;
let baseline: Record<string, unknown>;

/** Everything a request could write, but the rows that record refused callers. */
const snapshot = async () => ({
  codes: await tables.rows('SELECT id, used_at FROM citadel.recovery_codes ORDER BY id'),
  sets: await tables.rows('SELECT user_id, set_id FROM citadel.recovery_code_sets ORDER BY user_id'),
  attempts: await tables.rows('SELECT * FROM citadel.recovery_attempts ORDER BY login_key'),
  written: await tables.count(
    "SELECT count(*)::int AS n FROM citadel.audit_events WHERE outcome <> 'denied'",
  ),
});

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'recoverybadinput');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
  prepared = await prepareCodes();
  // A real person with a real code, so that a request wrongly let through would act on something.
  person = await seedRecoverableUser(aws, tables, prepared);
});
beforeEach(async () => {
  aws.resetHistory();
  baseline = await snapshot();
});
afterEach(async () => {
  expect(aws.callCount()).toBe(0);
  expect(await snapshot()).toEqual(baseline);
});
afterAll(async () => {
  console.info(`recovery bad input: ${generated} generated inputs run (fast-check, shrinking included)`);
  aws.restore();
  await closePool();
  await server?.destroy();
});

interface Target {
  readonly route: RouteDefinition;
  readonly handler: ProxyHandler;
}
const ISSUE: Target = { route: createRecoveryCodes, handler: issueHandler };
const RECOVER: Target = { route: recoverAccount, handler: recoverHandler };

const NO_CLAIMS = Symbol('no authorizer');

async function send(target: Target, init: EventInit, claims: unknown = NO_CLAIMS): Promise<Answer> {
  const event: APIGatewayProxyEvent = routeEvent(target.route, { ...init, requestId: randomUUID() });
  (event.requestContext as { authorizer: unknown }).authorizer = claims === NO_CLAIMS ? null : { claims };
  return call(target.handler, event);
}

const STACK = /\bat (?:async )?[\w.<>$]+ \(|\bat file:|node_modules|\/work\/|\.ts:\d+:\d+|\.js:\d+:\d+/;

function expectRefused(answer: Answer, statuses: readonly number[]): void {
  const context = `${answer.status} ${answer.raw.slice(0, 300)}`;
  if (!statuses.includes(answer.status)) throw new Error(`expected ${statuses.join('/')}, got ${context}`);
  expect(answer.headers['Content-Type']).toBe('application/problem+json');
  expect(answer.headers['x-request-id']).toBe(answer.requestId);
  expect(answer.body).toMatchObject({
    type: expect.stringMatching(/^urn:citadel:problem:[a-z-]+$/),
    status: answer.status,
    instance: answer.requestId,
  });
  expect(answer.raw).not.toMatch(STACK);
  expect(aws.callCount()).toBe(0);
}

const run = <T>(inputs: fc.Arbitrary<T>, predicate: (input: T) => Promise<void>, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      generated += 1;
      await predicate(input);
    }),
    { numRuns },
  );

// ---- Generators -------------------------------------------------------------------------------------------

const valid = () => ({ username: person.email, password: person.password, code: prepared.codes[0]?.display });
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
const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);

const badUsername = fc.oneof(
  notAString,
  fc.constantFrom('', '   ', '\t'),
  fc.integer({ min: 129, max: 3000 }).map((n) => 'u'.repeat(n)),
  fc.tuple(word, control, word).map(([a, c, b]) => `${a}${c}${b}`),
);
const badPassword = fc.oneof(
  notAString,
  fc.constant(''),
  fc.integer({ min: 257, max: 3000 }).map((n) => 'p'.repeat(n)),
);
const CODE_SHAPE = /^\s*[0-9a-tv-z]{4}[\s-]?[0-9a-tv-z]{4}[\s-]?[0-9a-tv-z]{4}\s*$/i;
const badCode = fc.oneof(
  notAString,
  fc.constantFrom(
    '',
    'abcd-efgh-jkm',
    'abcd-efgh-jkmnp',
    'uuuu-uuuu-uuuu',
    'abcd--efgh-jkmn',
    'abcd_efgh_jkmn',
  ),
  fc.string({ maxLength: 40 }).filter((s) => !CODE_SHAPE.test(s)),
  fc.integer({ min: 33, max: 500 }).map((n) => 'a'.repeat(n)),
);
const isJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

/** Recovery bodies, each invalid by construction. */
const badBody: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((s) => !isJson(s)),
  fc
    .oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }))
    .map((v) => JSON.stringify(v)),
  badUsername.map((username) => JSON.stringify({ ...valid(), username })),
  badPassword.map((password) => JSON.stringify({ ...valid(), password })),
  badCode.map((code) => JSON.stringify({ ...valid(), code })),
  fc
    .constantFrom('username', 'password', 'code')
    .map((k) => JSON.stringify(Object.fromEntries(Object.entries(valid()).filter(([key]) => key !== k)))),
  fc
    .dictionary(
      fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !['username', 'password', 'code'].includes(k)),
      fc.jsonValue({ maxDepth: 1 }),
      { minKeys: 1, maxKeys: 3 },
    )
    .map((extra) => JSON.stringify({ ...valid(), ...extra })),
  fc
    .integer({ min: 64 * 1024, max: 80_000 })
    .map((n) => JSON.stringify({ ...valid(), password: 'a'.repeat(n) })),
);

// ---- Properties -------------------------------------------------------------------------------------------

describe('generated bad input on the recovery routes is refused with a 4xx problem, writes nothing and calls no AWS service', () => {
  it('POST /v1/auth/recover: junk JSON, wrong types, missing and extra keys, huge or control-character user names, codes of the wrong shape', async () => {
    await run(
      badBody,
      async (body) => expectRefused(await send(RECOVER, { headers: JSON_HEADERS, body }), [400, 413]),
      250,
    );
  });

  it('POST /v1/auth/recover: a valid body without (or with the wrong) media type, or with a query string', async () => {
    await run(
      fc.constantFrom(
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
      ),
      async (type) =>
        expectRefused(
          await send(RECOVER, {
            headers: type ? { 'content-type': type } : {},
            body: JSON.stringify(valid()),
          }),
          [415],
        ),
      20,
    );
    await run(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }), {
        minKeys: 1,
        maxKeys: 3,
      }),
      async (query) =>
        expectRefused(
          await send(RECOVER, { headers: JSON_HEADERS, body: JSON.stringify(valid()), query }),
          [400],
        ),
      40,
    );
  });

  it('POST /v1/me/recovery-codes: a body or a query string, where the route takes neither', async () => {
    const claims = userClaims('user', person.sub);
    await run(
      fc.oneof(
        fc
          .string({ minLength: 1, maxLength: 200 })
          .filter((s) => s.trim() !== '')
          .map((body) => ({ body })),
        fc.jsonValue().map((v) => ({ body: JSON.stringify(v), headers: JSON_HEADERS })),
        fc
          .dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }), {
            minKeys: 1,
            maxKeys: 3,
          })
          .map((query) => ({ query })),
      ),
      async (init) => expectRefused(await send(ISSUE, init, claims), [400]),
      80,
    );
  });

  it('POST /v1/me/recovery-codes: no or garbled claims, machine clients, no citadel scope, an old or absent sign-in time', async () => {
    await run(
      fc.oneof(
        fc.constantFrom<unknown>(NO_CLAIMS, undefined, null, {}, [], 'token', 42),
        fc
          .constantFrom('id', 'refresh', '')
          .map((t) => ({ ...userClaims('user', person.sub), token_use: t })),
        fc.constantFrom<unknown>(
          machineClaims('fuzzbot', ['files.read']),
          machineClaims('fuzzbot', ['files.read', 'files.write']),
        ),
        fc.constantFrom(...ROLES).map((role) => ({ ...userClaims(role, person.sub), scope: 'openid' })),
        fc
          .tuple(fc.constantFrom(...ROLES), fc.integer({ min: 301, max: 10 ** 8 }))
          .map(([role, ago]) => userClaims(role, person.sub, undefined, ago)),
        fc
          .constantFrom('', 'soon', '-5', '1e3', '0', 'NaN')
          .map((t) => ({ ...userClaims('user', person.sub), auth_time: t })),
      ),
      async (claims) => expectRefused(await send(ISSUE, {}, claims), [401, 403]),
      120,
    );
  });
});
