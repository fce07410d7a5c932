/**
 * Key rotation with a controllable clock: a client is rotated through the real handler (the database's `now()`
 * sets the end of the overlap window), then the expiry job `expireOverlappingKeys(now)` runs at chosen instants
 * relative to that stored window. AWS is the in-memory fake of `test/support/admin-aws.ts`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createApiClient, revokeApiClient, rotateApiKey } from '../../../contract/api/admin';
import { handler as createHandler } from '../../../lambda/admin/create-api-client';
import { expireOverlappingKeys, handler as scheduledExpiry } from '../../../lambda/admin/expire-api-keys';
import { handler as revokeHandler } from '../../../lambda/admin/revoke-api-client';
import { handler as rotateHandler } from '../../../lambda/admin/rotate-api-key';
import { closePool } from '../../../lambda/shared/db';
import { ServiceUnavailableError } from '../../../lambda/shared/errors';
import { ControlFunctionError, FakeAdminAws, setAdminEnv } from '../../support/admin-aws';
import {
  AdminTables,
  type ApiClientRecord,
  call,
  JSON_HEADERS,
  routeEvent,
} from '../../support/admin-fixtures';
import { migratedDatabase } from '../../support/database';
import { lambdaContext } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { userClaims } from '../../support/principals';

setAdminEnv();
const aws = new FakeAdminAws();
const ADMIN = userClaims('admin', 'admin-rotator');
const HOUR = 3_600_000;
let server: TestPostgres;
let tables: AdminTables;

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'keyrotation');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
});
beforeEach(async () => {
  // Each case starts with no clients (the master may delete them; the app role may not).
  setAdminEnv();
  await tables.rows('DELETE FROM citadel.api_clients');
  aws.reset();
});
afterEach(() => {
  jest.useRealTimers();
});
afterAll(async () => {
  aws.restore();
  await closePool();
  await server?.destroy();
});

async function newClient() {
  const name = `rotated ${randomUUID().slice(0, 8)}`;
  const answer = await call(
    createHandler,
    routeEvent(createApiClient, {
      claims: ADMIN,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name, scopes: ['files.read'], tier: 'basic' }),
    }),
  );
  expect(answer.status).toBe(201);
  return { id: (answer.body as { client: { id: string } }).client.id, name };
}

const rotate = async (id: string, overlapHours = 24) => {
  process.env.CITADEL_KEY_OVERLAP_HOURS = String(overlapHours);
  const answer = await call(
    rotateHandler,
    routeEvent(rotateApiKey, { claims: ADMIN, pathParameters: { id } }),
  );
  expect(answer.status).toBe(200);
  return (await tables.client(id)) as ApiClientRecord & {
    previous_api_key_id: string;
    previous_key_expires_at: Date;
  };
};

const revoke = async (id: string) => {
  const answer = await call(
    revokeHandler,
    routeEvent(revokeApiClient, { claims: ADMIN, pathParameters: { id } }),
  );
  expect(answer.status).toBe(204);
};

const expiryAudit = (id: string) =>
  tables.rows<{
    actor_id: string;
    actor_kind: string;
    outcome: string;
    request_id: string;
    details: unknown;
  }>(
    `SELECT actor_id, actor_kind, outcome, request_id, details FROM citadel.audit_events
      WHERE action = 'api_client.key_expired' AND target = $1 ORDER BY id`,
    [`api_client:${id}`],
  );

/** Instants relative to a stored window end (the row's value, not the test's clock). */
const justBefore = (end: Date) => new Date(end.getTime() - 1);
const justAfter = (end: Date) => new Date(end.getTime() + 1);

describe('expireOverlappingKeys(now)', () => {
  it('keeps both keys until the window closes, then disables the old key, clears the row and audits as system', async () => {
    // Prepare
    const client = await newClient();
    const rotated = await rotate(client.id, 24);
    const oldKey = rotated.previous_api_key_id;
    const end = rotated.previous_key_expires_at;
    expect(end.getTime() - rotated.updated_at.getTime()).toBe(24 * HOUR);

    // Act: one millisecond before the window closes
    const early = await expireOverlappingKeys(justBefore(end));
    // Assess: nothing happened
    expect(early).toEqual([]);
    expect(aws.isEnabled(oldKey)).toBe(true);
    expect(aws.isEnabled(rotated.api_key_id)).toBe(true);
    expect(await tables.client(client.id)).toEqual(rotated);
    expect(await expiryAudit(client.id)).toEqual([]);

    // Act: just after it closed
    const now = justAfter(end);
    const expired = await expireOverlappingKeys(now);
    // Assess
    expect(expired).toEqual([client.id]);
    expect(aws.isEnabled(oldKey)).toBe(false);
    expect(aws.isEnabled(rotated.api_key_id)).toBe(true);
    expect(aws.controlRequests().at(-1)).toEqual({ action: 'disable', keyId: oldKey });
    const cleared = await tables.client(client.id);
    expect(cleared).toMatchObject({
      state: 'active',
      api_key_id: rotated.api_key_id,
      previous_api_key_id: null,
      previous_key_expires_at: null,
    });
    expect(cleared?.updated_at.getTime()).toBeGreaterThan(rotated.updated_at.getTime());
    expect(await expiryAudit(client.id)).toEqual([
      {
        actor_id: 'citadel-scheduler',
        actor_kind: 'system',
        outcome: 'success',
        request_id: `schedule:${now.toISOString()}`,
        details: {},
      },
    ]);
  });

  it('running again is a no-op: no AWS call, no row change, no audit row', async () => {
    // Prepare
    const client = await newClient();
    const rotated = await rotate(client.id);
    const end = rotated.previous_key_expires_at;
    expect(await expireOverlappingKeys(justAfter(end))).toEqual([client.id]);
    const settled = await tables.client(client.id);
    aws.resetHistory();
    // Act
    const again = await expireOverlappingKeys(new Date(end.getTime() + HOUR));
    // Assess
    expect(again).toEqual([]);
    expect(aws.callCount()).toBe(0);
    expect(await tables.client(client.id)).toEqual(settled);
    expect(await expiryAudit(client.id)).toHaveLength(1);
  });

  it('expires each client by its own window (the configured overlap)', async () => {
    // Prepare: a 1-hour and a 3-hour window
    const short = await newClient();
    const long = await newClient();
    const s = await rotate(short.id, 1);
    const l = await rotate(long.id, 3);
    expect(s.previous_key_expires_at.getTime() - s.updated_at.getTime()).toBe(HOUR);
    // Act: after the short window, well before the long one
    const expired = await expireOverlappingKeys(justAfter(s.previous_key_expires_at));
    // Assess
    expect(expired).toEqual([short.id]);
    expect(aws.isEnabled(s.previous_api_key_id)).toBe(false);
    expect(aws.isEnabled(l.previous_api_key_id)).toBe(true);
    expect((await tables.client(long.id))?.previous_api_key_id).toBe(l.previous_api_key_id);
    // And the long one in its turn
    expect(await expireOverlappingKeys(justAfter(l.previous_key_expires_at))).toEqual([long.id]);
    expect(aws.isEnabled(l.previous_api_key_id)).toBe(false);
  });

  it('leaves alone a client rotated again since: its new window is not over', async () => {
    // Prepare: k0 → k1 with a 1-hour window, then k1 → k2 with 24 hours (k0 is disabled by that rotation)
    const client = await newClient();
    const first = await rotate(client.id, 1);
    const k0 = first.previous_api_key_id;
    const second = await rotate(client.id, 24);
    aws.resetHistory();
    // Act: when the first window would have closed
    const expired = await expireOverlappingKeys(justAfter(first.previous_key_expires_at));
    // Assess
    expect(expired).toEqual([]);
    expect(aws.callCount()).toBe(0);
    expect(aws.isEnabled(k0)).toBe(false);
    expect(aws.isEnabled(second.previous_api_key_id)).toBe(true);
    expect(aws.isEnabled(second.api_key_id)).toBe(true);
    expect(await tables.client(client.id)).toEqual(second);
    expect(await expiryAudit(client.id)).toEqual([]);
  });

  it('leaves alone a client revoked since', async () => {
    const client = await newClient();
    const rotated = await rotate(client.id);
    await revoke(client.id);
    const revoked = await tables.client(client.id);
    aws.resetHistory();
    expect(await expireOverlappingKeys(justAfter(rotated.previous_key_expires_at))).toEqual([]);
    expect(aws.callCount()).toBe(0);
    expect(await tables.client(client.id)).toEqual(revoked);
    expect(await expiryAudit(client.id)).toEqual([]);
  });

  it('skips a client rotated again while the job runs, and keeps its new overlap intact', async () => {
    // Prepare: the rotation lands between the job's read and its update
    const client = await newClient();
    const first = await rotate(client.id);
    let second: Awaited<ReturnType<typeof rotate>> | undefined;
    aws.beforeNext('control:disable', async () => {
      second = await rotate(client.id);
    });
    // Act
    const expired = await expireOverlappingKeys(justAfter(first.previous_key_expires_at));
    // Assess
    expect(second).toBeDefined();
    expect(expired).toEqual([]);
    expect(await tables.client(client.id)).toEqual(second);
    expect(aws.isEnabled(first.previous_api_key_id)).toBe(false);
    expect(aws.isEnabled(second?.previous_api_key_id as string)).toBe(true);
    expect(aws.isEnabled(second?.api_key_id as string)).toBe(true);
    expect(await expiryAudit(client.id)).toEqual([]);
  });

  it('skips a client revoked while the job runs', async () => {
    const client = await newClient();
    const rotated = await rotate(client.id);
    aws.beforeNext('control:disable', () => revoke(client.id));
    expect(await expireOverlappingKeys(justAfter(rotated.previous_key_expires_at))).toEqual([]);
    expect(await tables.client(client.id)).toMatchObject({ state: 'revoked', previous_api_key_id: null });
    expect(aws.keysNamed(client.name).filter((k) => k.enabled)).toEqual([]);
    expect(await expiryAudit(client.id)).toEqual([]);
  });

  it('keeps the row when the key cannot be disabled, so the next run retries', async () => {
    // Prepare
    const client = await newClient();
    const rotated = await rotate(client.id);
    const now = justAfter(rotated.previous_key_expires_at);
    aws.failNext(
      'control:disable',
      new ControlFunctionError('TooManyRequestsException', 'Too Many Requests'),
    );
    // Act
    const failed = expireOverlappingKeys(now);
    // Assess
    await expect(failed).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(await tables.client(client.id)).toEqual(rotated);
    expect(aws.isEnabled(rotated.previous_api_key_id)).toBe(true);
    expect(await expireOverlappingKeys(now)).toEqual([client.id]);
    expect(aws.isEnabled(rotated.previous_api_key_id)).toBe(false);
  });

  it('the scheduled entry point uses the clock it runs at', async () => {
    // Prepare
    const client = await newClient();
    const rotated = await rotate(client.id);
    const end = rotated.previous_key_expires_at;
    // Act + Assess: an hour before the window closes, then a minute after
    // Only Date is faked: the database driver's timers keep running.
    jest.useFakeTimers({
      now: end.getTime() - HOUR,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    expect(await scheduledExpiry({}, lambdaContext())).toEqual({ expired: [] });
    jest.setSystemTime(end.getTime() + 60_000);
    expect(await scheduledExpiry({}, lambdaContext())).toEqual({ expired: [client.id] });
    expect(aws.isEnabled(rotated.previous_api_key_id)).toBe(false);
  });
});
