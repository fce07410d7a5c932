import { BackupClient, PutRestoreValidationResultCommand } from '@aws-sdk/client-backup';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler } from '../../lambda/restore-validation/handler';
import { LOCAL_APP_PASSWORD, migratedDatabase } from '../support/database';
import { lambdaContext } from '../support/lambda';
import { startPostgres, type TestPostgres } from '../support/postgres';

const backup = mockClient(BackupClient);
const rds = mockClient(RDSClient);
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/data';
const RESTORED = 'arn:aws:rds:eu-west-1:123456789012:db:awsbackup-restore-test-1';
let server: TestPostgres;
let dbName: string;

const PLAN = 'arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:citadel_prod_weekly-1';
const event = (status = 'COMPLETED', plan: string | null = PLAN) => ({
  'detail-type': 'Restore Job State Change',
  source: 'aws.backup',
  detail: {
    restoreJobId: 'job-1',
    status,
    createdResourceArn: RESTORED,
    ...(plan ? { restoreTestingPlanArn: plan } : {}),
  },
});
const instance = (overrides: Record<string, unknown> = {}) => ({
  DBInstances: [
    {
      Endpoint: { Address: '127.0.0.1', Port: server.port },
      StorageEncrypted: true,
      KmsKeyId: KEY,
      PubliclyAccessible: false,
      IAMDatabaseAuthenticationEnabled: true,
      ...overrides,
    },
  ],
});

/** Locally the app role has a password; on AWS the token source signs an IAM token. */
const handler = createHandler(async (host, port, user) => {
  expect({ host, user }).toEqual({ host: '127.0.0.1', user: 'citadel_app' });
  expect(port).toBeGreaterThan(0);
  return LOCAL_APP_PASSWORD;
});

beforeAll(async () => {
  server = await startPostgres();
  dbName = (await migratedDatabase(server, 'restored')).name;
  Object.assign(process.env, {
    CITADEL_DATA_KEY_ARN: KEY,
    CITADEL_DB_NAME: dbName,
    CITADEL_DB_USER: 'citadel_app',
  });
});
beforeEach(() => {
  backup.reset();
  rds.reset();
  backup.on(PutRestoreValidationResultCommand).resolves({});
});
afterAll(async () => {
  await server.destroy();
});

describe('restore test validation', () => {
  it('reports SUCCESSFUL for a private, CMK-encrypted restore the app role can read', async () => {
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: RESTORED }).resolves(instance());
    const outcome = await handler(event(), lambdaContext());
    expect(outcome.status).toBe('SUCCESSFUL');
    expect(backup.commandCalls(PutRestoreValidationResultCommand)[0]?.args[0].input).toEqual({
      RestoreJobId: 'job-1',
      ValidationStatus: 'SUCCESSFUL',
      ValidationStatusMessage: expect.stringContaining('readable'),
    });
  });

  it.each([
    ['a public instance', { PubliclyAccessible: true }, /publicly accessible/],
    [
      'IAM authentication off',
      { IAMDatabaseAuthenticationEnabled: false },
      /IAM database authentication is off/,
    ],
    [
      'another key',
      { KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/other' },
      /not encrypted with the data key/,
    ],
    [
      'an unreachable database',
      { Endpoint: { Address: '127.0.0.1', Port: 1 } },
      /could not log in .* as citadel_app with IAM/,
    ],
  ])('reports FAILED for %s', async (_name, overrides, message) => {
    rds.on(DescribeDBInstancesCommand).resolves(instance(overrides));
    const outcome = await handler(event(), lambdaContext());
    expect(outcome.status).toBe('FAILED');
    expect(outcome.message).toMatch(message);
    expect(backup.commandCalls(PutRestoreValidationResultCommand)[0]?.args[0].input.ValidationStatus).toBe(
      'FAILED',
    );
  });

  it('ignores restores that are not completed restore tests', async () => {
    expect((await handler(event('RUNNING'), lambdaContext())).status).toBe('SKIPPED');
    expect((await handler(event('COMPLETED', null), lambdaContext())).status).toBe('SKIPPED');
    expect(backup.commandCalls(PutRestoreValidationResultCommand)).toHaveLength(0);
  });
});
