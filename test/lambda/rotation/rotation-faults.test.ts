/**
 * Test 2: a failure injected at each of the four steps, then Secrets Manager's retry (same token, the
 * steps run again), for both strategies, against a real PostgreSQL. Every retry converges, and a working
 * credential is never lost.
 */

import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { createRotationHandler, type RotationStrategy } from '../../../lambda/rotation/handler';
import { metrics } from '../../../lambda/shared/powertools';
import { lambdaContext } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import {
  type FaultPlan,
  faultyConnect,
  INVALID_PASSWORD,
  memberships,
  type Provisioned,
  provision,
  readSecret,
  storedPassword,
  tryLogin,
} from './fixtures';
import { type Invoke, type RotateOptions, SecretsManagerDouble, STEPS } from './secrets-manager-double';

process.env.CITADEL_DB_TLS = 'disable';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({});
let server: TestPostgres;
let database: { readonly name: string; readonly url: string };
let double: SecretsManagerDouble;
let scenario = 0;

beforeAll(async () => {
  server = await startPostgres({ maxConnections: 30 });
  database = await server.createDatabase('rotation_faults');
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
});

const invoker =
  (strategy: RotationStrategy, connect?: ReturnType<typeof faultyConnect>['connect']): Invoke =>
  (event) =>
    createRotationHandler({ strategy, ...(connect ? { connect } : {}) })(event, lambdaContext());

const arnOf = (roles: Provisioned, strategy: RotationStrategy) =>
  strategy === 'single-user' ? roles.masterArn : roles.reportingArn;

/** Rotates and expects the injected (or planned) failure; returns the token to retry with. */
async function failingRotation(arn: string, invoke: Invoke, options: RotateOptions): Promise<string> {
  let token = '';
  await expect(
    double.rotate(arn, invoke, {
      ...options,
      afterStep: (_step, t) => {
        token = t;
      },
    }),
  ).rejects.toThrow();
  // The token is the version AWSPENDING was put on, whether or not a step completed.
  return double.versionWith(arn, 'AWSPENDING') ?? token;
}

/** Single-user rotation changes the only password at setSecret's ALTER ROLE; AWSCURRENT moves at finishSecret. */
const passwordAlreadyChanged = (step: string, when: string) =>
  (step === 'setSecret' && when === 'after') ||
  step === 'testSecret' ||
  (step === 'finishSecret' && when === 'before');

describe.each<RotationStrategy>(['single-user', 'alternating-users'])(
  '%s: a failure at every step, then a retry',
  (strategy) => {
    it.each(STEPS.flatMap((step) => (['before', 'after'] as const).map((when) => [step, when] as const)))(
      'fails %s (%s the step runs) on two consecutive rotations; each retry completes and AWSCURRENT logs in',
      async (step, when) => {
        // Prepare
        const roles = await provision(server, database, double, `f${++scenario}`);
        const arn = arnOf(roles, strategy);
        const invoke = invoker(strategy);
        for (let rotation = 1; rotation <= 2; rotation++) {
          const before = await readSecret(client, arn);

          // Act
          const token = await failingRotation(arn, invoke, { failAt: { step, when } });

          // Assess: a credential still works after the failure.
          const current = await readSecret(client, arn);
          if (strategy === 'single-user') {
            // One password per user: from the ALTER until the retry moves AWSCURRENT, only AWSPENDING logs in.
            const stale = passwordAlreadyChanged(step, when);
            const dbChanged = stale || (step === 'finishSecret' && when === 'after');
            expect(await tryLogin(current)).toEqual(
              stale ? { ok: false, code: INVALID_PASSWORD } : { ok: true, user: roles.admin },
            );
            if (stale) {
              const pending = await readSecret(client, arn, 'AWSPENDING');
              expect(await tryLogin(pending)).toEqual({ ok: true, user: roles.admin });
            }
            expect(await tryLogin(before)).toEqual(
              dbChanged ? { ok: false, code: INVALID_PASSWORD } : { ok: true, user: roles.admin },
            );
          } else {
            expect(await tryLogin(current)).toEqual({ ok: true, user: current.username });
            expect(await tryLogin(before)).toEqual({ ok: true, user: before.username });
          }

          // Act: Secrets Manager retries the rotation with the same token.
          await double.rotate(arn, invoke, { token });

          // Assess: converged on the new version, which logs in; the old one works too when alternating.
          expect(double.versionWith(arn, 'AWSCURRENT')).toBe(token);
          const after = await readSecret(client, arn);
          expect(after.password).not.toBe(before.password);
          expect(await tryLogin(after)).toEqual({ ok: true, user: after.username });
          if (strategy === 'alternating-users') {
            expect(after.username).not.toBe(before.username);
            expect(await tryLogin(before)).toEqual({ ok: true, user: before.username });
            expect(await memberships(database.url, after.username)).toEqual([roles.readonly]);
          } else {
            expect(await tryLogin(before)).toEqual({ ok: false, code: INVALID_PASSWORD });
          }
        }
      },
    );
  },
);

describe('connections cut inside a step, then a retry', () => {
  const cases: [string, RotationStrategy, FaultPlan, 'setSecret' | 'testSecret'][] = [
    [
      'single-user: lost right after ALTER ROLE ran',
      'single-user',
      { afterStatement: /^ALTER ROLE/ },
      'setSecret',
    ],
    [
      'single-user: testSecret cannot reach the database',
      'single-user',
      { refuseLogin: 'pending' },
      'testSecret',
    ],
    [
      'alternating: lost before GRANT, after CREATE ROLE',
      'alternating-users',
      { beforeStatement: /^GRANT/ },
      'setSecret',
    ],
    ['alternating: lost right after COMMIT', 'alternating-users', { afterStatement: /^COMMIT/ }, 'setSecret'],
    [
      'alternating: testSecret cannot reach the database',
      'alternating-users',
      { refuseLogin: 'pending' },
      'testSecret',
    ],
  ];

  it.each(cases)('%s', async (_name, strategy, plan, failingStep) => {
    // Prepare
    const roles = await provision(server, database, double, `c${++scenario}`);
    const arn = arnOf(roles, strategy);
    const clone = `${roles.reporting}_clone`;
    const pendingUser = strategy === 'single-user' ? roles.admin : clone;
    const initialPassword = (await readSecret(client, arn)).password;
    const fault = faultyConnect({
      ...plan,
      // The pending credential: the pending user, with a password other than the one rotated away from.
      isPendingLogin: (login) => login.username === pendingUser && login.password !== initialPassword,
    });
    const invoke = invoker(strategy, fault.connect);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const addDimension = jest.spyOn(metrics, 'addDimension');
    const before = await readSecret(client, arn);

    // Act
    const token = await failingRotation(arn, invoke, {});

    // Assess: the step failed with one RotationFailed, and a credential still logs in.
    expect(fault.record.fired).toBe(true);
    expect(addMetric.mock.calls.map((c) => c[0])).toContain('RotationFailed');
    expect(addMetric.mock.calls.filter((c) => c[0] === 'RotationFailed')).toHaveLength(1);
    expect(addDimension).toHaveBeenLastCalledWith('Step', failingStep);
    expect(double.versionWith(arn, 'AWSCURRENT')).not.toBe(token);
    const pending = await readSecret(client, arn, 'AWSPENDING');
    if (strategy === 'single-user') {
      expect(await tryLogin(before)).toEqual({ ok: false, code: INVALID_PASSWORD });
      expect(await tryLogin(pending)).toEqual({ ok: true, user: roles.admin });
    } else {
      expect(await tryLogin(before)).toEqual({ ok: true, user: roles.reporting });
      // Before GRANT the transaction never committed: the clone must not exist half-made.
      if (plan.beforeStatement) expect(await memberships(database.url, clone)).toBeUndefined();
      else expect(await memberships(database.url, clone)).toEqual([roles.readonly]);
    }
    const storedBeforeRetry = await storedPassword(database.url, pendingUser);

    // Act: the service's retry.
    await double.rotate(arn, invoke, { token });

    // Assess
    expect(double.versionWith(arn, 'AWSCURRENT')).toBe(token);
    const after = await readSecret(client, arn);
    expect(after).toEqual(pending);
    expect(await tryLogin(after)).toEqual({ ok: true, user: pendingUser });
    if (strategy === 'single-user') {
      // The retry logged in with AWSPENDING and did not run ALTER ROLE again.
      expect(fault.record.statements.filter((s) => s.startsWith('ALTER ROLE'))).toHaveLength(1);
      expect(await storedPassword(database.url, pendingUser)).toBe(storedBeforeRetry);
    } else {
      expect(await tryLogin(before)).toEqual({ ok: true, user: roles.reporting });
      expect(await memberships(database.url, clone)).toEqual([roles.readonly]);
      expect(await tryLogin(after, 'SELECT count(*) AS user FROM report_data')).toEqual({
        ok: true,
        user: '3',
      });
    }
    expect(addMetric.mock.calls.filter((c) => c[0] === 'RotationFailed')).toHaveLength(1);
  });
});
