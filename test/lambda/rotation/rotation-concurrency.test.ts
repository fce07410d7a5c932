/**
 * Test 1: twenty consecutive rotations of each strategy against a real PostgreSQL while readers keep
 * querying as the rotated user, fetching the secret the way a client does.
 */

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../../lambda/rotation/handler';
import { metrics } from '../../../lambda/shared/powertools';
import { lambdaContext } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import {
  INVALID_PASSWORD,
  memberships,
  provision,
  readSecret,
  type SecretJson,
  SecretReader,
  sleep,
  startReadLoop,
  tryLogin,
  underLoad,
} from './fixtures';
import { type Invoke, SecretsManagerDouble } from './secrets-manager-double';

process.env.CITADEL_DB_TLS = 'disable';

const ROTATIONS = 20;
const READERS = 3;
const READ_PAUSE_MS = 25;
/** A client's wait before it re-fetches the secret after an authentication failure. */
const RETRY_DELAY_MS = 150;
/** Time between rotations: longer than a reader's retry, as a real rotation schedule is. */
const SINGLE_USER_GAP_MS = 400;
const ALTERNATING_GAP_MS = 200;

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({});
const invoke: Invoke = (event) => handler(event, lambdaContext());
let server: TestPostgres;
let database: { readonly name: string; readonly url: string };
let double: SecretsManagerDouble;

beforeAll(async () => {
  server = await startPostgres({ maxConnections: 40 });
  database = await server.createDatabase('rotation_concurrency');
});
afterAll(async () => {
  sm.restore();
  await server.destroy();
});
beforeEach(() => {
  sm.reset();
  double = new SecretsManagerDouble().attach(sm);
});
afterEach(() => {
  jest.restoreAllMocks();
  delete process.env.ROTATION_STRATEGY;
});

const rotationMetrics = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map((call) => call[0]).filter((name) => String(name).startsWith('Rotation'));

describe('rotation under a concurrent read load', () => {
  it(`alternating-users: ${ROTATIONS} rotations, readers never fail and the previous user keeps working`, async () => {
    // Prepare
    process.env.ROTATION_STRATEGY = 'alternating-users';
    const roles = await provision(server, database, double, 'conc_alt');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const reader = new SecretReader(
      client,
      roles.reportingArn,
      'SELECT count(*)::int AS n FROM report_data',
      RETRY_DELAY_MS,
    );
    const loop = startReadLoop(reader, READERS, READ_PAUSE_MS);
    const seen: SecretJson[] = [await readSecret(client, roles.reportingArn)];
    const staleReads: string[] = [];
    let completed = 0;

    // Act
    const stats = await underLoad(loop, async () => {
      for (let i = 0; i < ROTATIONS; i++) {
        const held = await reader.fetch();
        loop.state.rotating = true;
        const token = await double.rotate(roles.reportingArn, invoke, {
          // A client that fetched the secret before the rotation reads with it right after AWSCURRENT moved.
          afterStep: async (step) => {
            if (step === 'finishSecret') staleReads.push(await reader.read(held));
          },
        });
        loop.state.rotating = false;
        if (double.versionWith(roles.reportingArn, 'AWSCURRENT') === token) completed++;
        seen.push(await readSecret(client, roles.reportingArn));
        await sleep(ALTERNATING_GAP_MS);
      }
    });

    // Assess
    console.info(`alternating-users: ${completed} rotations; readers ${JSON.stringify(stats)}`);
    expect(completed).toBe(ROTATIONS);
    expect(stats.failed).toBe(0);
    expect(stats.failures).toEqual([]);
    expect(stats.afterRetry).toBe(0);
    expect(stats.firstTry).toBe(stats.queries);
    expect(stats.queries).toBeGreaterThan(ROTATIONS * 5);
    expect(stats.duringRotation).toBeGreaterThan(0);
    expect(staleReads).toEqual(Array(ROTATIONS).fill('first-try'));
    expect(new Set(seen.map((s) => s.password)).size).toBe(ROTATIONS + 1);
    seen.forEach((secret, i) => {
      expect(secret.username).toBe(i % 2 === 0 ? roles.reporting : `${roles.reporting}_clone`);
      expect(secret.masterarn).toBe(roles.masterArn);
    });
    const current = await readSecret(client, roles.reportingArn, 'AWSCURRENT');
    const previous = await readSecret(client, roles.reportingArn, 'AWSPREVIOUS');
    expect(current.username).not.toBe(previous.username);
    expect(await tryLogin(current, 'SELECT count(*) AS user FROM report_data')).toEqual({
      ok: true,
      user: '3',
    });
    expect(await tryLogin(previous, 'SELECT count(*) AS user FROM report_data')).toEqual({
      ok: true,
      user: '3',
    });
    expect(await memberships(database.url, `${roles.reporting}_clone`)).toEqual([roles.readonly]);
    expect(await memberships(database.url, roles.reporting)).toEqual([roles.readonly]);
    expect(rotationMetrics(addMetric)).toEqual(Array(ROTATIONS * 4).fill('RotationSucceeded'));
  });

  it(`single-user: ${ROTATIONS} rotations of the master, no read fails after one retry with a re-fetched secret`, async () => {
    // Prepare
    process.env.ROTATION_STRATEGY = 'single-user';
    const roles = await provision(server, database, double, 'conc_single');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const reader = new SecretReader(client, roles.masterArn, 'SELECT 1 AS ok', RETRY_DELAY_MS);
    const loop = startReadLoop(reader, READERS, READ_PAUSE_MS);
    const seen: SecretJson[] = [await readSecret(client, roles.masterArn)];
    const staleReads: Promise<string>[] = [];
    const windows: number[] = [];
    let completed = 0;

    // Act
    const stats = await underLoad(loop, async () => {
      for (let i = 0; i < ROTATIONS; i++) {
        const held = await reader.fetch();
        let passwordChangedAt = 0;
        loop.state.rotating = true;
        const token = await double.rotate(roles.masterArn, invoke, {
          afterStep: (step) => {
            if (step === 'setSecret') {
              passwordChangedAt = performance.now();
              // A client holding the old secret right after the ALTER: it must fail once, then recover.
              staleReads.push(reader.read(held).catch((error: Error) => `failed: ${error.message}`));
            }
            if (step === 'finishSecret') windows.push(performance.now() - passwordChangedAt);
          },
        });
        loop.state.rotating = false;
        if (double.versionWith(roles.masterArn, 'AWSCURRENT') === token) completed++;
        seen.push(await readSecret(client, roles.masterArn));
        await sleep(SINGLE_USER_GAP_MS);
      }
    });
    const stale = await Promise.all(staleReads);

    // Assess
    const maxWindow = Math.max(...windows);
    console.info(
      `single-user: ${completed} rotations; readers ${JSON.stringify(stats)}; ` +
        `stale-credential window max ${maxWindow.toFixed(1)} ms`,
    );
    expect(completed).toBe(ROTATIONS);
    // The one-retry promise holds because the window (ALTER to AWSCURRENT moved) is shorter than the retry delay.
    expect(maxWindow).toBeLessThan(RETRY_DELAY_MS);
    expect(stats.failed).toBe(0);
    expect(stats.failures).toEqual([]);
    expect(stats.firstTry + stats.afterRetry).toBe(stats.queries);
    expect(stats.queries).toBeGreaterThan(ROTATIONS * 5);
    expect(stats.duringRotation).toBeGreaterThan(0);
    expect(stale).toEqual(Array(ROTATIONS).fill('after-retry'));
    expect(new Set(seen.map((s) => s.password)).size).toBe(ROTATIONS + 1);
    expect(new Set(seen.map((s) => s.username))).toEqual(new Set([roles.admin]));
    const current = await readSecret(client, roles.masterArn, 'AWSCURRENT');
    const previous = await readSecret(client, roles.masterArn, 'AWSPREVIOUS');
    expect(await tryLogin(current)).toEqual({ ok: true, user: roles.admin });
    expect(await tryLogin(previous)).toEqual({ ok: false, code: INVALID_PASSWORD });
    expect(await tryLogin(roles.initial.master)).toEqual({ ok: false, code: INVALID_PASSWORD });
    expect(rotationMetrics(addMetric)).toEqual(Array(ROTATIONS * 4).fill('RotationSucceeded'));
  });
});
