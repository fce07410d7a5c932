/**
 * Tests 3 and 4: a stuck AWSPENDING is refused and changes nothing; the standard guards.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createRotationHandler,
  handler,
  type RotationEvent,
  type RotationStrategy,
} from '../../../lambda/rotation/handler';
import { metrics } from '../../../lambda/shared/powertools';
import { lambdaContext } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { type Provisioned, provision, readSecret, storedPassword, tryLogin } from './fixtures';
import { type Invoke, SecretsManagerDouble, STEPS } from './secrets-manager-double';

process.env.CITADEL_DB_TLS = 'disable';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({});
let server: TestPostgres;
let database: { readonly name: string; readonly url: string };
let double: SecretsManagerDouble;
let scenario = 0;

beforeAll(async () => {
  server = await startPostgres({ maxConnections: 30 });
  database = await server.createDatabase('rotation_guards');
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

const invokeWith =
  (strategy: RotationStrategy): Invoke =>
  (event) =>
    createRotationHandler({ strategy })(event, lambdaContext());
const arnOf = (roles: Provisioned, strategy: RotationStrategy) =>
  strategy === 'single-user' ? roles.masterArn : roles.reportingArn;
const rotationMetrics = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls
    .filter((call) => String(call[0]).startsWith('Rotation'))
    .map((call) => [call[0], call[1], call[2]]);

/** What a rotation could change: the secret's versions and the stored passwords of the users involved. */
async function state(roles: Provisioned, arn: string) {
  return {
    versions: double.snapshot(arn),
    admin: await storedPassword(database.url, roles.admin),
    reporting: await storedPassword(database.url, roles.reporting),
    clone: await storedPassword(database.url, `${roles.reporting}_clone`),
  };
}

describe('a stuck AWSPENDING', () => {
  const cases = (['single-user', 'alternating-users'] as const).flatMap((strategy) =>
    STEPS.map((step) => [strategy, step] as const),
  );

  it.each(cases)(
    '%s %s: refused with both versions named, RotationFailed, nothing changed',
    async (strategy, step) => {
      // Prepare: an operator's PutSecretValue left AWSPENDING on version A.
      const roles = await provision(server, database, double, `s${++scenario}`);
      const arn = arnOf(roles, strategy);
      const current = await readSecret(client, arn);
      const stuck = randomUUID();
      await client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: stuck,
          SecretString: JSON.stringify({ ...current, password: `left-behind-${randomUUID()}` }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      const rotating = randomUUID();
      const before = await state(roles, arn);
      const addMetric = jest.spyOn(metrics, 'addMetric');
      const addDimension = jest.spyOn(metrics, 'addDimension');

      // Act
      const run = invokeWith(strategy)({ SecretId: arn, ClientRequestToken: rotating, Step: step });

      // Assess
      await expect(run).rejects.toThrow(
        `Secret ${arn} has AWSPENDING on version ${stuck} while rotating ${rotating}; finish or cancel that rotation first`,
      );
      await expect(run).rejects.toThrow(`${step} failed for ${arn}`);
      expect(rotationMetrics(addMetric)).toEqual([['RotationFailed', 'Count', 1]]);
      expect(addDimension).toHaveBeenCalledWith('Step', step);
      expect(await state(roles, arn)).toEqual(before);
      expect(before.clone).toBeUndefined();
      expect(await tryLogin(current)).toEqual({ ok: true, user: current.username });
      // Secrets Manager itself will not start another rotation either.
      await expect(double.rotate(arn, invokeWith(strategy))).rejects.toThrow(
        /previous rotation isn't complete/,
      );
    },
  );
});

describe('standard guards', () => {
  it('refuses a secret whose rotation is disabled', async () => {
    // Prepare
    const roles = await provision(server, database, double, `g${++scenario}`);
    double.setRotationEnabled(roles.masterArn, false);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const event: RotationEvent = {
      SecretId: roles.masterArn,
      ClientRequestToken: randomUUID(),
      Step: 'createSecret',
    };

    // Act / Assess
    await expect(invokeWith('single-user')(event)).rejects.toThrow(
      `Secret ${roles.masterArn} is not enabled for rotation`,
    );
    expect(rotationMetrics(addMetric)).toEqual([['RotationFailed', 'Count', 1]]);
    expect(double.calls.map((c) => c.command)).toEqual(['DescribeSecret']);
  });

  it.each(STEPS)('refuses %s for a token that is no version of the secret', async (step) => {
    // Prepare
    const roles = await provision(server, database, double, `g${++scenario}`);
    const unknown = randomUUID();
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act / Assess
    await expect(
      invokeWith('alternating-users')({
        SecretId: roles.reportingArn,
        ClientRequestToken: unknown,
        Step: step,
      }),
    ).rejects.toThrow(
      `Secret ${roles.reportingArn} has no version ${unknown} with a staging label to rotate`,
    );
    expect(rotationMetrics(addMetric)).toEqual([['RotationFailed', 'Count', 1]]);
    expect(double.calls.map((c) => c.command)).toEqual(['DescribeSecret']);
  });

  it('refuses a version that is neither AWSCURRENT nor AWSPENDING (e.g. AWSPREVIOUS)', async () => {
    // Prepare
    const roles = await provision(server, database, double, `g${++scenario}`);
    const first = double.versionWith(roles.masterArn, 'AWSCURRENT') as string;
    await double.rotate(roles.masterArn, invokeWith('single-user'));
    expect(double.versionWith(roles.masterArn, 'AWSPREVIOUS')).toBe(first);
    const before = await state(roles, roles.masterArn);

    // Act / Assess
    await expect(
      invokeWith('single-user')({ SecretId: roles.masterArn, ClientRequestToken: first, Step: 'setSecret' }),
    ).rejects.toThrow(`Version ${first} of secret ${roles.masterArn} is not AWSPENDING`);
    expect(await state(roles, roles.masterArn)).toEqual(before);
  });

  it.each(['single-user', 'alternating-users'] as const)(
    '%s: every step for a version that is already AWSCURRENT succeeds and changes nothing',
    async (strategy) => {
      // Prepare
      const roles = await provision(server, database, double, `g${++scenario}`);
      const arn = arnOf(roles, strategy);
      const token = await double.rotate(arn, invokeWith(strategy));
      const before = await state(roles, arn);
      const calls = double.calls.length;
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      for (const step of STEPS)
        await invokeWith(strategy)({ SecretId: arn, ClientRequestToken: token, Step: step });

      // Assess
      expect(rotationMetrics(addMetric)).toEqual(Array(4).fill(['RotationSucceeded', 'Count', 1]));
      expect(double.calls.slice(calls).map((c) => c.command)).toEqual(Array(4).fill('DescribeSecret'));
      expect(await state(roles, arn)).toEqual(before);
      expect(await tryLogin(await readSecret(client, arn))).toEqual({ ok: true, user: expect.any(String) });
    },
  );

  it('refuses to run without a valid ROTATION_STRATEGY, and the exported handler reads it', async () => {
    // Prepare
    const roles = await provision(server, database, double, `g${++scenario}`);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const exported: Invoke = (event) => handler(event, lambdaContext());
    process.env.ROTATION_STRATEGY = 'both';

    // Act / Assess
    await expect(double.rotate(roles.masterArn, exported)).rejects.toThrow(
      'ROTATION_STRATEGY must be one of single-user, alternating-users, got both',
    );
    expect(rotationMetrics(addMetric)).toEqual([['RotationFailed', 'Count', 1]]);
    const token = double.versionWith(roles.masterArn, 'AWSPENDING') as string;
    process.env.ROTATION_STRATEGY = 'single-user';
    await double.rotate(roles.masterArn, exported, { token });
    expect(double.versionWith(roles.masterArn, 'AWSCURRENT')).toBe(token);
  });

  it('refuses an alternating rotation whose pending user is not the alternate of the current one', async () => {
    // Prepare: someone pointed AWSPENDING at the master user.
    const roles = await provision(server, database, double, `g${++scenario}`);
    const current = await readSecret(client, roles.reportingArn);
    const token = randomUUID();
    await client.send(
      new PutSecretValueCommand({
        SecretId: roles.reportingArn,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...current, username: roles.admin, password: `x-${randomUUID()}` }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const before = await state(roles, roles.reportingArn);

    // Act / Assess
    await expect(
      invokeWith('alternating-users')({
        SecretId: roles.reportingArn,
        ClientRequestToken: token,
        Step: 'setSecret',
      }),
    ).rejects.toThrow(`AWSPENDING names user ${roles.admin}; alternating from ${roles.reporting} it must be`);
    expect(await state(roles, roles.reportingArn)).toEqual(before);
  });
});
