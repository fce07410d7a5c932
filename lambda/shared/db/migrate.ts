import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DbSession } from './direct';

/** One versioned SQL migration: `0003_audit_events.sql` → version `0003`. */
export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly skipped: readonly string[];
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Arbitrary constant: serializes concurrent runners (two deploys, a retry) on one database. */
const LOCK_KEY = 7_310_245_019;

/** Reads `dir`'s migrations in version order, refusing gaps, duplicates and stray files. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const m = FILE.exec(file);
    if (!m) throw new Error(`Migration ${file} must be named NNNN_snake_case.sql`);
    const sql = await readFile(path.join(dir, file), 'utf8');
    migrations.push({
      version: m[1] as string,
      name: m[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.forEach((mig, i) => {
    const expected = String(i + 1).padStart(4, '0');
    if (mig.version !== expected)
      throw new Error(`Migration ${mig.version}_${mig.name} breaks the sequence (expected ${expected}).`);
  });
  return migrations;
}

/**
 * Applies pending migrations, each in its own transaction, as the connected (master) user. Already
 * applied ones are skipped after their checksum is verified: an edited migration is an error, never
 * silently ignored. Applying twice is a no-op. Runs directly against the instance (the advisory lock
 * would pin an RDS Proxy connection; the runner never goes through the proxy).
 */
export async function migrate(
  client: Pick<DbSession, 'query'>,
  migrations: readonly Migration[],
): Promise<MigrationResult> {
  await client.query('CREATE SCHEMA IF NOT EXISTS citadel');
  await client.query(`CREATE TABLE IF NOT EXISTS citadel.schema_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  await client.query('REVOKE ALL ON citadel.schema_migrations FROM PUBLIC');
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  try {
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM citadel.schema_migrations',
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: string[] = [];
    const skipped: string[] = [];
    for (const mig of migrations) {
      const id = `${mig.version}_${mig.name}`;
      const previous = done.get(mig.version);
      if (previous !== undefined) {
        if (previous !== mig.checksum) {
          throw new Error(
            `Migration ${id} changed after it was applied; add a new migration instead of editing it.`,
          );
        }
        skipped.push(id);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(mig.sql);
        await client.query(
          'INSERT INTO citadel.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
          [mig.version, mig.name, mig.checksum],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${id} failed: ${(error as Error).message}`);
      }
      applied.push(id);
    }
    return { applied, skipped };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
  }
}
