import { LOCAL_APP_PASSWORD, MIGRATIONS_DIR, prepareDatabase, withClient } from '../../local/database';
import type { TestPostgres } from './postgres';

export { LOCAL_APP_PASSWORD, MIGRATIONS_DIR, withClient };

export interface MigratedDatabase {
  readonly name: string;
  /** As the master/superuser (what the migration trigger uses). */
  readonly adminUrl: string;
  /** As `citadel_app`, the least-privileged application role. */
  readonly appUrl: string;
}

/** A fresh database with every migration applied and a local password on the app role. */
export async function migratedDatabase(server: TestPostgres, prefix = 'app'): Promise<MigratedDatabase> {
  const { name, url } = await server.createDatabase(prefix);
  const { appUrl } = await prepareDatabase(url);
  return { name, adminUrl: url, appUrl };
}
