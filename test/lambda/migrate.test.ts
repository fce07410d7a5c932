import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../lambda/migrate/handler';
import { loadStageConfig } from '../../lib/config';
import { DataStack } from '../../lib/stacks/data-stack';
import { MIGRATIONS_DIR, withClient } from '../support/database';
import { lambdaContext } from '../support/lambda';
import { startPostgres, type TestPostgres } from '../support/postgres';

const secrets = mockClient(SecretsManagerClient);
let server: TestPostgres;
let dbName: string;

const secretJson = (username: string, password: string) =>
  JSON.stringify({
    engine: 'postgres',
    host: '127.0.0.1',
    port: server.port,
    username,
    password,
    dbname: dbName,
  });

beforeAll(async () => {
  server = await startPostgres();
  dbName = (await server.createDatabase('trigger')).name;
  process.env.CITADEL_MASTER_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:master';
  process.env.CITADEL_MIGRATIONS_DIR = MIGRATIONS_DIR;
  process.env.CITADEL_DB_NAME = dbName;
});
afterEach(() => {
  secrets.reset();
  delete process.env.CITADEL_REPORTING_SECRET_ARN;
});
afterAll(async () => {
  await server.destroy();
});

const adminUrl = () => server.url(dbName);

describe('migration trigger', () => {
  it('applies every migration as the master from its secret, then is a no-op', async () => {
    // Prepare: the superuser stands in for the RDS master
    secrets.on(GetSecretValueCommand, { SecretId: process.env.CITADEL_MASTER_SECRET_ARN }).resolves({
      SecretString: secretJson(server.superuser.user, server.superuser.password),
    });
    // Act
    const first = await handler({}, lambdaContext());
    const second = await handler({}, lambdaContext());
    // Assess
    expect(first.applied).toHaveLength(5);
    expect(second).toEqual({ applied: [], skipped: first.applied, reportingLoginCreated: false });
    const versions = await withClient(adminUrl(), async (c) =>
      (await c.query('SELECT version FROM citadel.schema_migrations ORDER BY 1')).rows.map((r) => r.version),
    );
    expect(versions).toEqual(['0001', '0002', '0003', '0004', '0005']);
  });

  it('creates the read-only reporting login from its secret once, and never resets its password', async () => {
    process.env.CITADEL_REPORTING_SECRET_ARN =
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reporting';
    secrets.on(GetSecretValueCommand, { SecretId: process.env.CITADEL_MASTER_SECRET_ARN }).resolves({
      SecretString: secretJson(server.superuser.user, server.superuser.password),
    });
    secrets
      .on(GetSecretValueCommand, { SecretId: process.env.CITADEL_REPORTING_SECRET_ARN })
      .resolvesOnce({ SecretString: secretJson('citadel_reporting', 'first-Password-123') })
      .resolves({ SecretString: secretJson('citadel_reporting', 'second-Password-456') });

    expect((await handler({}, lambdaContext())).reportingLoginCreated).toBe(true);
    expect((await handler({}, lambdaContext())).reportingLoginCreated).toBe(false);

    const reportingUrl = `postgres://citadel_reporting:first-Password-123@127.0.0.1:${server.port}/${dbName}`;
    const count = await withClient(
      reportingUrl,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM citadel.files')).rows[0].n,
    );
    expect(count).toBe(0);
    await expect(
      withClient(reportingUrl, (c) =>
        c.query(
          "INSERT INTO citadel.audit_events (actor_id, actor_kind, action, outcome) VALUES ('x', 'user', 'a.b', 'success')",
        ),
      ),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('fails the deployment (throws) when the master secret is unusable', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"username":"x"}' });
    await expect(handler({}, lambdaContext())).rejects.toThrow(
      /the master secret is not a PostgreSQL secret: invalid field\(s\) engine, host/,
    );
  });
});

describe('RDS parameter group', () => {
  it('holds only settings PostgreSQL 18 accepts (a server starts with all of them)', async () => {
    const settings = Object.fromEntries(
      Object.entries(DataStack.parameters(loadStageConfig('prod'))).filter(
        // rds.* are RDS-only; pg_stat_statements is preloaded by RDS, not shipped with the test server.
        ([k]) => !k.startsWith('rds.') && k !== 'shared_preload_libraries',
      ),
    );
    const strict = await startPostgres({ settings });
    try {
      const shown = await withClient(
        strict.url(),
        async (c) => (await c.query('SHOW log_min_duration_statement')).rows[0],
      );
      expect(shown.log_min_duration_statement).toBe('500ms');
    } finally {
      await strict.destroy();
    }
  });
});
