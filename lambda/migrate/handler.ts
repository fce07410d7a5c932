/**
 * The deploy-time migration trigger: applies `migrations/*.sql` (bundled next to this file) as the master
 * user, directly on the instance, then makes sure the reporting login exists. Runs on every deploy whose
 * handler bundle changed, i.e. whenever a migration is added; a failure fails the deployment.
 */

import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { type DbSession, pgConnect } from '../shared/db/direct';
import { loadMigrations, type MigrationResult, migrate } from '../shared/db/migrate';
import { type DatabaseSecret, parseSecret } from '../shared/db/secret';
import { observe } from '../shared/observe';
import { logger, metrics, traced } from '../shared/powertools';

const secrets = traced(new SecretsManagerClient({}));

/** Group role of read-only reporting logins (created by migration 0001). */
export const READONLY_GROUP = 'citadel_readonly';

async function readSecret(secretId: string, what: string): Promise<DatabaseSecret> {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return parseSecret(SecretString, what);
}

/**
 * Creates the reporting login with its current secret password if it does not exist yet. An existing
 * login is left alone: from then on its password belongs to the rotation.
 */
export async function ensureReportingLogin(session: DbSession, reporting: DatabaseSecret): Promise<boolean> {
  const { rows } = await session.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [reporting.username]);
  if (rows.length > 0) return false;
  await session.query(
    `CREATE ROLE ${escapeIdentifier(reporting.username)} LOGIN PASSWORD ${escapeLiteral(reporting.password)} IN ROLE ${READONLY_GROUP}`,
  );
  return true;
}

export interface MigrateOutcome extends MigrationResult {
  readonly reportingLoginCreated: boolean;
}

async function run(): Promise<MigrateOutcome> {
  const masterArn = process.env.CITADEL_MASTER_SECRET_ARN;
  if (!masterArn) throw new Error('CITADEL_MASTER_SECRET_ARN is not set');
  const master = await readSecret(masterArn, 'the master secret');
  const dir = process.env.CITADEL_MIGRATIONS_DIR ?? path.join(import.meta.dirname, 'migrations');
  // Migrations may build indexes on large tables: a generous statement timeout, well within the trigger's.
  const client = await pgConnect(
    { ...master, dbname: process.env.CITADEL_DB_NAME ?? master.dbname },
    { statementTimeoutMs: 240_000, applicationName: 'citadel-migrations' },
  );
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
