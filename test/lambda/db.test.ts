import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { handler as health } from '../../lambda/health/get-health';
import {
  closePool,
  getPool,
  IamTokenSource,
  query,
  settingsFromEnv,
  transaction,
} from '../../lambda/shared/db';
import { ServiceUnavailableError } from '../../lambda/shared/errors';
import { migratedDatabase, withClient } from '../support/database';
import { lambdaContext, proxyEvent } from '../support/lambda';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: TestPostgres;
let adminUrl: string;

beforeAll(async () => {
  // Few connections on purpose: the pool must cope with a server that refuses some.
  server = await startPostgres({
    maxConnections: 6,
    settings: { superuser_reserved_connections: '1', reserved_connections: '0' },
  });
  const db = await migratedDatabase(server, 'faults');
  adminUrl = db.adminUrl;
  process.env.DATABASE_URL = db.appUrl;
  process.env.CITADEL_DB_POOL_MAX = '10';
});
afterEach(async () => {
  await closePool();
});
afterAll(async () => {
  delete process.env.CITADEL_DB_POOL_MAX;
  await server.destroy();
});

const callHealth = () => health(proxyEvent({}), lambdaContext());

describe('database access: faults', () => {
  it('answers 503 + Retry-After problem while the database is down, and recovers within 5 s of a restart', async () => {
    // Prepare: a request in flight when the server stops
    expect((await callHealth()).statusCode).toBe(200);
    const inFlight = query('SELECT pg_sleep(3)');
    await new Promise((r) => setTimeout(r, 200));
    // Act
    await server.stop();
    // Assess
    await expect(inFlight).rejects.toBeInstanceOf(ServiceUnavailableError);
    const down = await callHealth();
    expect(down.statusCode).toBe(503);
    expect(down.headers?.['Retry-After']).toBe('5');
    expect(down.headers?.['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(down.body)).toMatchObject({
      type: 'urn:citadel:problem:service-unavailable',
      status: 503,
    });
    expect(down.body).not.toMatch(/ECONNREFUSED|at .*\(/);

    await server.start();
    const restartedAt = Date.now();
    let status = 0;
    while (Date.now() - restartedAt < 5_000 && status !== 200) {
      status = (await callHealth()).statusCode;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
  });

  it('recovers when every pooled connection is killed with pg_terminate_backend', async () => {
    await Promise.all(Array.from({ length: 4 }, () => query('SELECT pg_sleep(0.05)')));
    const idleBefore = (await getPool()).idleCount;
    expect(idleBefore).toBeGreaterThan(0);
    const killed = await withClient(
      adminUrl,
      async (c) =>
        (
          await c.query(
            "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = 'citadel_app'",
          )
        ).rows[0].n,
    );
    expect(killed).toBe(idleBefore);
    await new Promise((r) => setTimeout(r, 100));
    // The very next requests succeed: dead idle clients are dropped, and the probe retries once.
    for (let i = 0; i < 5; i++) expect((await callHealth()).statusCode).toBe(200);
    expect(await query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('under more concurrent callers than max_connections answers 200 or 503 and leaks no connection', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, () => callHealth()));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    const pool = await getPool();
    expect(pool.waitingCount).toBe(0);
    expect(pool.totalCount).toBe(pool.idleCount); // nothing checked out and forgotten
    const backends = await withClient(
      adminUrl,
      async (c) =>
        (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'citadel_app'"))
          .rows[0].n,
    );
    expect(backends).toBeLessThanOrEqual(pool.totalCount);
    await closePool();
    const after = await withClient(adminUrl, async (c) => {
      await new Promise((r) => setTimeout(r, 100));
      return (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'citadel_app'"))
        .rows[0].n;
    });
    expect(after).toBe(0);
  });

  it('cancels a slow statement with the role statement_timeout (4 s), well before the 10 s Lambda timeout', async () => {
    const started = Date.now();
    await expect(query('SELECT pg_sleep(30)')).rejects.toMatchObject({ kind: 'serviceUnavailable' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(3_900);
    expect(elapsed).toBeLessThan(6_000);
  });

  it('rolls a failed transaction back entirely', async () => {
    const id = '0b5b1d5e-0000-4000-8000-000000000001';
    await expect(
      transaction(async (tx) => {
        await tx.query(
          `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size)
           VALUES ($1::uuid, 'u', 'uploads/u/' || $1::text, 'a.bin', 'application/octet-stream', 1)`,
          [id],
        );
        await tx.query('SELECT 1/0');
      }),
    ).rejects.toMatchObject({ code: '22012' });
    expect(await query('SELECT id FROM citadel.files WHERE id = $1', [id])).toEqual([]);
  });
});

describe('database access: configuration', () => {
  it('refreshes IAM tokens before their 15-minute life ends', async () => {
    let now = 0;
    let issued = 0;
    const source = new IamTokenSource(
      async () => `token-${++issued}`,
      () => now,
    );
    expect(await source.token()).toBe('token-1');
    now = 9 * 60_000;
    expect(await source.token()).toBe('token-1');
    now = 10 * 60_000; // 5 minutes left: renew
    expect(await source.token()).toBe('token-2');
    expect(issued).toBe(2);
  });

  it('reads IAM settings from the environment and refuses an incomplete one', () => {
    expect(
      settingsFromEnv({
        CITADEL_DB_HOST: 'db.proxy',
        CITADEL_DB_NAME: 'citadel',
        CITADEL_DB_USER: 'citadel_app',
        AWS_REGION: 'eu-west-1',
      }),
    ).toEqual({
      kind: 'iam',
      host: 'db.proxy',
      port: 5432,
      database: 'citadel',
      user: 'citadel_app',
      region: 'eu-west-1',
      poolMax: 2,
    });
    expect(() => settingsFromEnv({ CITADEL_DB_HOST: 'x' })).toThrow(/Database not configured/);
  });
});
