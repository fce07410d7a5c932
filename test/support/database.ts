import path from 'node:path';
import pg from 'pg';
import { loadMigrations, migrate } from '../../lambda/shared/db/migrate';
import type { TestPostgres } from './postgres';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');

/** Password the tests give the app role; on RDS it has none and logs in with IAM tokens. */
export const LOCAL_APP_PASSWORD = 'citadel-app-local';

export interface MigratedDatabase {
  readonly name: string;
  /** As the master/superuser (what the migration trigger uses). */
  readonly adminUrl: string;
  /** As `citadel_app`, the least-privileged application role. */
  readonly appUrl: string;
}

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

/** A fresh database with every migration applied and a local password on the app role. */
export async function migratedDatabase(server: TestPostgres, prefix = 'app'): Promise<MigratedDatabase> {
  const { name, url } = await server.createDatabase(prefix);
  const migrations = await loadMigrations(MIGRATIONS_DIR);
  await withClient(url, async (client) => {
    await migrate(client, migrations);
    await client.query(`ALTER ROLE citadel_app PASSWORD '${LOCAL_APP_PASSWORD}'`);
  });
  const appUrl = `postgres://citadel_app:${LOCAL_APP_PASSWORD}@${server.host}:${server.port}/${name}`;
  return { name, adminUrl: url, appUrl };
}
