/**
 * Local database preparation for `npm run dev` and the tests: apply the migrations as the superuser
 * (standing in for the RDS master) and give the app role a local password (on RDS it has none and
 * logs in with IAM tokens).
 */
import path from 'node:path';
import pg from 'pg';
import { loadMigrations, type MigrationResult, migrate } from '../lambda/shared/db/migrate';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../migrations');

/** Password the local app role gets; it exists only on loopback servers. */
export const LOCAL_APP_PASSWORD = 'citadel-app-local';

/** Runs SQL on a short-lived client. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Migrates the database at `adminUrl` and returns the app role's URL for the same database. */
export async function prepareDatabase(
  adminUrl: string,
): Promise<{ appUrl: string; result: MigrationResult }> {
  const migrations = await loadMigrations(MIGRATIONS_DIR);
  const result = await withClient(adminUrl, async (client) => {
    const outcome = await migrate(client, migrations);
    await client.query(`ALTER ROLE citadel_app PASSWORD '${LOCAL_APP_PASSWORD}'`);
    return outcome;
  });
  const url = new URL(adminUrl);
  url.username = 'citadel_app';
  url.password = LOCAL_APP_PASSWORD;
  return { appUrl: url.toString(), result };
}

/** Creates `name` if it does not exist (the dev server keeps its data between runs). */
export async function ensureDatabase(serverAdminUrl: string, name: string): Promise<string> {
  await withClient(serverAdminUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  });
  const url = new URL(serverAdminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
