/**
 * Test 5: no password in any log line (at DEBUG, on success and failure), in any error, or in any
 * statement sent to PostgreSQL (passwords travel as SCRAM verifiers).
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import type { RotationStrategy } from '../../../lambda/rotation/handler';
import { lambdaContext } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { faultyConnect, memberships, provision, readSecret, storedPassword } from './fixtures';
import { type Invoke, SecretsManagerDouble } from './secrets-manager-double';

// The shared logger reads its level when the module loads: set DEBUG first, then load the handler.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
process.env.CITADEL_DB_TLS = 'disable';
const { createRotationHandler } = await import('../../../lambda/rotation/handler');

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({});
let server: TestPostgres;
let database: { readonly name: string; readonly url: string };

beforeAll(async () => {
  server = await startPostgres({ maxConnections: 20 });
  database = await server.createDatabase('rotation_logs');
});
afterAll(async () => {
  sm.restore();
  await server.destroy();
});

describe('secrecy', () => {
  it('never writes a password to any log line (DEBUG, successes and failures) nor sends one to PostgreSQL', async () => {
    // Prepare
    const double = new SecretsManagerDouble().attach(sm);
    const roles = await provision(server, database, double, 'logs');
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    jest.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
    jest.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
    const recorder = faultyConnect({ afterStatement: /^ALTER ROLE/ });
    const invoke =
      (strategy: RotationStrategy): Invoke =>
      (event) =>
        createRotationHandler({ strategy, connect: recorder.connect })(event, lambdaContext());
    const errors: string[] = [];
    const note = (error: unknown) => errors.push(String((error as Error).message));

    // Act: a failure after ALTER ROLE and its retry (login fallback to AWSPENDING), clean rotations of
    // both strategies, a refused stuck AWSPENDING.
    try {
      const token = await double.rotate(roles.masterArn, invoke('single-user')).catch((e) => {
        note(e);
        return double.versionWith(roles.masterArn, 'AWSPENDING') as string;
      });
      await double.rotate(roles.masterArn, invoke('single-user'), { token });
      await double.rotate(roles.masterArn, invoke('single-user'));
      await double.rotate(roles.reportingArn, invoke('alternating-users'));
      await double.rotate(roles.reportingArn, invoke('alternating-users'));
      await client.send(
        new PutSecretValueCommand({
          SecretId: roles.reportingArn,
          ClientRequestToken: randomUUID(),
          SecretString: JSON.stringify({
            ...(await readSecret(client, roles.reportingArn)),
            password: `Stuck-${randomUUID()}`,
          }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      await double
        .rotate(roles.reportingArn, invoke('alternating-users'), { token: randomUUID() })
        .catch(note);
      await invoke('alternating-users')({
        SecretId: roles.reportingArn,
        ClientRequestToken: randomUUID(),
        Step: 'createSecret',
      }).catch(note);
    } finally {
      jest.restoreAllMocks();
    }

    // Assess
    const passwords = [
      ...double.allValues().map((value) => (JSON.parse(value) as { password: string }).password),
      roles.initial.master.password,
      roles.initial.reporting.password,
    ];
    // 2 initial, 2 master rotations (one failed then retried), 2 reporting rotations, 1 left stuck.
    expect(new Set(passwords).size).toBe(7);
    const output = written.join('');
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const outcomes = lines.filter((l) => String(l.message).startsWith('rotation step'));
    // One line per invocation: 2 (create, failed set) + 4 (retry) + 4 + 4 + 4 + 1 (refused stuck createSecret).
    expect(outcomes).toHaveLength(19);
    expect(outcomes.filter((l) => l.outcome === 'failed').map((l) => l.step)).toEqual([
      'setSecret',
      'createSecret',
    ]);
    for (const line of outcomes) {
      expect(line).toMatchObject({
        arn: expect.stringMatching(/^arn:aws:secretsmanager:/),
        step: expect.any(String),
        strategy: expect.stringMatching(/^(single-user|alternating-users)$/),
        versionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        outcome: expect.stringMatching(/^(succeeded|failed)$/),
      });
    }
    // The retry's setSecret fell back from AWSCURRENT (already changed) to AWSPENDING, and said so.
    expect(lines).toContainEqual(
      expect.objectContaining({
        message: 'login for setSecret failed; trying the next version',
        stage: 'AWSCURRENT',
        cause: expect.stringContaining('28P01'),
      }),
    );
    expect(errors).toHaveLength(3);
    for (const password of passwords) {
      expect(output).not.toContain(password);
      for (const message of errors) expect(message).not.toContain(password);
      for (const statement of recorder.record.statements) expect(statement).not.toContain(password);
    }
    expect(
      recorder.record.statements.some((s) =>
        /^(ALTER|CREATE) ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:/.test(s),
      ),
    ).toBe(true);
    expect(await storedPassword(database.url, roles.admin)).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(await memberships(database.url, `${roles.reporting}_clone`)).toEqual([roles.readonly]);
  });
});
