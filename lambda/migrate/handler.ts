/**
 * The deploy-time migration trigger: applies `migrations/*.sql` (bundled next to this file) as the master
 * user, directly on the instance, then makes sure the reporting login exists. Runs on every deploy whose
 * handler bundle changed, i.e. whenever a migration is added; a failure fails the deployment.
 */

import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { type DbLogin, type DbSession, pgConnect } from '../shared/db/direct';
import { loadMigrations, type MigrationResult, migrate } from '../shared/db/migrate';
import { scramVerifier } from '../shared/db/scram';
import { type DatabaseSecret, parseSecret } from '../shared/db/secret';
import { observe } from '../shared/observe';
import { logger, metrics, traced } from '../shared/powertools';

const secrets = traced(new SecretsManagerClient({}));

/** Group role of read-only reporting logins (created by migration 0001). */
export const READONLY_GROUP = 'citadel_readonly';

async function readSecret(secretId: string, what: string, stage?: 'AWSPENDING'): Promise<DatabaseSecret> {
  const { SecretString } = await secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, ...(stage ? { VersionStage: stage } : {}) }),
  );
  return parseSecret(SecretString, stage ? `${what} (${stage})` : what);
}

/** PostgreSQL's `invalid_password`: the login was refused. */
const INVALID_PASSWORD = '28P01';

/** Migrations may build indexes on large tables: a generous statement timeout, well within the trigger's. */
const MIGRATION_SESSION = { statementTimeoutMs: 240_000, applicationName: 'citadel-migrations' };

export interface MasterConnectOptions {
  /** Reads a version of the master secret: AWSCURRENT, or the given stage. */
  readonly read: (stage?: 'AWSPENDING') => Promise<DbLogin>;
  /** Opens a session; tests inject one that counts attempts. @default pgConnect */
  readonly connect?: (login: DbLogin) => Promise<DbSession>;
  /** How long to keep trying while a rotation is under way. @default 120 s */
  readonly deadlineMs?: number;
  /** @default 5 s */
  readonly pauseMs?: number;
}

/**
 * A session as the master, even while its single-user rotation is under way. Between the rotation's
 * `setSecret` (PostgreSQL has the new password) and `finishSecret` (the secret's AWSCURRENT has it), the
 * current value is refused and the pending one works; before `setSecret` the current one works. So a refused
 * login tries AWSPENDING, then re-reads both until the rotation settles or the deadline passes: a deployment
 * must not fail because a scheduled rotation happened to run alongside it.
 */
export async function connectAsMaster(options: MasterConnectOptions): Promise<DbSession> {
  const connect = options.connect ?? ((login: DbLogin) => pgConnect(login, MIGRATION_SESSION));
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  const refused = (error: unknown) => (error as { code?: string }).code === INVALID_PASSWORD;
  for (let attempt = 1; ; attempt++) {
    const current = await options.read();
    try {
      return await connect(current);
    } catch (error) {
      if (!refused(error)) throw error;
    }
    const pending = await options.read('AWSPENDING').catch(() => undefined);
    if (pending && pending.password !== current.password) {
      try {
        const session = await connect(pending);
        logger.info('master login with the pending password: a rotation is under way');
        return session;
      } catch (error) {
        if (!refused(error)) throw error;
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `PostgreSQL refused the master secret's current and pending passwords (${attempt} attempts): is a rotation stuck? See docs/runbooks.md#rotation-failed`,
      );
    }
    logger.warn('master login refused; waiting for the rotation to settle', { attempt });
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 5_000));
  }
}

/**
 * Creates the reporting login with its current secret password if it does not exist yet. An existing
 * login is left alone: from then on its password belongs to the rotation.
 */
export async function ensureReportingLogin(session: DbSession, reporting: DatabaseSecret): Promise<boolean> {
  const { rows } = await session.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [reporting.username]);
  if (rows.length > 0) return false;
  // The password goes as a SCRAM verifier, never in clear: `log_statement = 'ddl'` logs this statement, and the
  // database log is exported to CloudWatch.
  const verifier = await scramVerifier(reporting.password);
  await session.query(
    `CREATE ROLE ${escapeIdentifier(reporting.username)} LOGIN PASSWORD ${escapeLiteral(verifier)} IN ROLE ${READONLY_GROUP}`,
  );
  return true;
}

export interface MigrateOutcome extends MigrationResult {
  readonly reportingLoginCreated: boolean;
}

async function run(): Promise<MigrateOutcome> {
  const masterArn = process.env.CITADEL_MASTER_SECRET_ARN;
  if (!masterArn) throw new Error('CITADEL_MASTER_SECRET_ARN is not set');
  const dbname = process.env.CITADEL_DB_NAME;
  const dir = process.env.CITADEL_MIGRATIONS_DIR ?? path.join(import.meta.dirname, 'migrations');
  const client = await connectAsMaster({
    read: async (stage) => {
      const secret = await readSecret(masterArn, 'the master secret', stage);
      return dbname ? { ...secret, dbname } : secret;
    },
  });
  try {
    const result = await migrate(client, await loadMigrations(dir));
    let reportingLoginCreated = false;
    if (process.env.CITADEL_REPORTING_SECRET_ARN) {
      const reporting = await readSecret(process.env.CITADEL_REPORTING_SECRET_ARN, 'the reporting secret');
      reportingLoginCreated = await ensureReportingLogin(client, reporting);
    }
    logger.info('migrations done', {
      applied: result.applied,
      skipped: result.skipped.length,
      reportingLoginCreated,
    });
    metrics.addMetric('MigrationsApplied', 'Count', result.applied.length);
    return { ...result, reportingLoginCreated };
  } finally {
    await client.end();
  }
}

export const handler = observe(run);
