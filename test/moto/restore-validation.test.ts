/**
 * Restore-test validation (`lambda/restore-validation/handler.ts`) against moto's RDS: DescribeDBInstances with
 * the restored instance's ARN as DBInstanceIdentifier, exactly as the handler sends it, for restored instances
 * created in moto with the settings each check looks at (encryption, key, public access, IAM database
 * authentication). For the instance that passes, the handler then logs in at the endpoint moto reports: moto's
 * host name resolves (in this test process) to the local PostgreSQL, whose port the instance was created with,
 * and the existing token-source seam hands over the local app-role password (a local PostgreSQL cannot verify an
 * RDS IAM token).
 *
 * AWS Backup's PutRestoreValidationResult is not implemented by moto 5.2, so it stays on aws-sdk-client-mock;
 * its request is checked against the AWS Backup API reference (`PUT_RESTORE_VALIDATION_RESULT` below).
 */
import dns from 'node:dns';
import {
  BackupClient,
  PutRestoreValidationResultCommand,
  type PutRestoreValidationResultCommandInput,
  RestoreValidationStatus,
} from '@aws-sdk/client-backup';
import { CreateDBInstanceCommand, type CreateDBInstanceCommandInput, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import * as z from 'zod';
import { LOCAL_APP_PASSWORD, migratedDatabase } from '../support/database';
import { lambdaContext } from '../support/lambda';
import { describeAgainstMoto } from '../support/moto';
import { startPostgres, type TestPostgres } from '../support/postgres';

/**
 * PutRestoreValidationResult's request, from the AWS Backup API reference
 * (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html): `RestoreJobId`
 * (required, in the URI), `ValidationStatus` (required; FAILED | SUCCESSFUL | TIMED_OUT | VALIDATING) and
 * `ValidationStatusMessage` (optional string). Neither the reference nor the service model gives the message a
 * length limit; the handler caps it at 1,000 characters, which the schema holds it to.
 */
const PUT_RESTORE_VALIDATION_RESULT = z.strictObject({
  RestoreJobId: z.string().min(1),
  ValidationStatus: z.enum(['FAILED', 'SUCCESSFUL', 'TIMED_OUT', 'VALIDATING']),
  ValidationStatusMessage: z.string().max(1000).optional(),
});

const DATA_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const OTHER_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555';
const PLAN = 'arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:citadel_prod_weekly-1';

describeAgainstMoto('Restore validation against moto RDS', () => {
  let restore: typeof import('../../lambda/restore-validation/handler');
  let server: TestPostgres;
  let rds: RDSClient;
  const backup = mockClient(BackupClient);
  /** Host names moto gave restored instances, resolved to the local PostgreSQL. */
  const local = new Set<string>();
  const logins: { host: string; port: number; user: string }[] = [];
  let password = LOCAL_APP_PASSWORD;
  const tokenSource = async (host: string, port: number, user: string) => {
    logins.push({ host, port, user });
    return password;
  };

  /** A restored instance as AWS Backup would leave it, in moto; returns its ARN and endpoint. */
  async function restoredInstance(id: string, settings: Partial<CreateDBInstanceCommandInput>) {
    const { DBInstance } = await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: 'db.t4g.micro',
        Engine: 'postgres',
        AllocatedStorage: 20,
        MasterUsername: 'citadel_admin',
        MasterUserPassword: 'not-used-by-the-validator',
        Port: server.port,
        StorageEncrypted: true,
        KmsKeyId: DATA_KEY,
        PubliclyAccessible: false,
        EnableIAMDatabaseAuthentication: true,
        ...settings,
      }),
    );
    const host = DBInstance?.Endpoint?.Address as string;
    local.add(host);
    return { arn: DBInstance?.DBInstanceArn as string, host, port: DBInstance?.Endpoint?.Port };
  }

  const event = (arn: string, restoreJobId = `job-${Math.random().toString(36).slice(2, 10)}`) => ({
    'detail-type': 'Restore Job State Change',
    source: 'aws.backup',
    detail: { restoreJobId, status: 'COMPLETED', createdResourceArn: arn, restoreTestingPlanArn: PLAN },
  });
  const reported = (): PutRestoreValidationResultCommandInput[] =>
    backup.commandCalls(PutRestoreValidationResultCommand).map((call) => call.args[0].input);

  beforeAll(async () => {
    server = await startPostgres();
    const database = await migratedDatabase(server, 'restored');
    Object.assign(process.env, {
      CITADEL_DATA_KEY_ARN: DATA_KEY,
      CITADEL_DB_NAME: database.name,
      CITADEL_DB_USER: 'citadel_app',
    });
    rds = new RDSClient({});
    restore = await import('../../lambda/restore-validation/handler');
  });
  afterAll(async () => {
    backup.restore();
    rds?.destroy();
    await server?.destroy();
  });
  beforeEach(() => {
    backup.reset();
    backup.on(PutRestoreValidationResultCommand).resolves({});
    logins.length = 0;
    password = LOCAL_APP_PASSWORD;
    // Only the names moto handed out resolve to loopback; every other name resolves as usual.
    const lookup = dns.lookup;
    jest
      .spyOn(dns, 'lookup')
      .mockImplementation(((host: string, ...rest: unknown[]) =>
        local.has(host)
          ? (lookup as (...args: unknown[]) => void)('127.0.0.1', ...rest)
          : (lookup as (...args: unknown[]) => void)(host, ...rest)) as typeof dns.lookup);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('the documented request shape agrees with the SDK’s model, and refuses what AWS would', () => {
    expect([...PUT_RESTORE_VALIDATION_RESULT.shape.ValidationStatus.options].sort()).toEqual(
      Object.values(RestoreValidationStatus).sort(),
    );
    const ok = { RestoreJobId: 'job-1', ValidationStatus: 'FAILED', ValidationStatusMessage: 'x' };
    expect(PUT_RESTORE_VALIDATION_RESULT.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, ValidationStatus: 'PASSED' },
      { RestoreJobId: 'job-1', Status: 'FAILED' },
      { ...ok, RestoreJobId: '' },
      { ...ok, ValidationStatusMessage: 'x'.repeat(1001) },
    ]) {
      expect(PUT_RESTORE_VALIDATION_RESULT.safeParse(bad).success).toBe(false);
    }
  });

  it('SUCCESSFUL for a private restore encrypted with the data key, after reading it at moto’s endpoint', async () => {
    // Prepare
    const instance = await restoredInstance('awsbackup-restore-ok', {});
    const handler = restore.createHandler(tokenSource);
    // Act
    const outcome = await handler(event(instance.arn, 'job-ok'), lambdaContext());
    // Assess
    expect(outcome.status).toBe('SUCCESSFUL');
    expect(logins).toEqual([{ host: instance.host, port: server.port, user: 'citadel_app' }]);
    expect(instance.host).toMatch(/^awsbackup-restore-ok\..+\.rds\.amazonaws\.com$/);
    expect(reported()).toEqual([
      {
        RestoreJobId: 'job-ok',
        ValidationStatus: 'SUCCESSFUL',
        ValidationStatusMessage:
          'private, encrypted with the data key, files and audit trail readable as the app role',
      },
    ]);
    expect(PUT_RESTORE_VALIDATION_RESULT.parse(reported()[0])).toBeDefined();
  });

  it('(FAILED when the app role cannot log in there: the login is real)', async () => {
    const instance = await restoredInstance('awsbackup-restore-login', {});
    password = 'not-the-app-password';
    const outcome = await restore.createHandler(tokenSource)(event(instance.arn), lambdaContext());
    expect(outcome).toEqual({
      status: 'FAILED',
      message: expect.stringMatching(
        /^could not log in to the restored instance as citadel_app with IAM: .*password authentication failed/,
      ),
    });
    expect(logins).toHaveLength(1);
    expect(PUT_RESTORE_VALIDATION_RESULT.parse(reported()[0]).ValidationStatus).toBe('FAILED');
  });

  describe('FAILED, without logging in, for', () => {
    it.each([
      [
        'an unencrypted restore',
        'awsbackup-restore-plain',
        { StorageEncrypted: false, KmsKeyId: undefined },
        'storage is not encrypted; storage is not encrypted with the data key',
      ],
      [
        'a restore encrypted with another key',
        'awsbackup-restore-otherkey',
        { KmsKeyId: OTHER_KEY },
        'storage is not encrypted with the data key',
      ],
      [
        'a restore without IAM database authentication',
        'awsbackup-restore-noiam',
        { EnableIAMDatabaseAuthentication: false },
        'IAM database authentication is off on the restored instance',
      ],
      [
        'a publicly accessible restore',
        'awsbackup-restore-public',
        { PubliclyAccessible: true },
        'the restored instance is publicly accessible',
      ],
    ])('%s', async (_name, id, settings, message) => {
      // Prepare
      const instance = await restoredInstance(id, settings);
      // Act
      const outcome = await restore.createHandler(tokenSource)(
        event(instance.arn, `job-${id}`),
        lambdaContext(),
      );
      // Assess
      expect(outcome).toEqual({ status: 'FAILED', message });
      expect(logins).toEqual([]);
      expect(reported()).toEqual([
        { RestoreJobId: `job-${id}`, ValidationStatus: 'FAILED', ValidationStatusMessage: message },
      ]);
      expect(PUT_RESTORE_VALIDATION_RESULT.parse(reported()[0])).toBeDefined();
    });
  });

  it('fails the invocation, reporting nothing, when RDS does not know the restored instance', async () => {
    // Prepare
    const missing = 'arn:aws:rds:eu-west-1:123456789012:db:awsbackup-restore-gone';
    // Act / Assess
    await expect(restore.createHandler(tokenSource)(event(missing), lambdaContext())).rejects.toMatchObject({
      name: 'DBInstanceNotFoundFault',
    });
    expect(reported()).toEqual([]);
    expect(logins).toEqual([]);
  });
});
