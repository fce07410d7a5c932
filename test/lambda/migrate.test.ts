import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { connectAsMaster, ensureReportingLogin, handler } from '../../lambda/migrate/handler';
import { pgConnect } from '../../lambda/shared/db/direct';
import { parseSecret } from '../../lambda/shared/db/secret';
import { loadStageConfig } from '../../lib/config';
import { DataStack } from '../../lib/stacks/data-stack';
import { MIGRATIONS_DIR, withClient } from '../support/database';
import { lambdaContext } from '../support/lambda';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres';

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
    expect(first.applied).toHaveLength(6);
    expect(second).toEqual({ applied: [], skipped: first.applied, reportingLoginCreated: false });
    const versions = await withClient(adminUrl(), async (c) =>
      (await c.query('SELECT version FROM citadel.schema_migrations ORDER BY 1')).rows.map((r) => r.version),
    );
    expect(versions).toEqual(['0001', '0002', '0003', '0004', '0005', '0006']);
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

  it('creates the reporting login without its password ever reaching the database log', async () => {
    // Prepare: a server logging DDL statements as the parameter group does (its log is exported to CloudWatch)
    const lines: string[] = [];
    const logged = await startPostgres({
      settings: { log_statement: 'ddl', log_min_error_statement: 'error' },
      onLog: (line) => lines.push(line),
    });
    try {
      const password = 'Plain-Reporting-Pa55word';
      const secret = parseSecret(secretJson('citadel_reporting', password), 'reporting');
      await withClient(logged.url(), async (c) => c.query('CREATE ROLE citadel_readonly NOLOGIN'));
      const session = await pgConnect({
        ...logged.superuser,
        username: logged.superuser.user,
        host: '127.0.0.1',
        port: logged.port,
        dbname: 'postgres',
      });
      // Act
      try {
        expect(await ensureReportingLogin(session, secret)).toBe(true);
      } finally {
        await session.end();
      }
      // Assess: the statement was logged, the password was not, and the login works with it
      const log = lines.join('');
      expect(log).toMatch(/CREATE ROLE "citadel_reporting" LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/);
      expect(log).not.toContain(password);
      const works = await withClient(
        `postgres://citadel_reporting:${password}@127.0.0.1:${logged.port}/postgres`,
        async (c) => (await c.query('SELECT current_user AS u')).rows[0].u,
      );
      expect(works).toBe('citadel_reporting');
    } finally {
      await logged.destroy();
    }
  });

  it('fails the deployment (throws) when the master secret is unusable', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"username":"x"}' });
    await expect(handler({}, lambdaContext())).rejects.toThrow(
      /the master secret is not a PostgreSQL secret: invalid field\(s\) engine, host/,
    );
  });
});

describe('master login while the master password rotates', () => {
  const login = (password: string) => ({
    host: '127.0.0.1',
    port: server.port,
    dbname: 'postgres',
    username: 'rotating_master',
    password,
  });
  let connects = 0;
  const connect = (l: ReturnType<typeof login>) => {
    connects++;
    return pgConnect(l);
  };
  beforeAll(async () => {
    await withClient(adminUrl(), (c) => c.query("CREATE ROLE rotating_master LOGIN PASSWORD 'Old-Pa55word'"));
  });
  afterEach(async () => {
    connects = 0;
    await withClient(adminUrl(), (c) => c.query("ALTER ROLE rotating_master PASSWORD 'Old-Pa55word'"));
  });
  const whoAmI = async (session: Awaited<ReturnType<typeof connectAsMaster>>) => {
    try {
      return (await session.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u;
    } finally {
      await session.end();
    }
  };

  it('logs in with AWSPENDING between setSecret and finishSecret', async () => {
    // Prepare: setSecret has run (PostgreSQL has the new password), finishSecret has not
    await withClient(adminUrl(), (c) => c.query("ALTER ROLE rotating_master PASSWORD 'New-Pa55word'"));
    const read = async (stage?: string) => login(stage === 'AWSPENDING' ? 'New-Pa55word' : 'Old-Pa55word');
    // Act
    const session = await connectAsMaster({ read, connect, pauseMs: 1 });
    // Assess
    expect(await whoAmI(session)).toBe('rotating_master');
    expect(connects).toBe(2);
  });

  it('waits for the rotation to settle when neither version works yet, then logs in', async () => {
    // Prepare: the password changed, but neither the current nor a pending version says so for two reads
    await withClient(adminUrl(), (c) => c.query("ALTER ROLE rotating_master PASSWORD 'New-Pa55word'"));
    let reads = 0;
    const read = async (stage?: string) => {
      if (stage === 'AWSPENDING') throw new Error('ResourceNotFoundException');
      return login(++reads > 2 ? 'New-Pa55word' : 'Old-Pa55word');
    };
    // Act
    const session = await connectAsMaster({ read, connect, pauseMs: 1 });
    // Assess
    expect(await whoAmI(session)).toBe('rotating_master');
    expect(connects).toBe(3);
  });

  it('gives up with a pointer to the runbook when the rotation never settles', async () => {
    await withClient(adminUrl(), (c) => c.query("ALTER ROLE rotating_master PASSWORD 'Third-Pa55word'"));
    const read = async (stage?: string) => login(stage === 'AWSPENDING' ? 'New-Pa55word' : 'Old-Pa55word');
    await expect(connectAsMaster({ read, connect, deadlineMs: 50, pauseMs: 10 })).rejects.toThrow(
      /refused the master secret's current and pending passwords .*runbooks.md#rotation-failed/,
    );
    expect(connects).toBeGreaterThanOrEqual(4);
  });

  it('does not retry what is not a refused password', async () => {
    const read = async () => ({ ...login('Old-Pa55word'), port: await freePort() });
    await expect(connectAsMaster({ read, connect, pauseMs: 1 })).rejects.toThrow(/ECONNREFUSED/);
    expect(connects).toBe(1);
  });
});

describe('RDS parameter group', () => {
  it('holds only settings PostgreSQL 17 accepts (a server starts with all of them)', async () => {
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
