/**
 * Validates AWS Backup restore tests of the database. On "Restore Job State Change" (COMPLETED) for our
 * restore testing plan, it checks the restored instance is private and encrypted with the data key, logs
 * in as the application role with an IAM token (never the master password) and reads the files table and
 * the audit trail, then reports SUCCESSFUL or FAILED to AWS Backup.
 */
import { BackupClient, PutRestoreValidationResultCommand } from '@aws-sdk/client-backup';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod';
import { RESTORE_METRICS } from '../../contract/metrics';
import { type DbSession, pgConnect } from '../shared/db/direct';
import { rdsAuthToken } from '../shared/db/iam-token';
import { observe } from '../shared/observe';
import { logger, metrics, traced } from '../shared/powertools';

const backup = traced(new BackupClient({}));
const rds = traced(new RDSClient({}));

/** The fields of AWS Backup's "Restore Job State Change" event this handler uses. */
export const restoreEventSchema = z.object({
  'detail-type': z.literal('Restore Job State Change'),
  detail: z.object({
    restoreJobId: z.string().min(1),
    status: z.string(),
    createdResourceArn: z.string().optional(),
    restoreTestingPlanArn: z.string().optional(),
  }),
});
export type RestoreEvent = z.infer<typeof restoreEventSchema>;

export interface ValidationOutcome {
  readonly status: 'SUCCESSFUL' | 'FAILED' | 'SKIPPED';
  readonly message: string;
}

/** How the validator authenticates: an IAM token for the app role (tests inject a local password). */
export type TokenSource = (host: string, port: number, user: string) => Promise<string>;

const iamToken: TokenSource = (hostname, port, username) =>
  rdsAuthToken({ hostname, port, username, region: process.env.AWS_REGION as string });

async function restoredInstance(arn: string) {
  const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: arn }));
  const instance = DBInstances?.[0];
  if (!instance?.Endpoint?.Address) throw new Error(`restored instance ${arn} has no endpoint`);
  return instance;
}

async function loginAsApp(host: string, port: number, token: TokenSource): Promise<DbSession> {
  const user = process.env.CITADEL_DB_USER ?? 'citadel_app';
  try {
    const password = await token(host, port, user);
    return await pgConnect(
      { host, port, username: user, password, dbname: process.env.CITADEL_DB_NAME ?? 'citadel' },
      { applicationName: 'citadel-restore-validation' },
    );
  } catch (error) {
    throw new Error(
      `could not log in to the restored instance as ${user} with IAM: ${(error as Error).message}`,
    );
  }
}

/** Runs the checks; a failed check is a FAILED outcome, only AWS API errors throw. */
export async function validate(
  event: RestoreEvent,
  token: TokenSource = iamToken,
): Promise<ValidationOutcome> {
  const { detail } = event;
  if (detail.status !== 'COMPLETED' || !detail.restoreTestingPlanArn || !detail.createdResourceArn) {
    return { status: 'SKIPPED', message: `not a completed restore test (${detail.status})` };
  }
  const instance = await restoredInstance(detail.createdResourceArn);
  const problems: string[] = [];
  if (!instance.StorageEncrypted) problems.push('storage is not encrypted');
  if (instance.KmsKeyId !== process.env.CITADEL_DATA_KEY_ARN)
    problems.push('storage is not encrypted with the data key');
  if (instance.PubliclyAccessible) problems.push('the restored instance is publicly accessible');
  // AWS Backup infers it from the recovery point; without it the app role cannot log in at all.
  if (!instance.IAMDatabaseAuthenticationEnabled)
    problems.push('IAM database authentication is off on the restored instance');
  if (problems.length === 0) {
    let session: DbSession | undefined;
    try {
      session = await loginAsApp(
        instance.Endpoint?.Address as string,
        instance.Endpoint?.Port ?? 5432,
        token,
      );
      const { rows } = await session.query<{ files: number; audit: number }>(
        'SELECT (SELECT count(*) FROM citadel.files)::int AS files, (SELECT count(*) FROM citadel.audit_events)::int AS audit',
      );
      logger.info('restored database readable', { files: rows[0]?.files, auditEvents: rows[0]?.audit });
    } catch (error) {
      problems.push((error as Error).message);
    } finally {
      await session?.end().catch(() => undefined);
    }
  }
  return problems.length === 0
    ? {
        status: 'SUCCESSFUL',
        message: 'private, encrypted with the data key, files and audit trail readable as the app role',
      }
    : { status: 'FAILED', message: problems.join('; ').slice(0, 1000) };
}

/** Builds the handler; tests inject how the validator authenticates. */
export function createHandler(token: TokenSource = iamToken) {
  return observe(async (raw: unknown): Promise<ValidationOutcome> => {
    const event = restoreEventSchema.parse(raw);
    const outcome = await validate(event, token);
    logger.info('restore validation', { restoreJobId: event.detail.restoreJobId, ...outcome });
    if (outcome.status === 'SKIPPED') return outcome;
    await backup.send(
      new PutRestoreValidationResultCommand({
        RestoreJobId: event.detail.restoreJobId,
        ValidationStatus: outcome.status,
        ValidationStatusMessage: outcome.message,
      }),
    );
    metrics.addMetric(
      outcome.status === 'SUCCESSFUL' ? RESTORE_METRICS.succeeded : RESTORE_METRICS.failed,
      'Count',
      1,
    );
    return outcome;
  });
}

export const handler = createHandler();
