import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadMigrations, migrate } from '../../lambda/shared/db/migrate';
import { MIGRATIONS_DIR, type MigratedDatabase, migratedDatabase, withClient } from '../support/database';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: TestPostgres;
let db: MigratedDatabase;

beforeAll(async () => {
  server = await startPostgres();
  db = await migratedDatabase(server, 'migrations');
});
afterAll(async () => {
  await server.destroy();
});

const errorCode = async (url: string, sql: string): Promise<string | undefined> =>
  withClient(url, async (c) => {
    try {
      await c.query(sql);
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code;
    }
  });

describe('migrations', () => {
  it('apply from scratch, then a second run is a no-op', async () => {
    const fresh = await server.createDatabase('fresh');
    const migrations = await loadMigrations(MIGRATIONS_DIR);
    const first = await withClient(fresh.url, (c) => migrate(c, migrations));
    expect(first.applied).toEqual(migrations.map((m) => `${m.version}_${m.name}`));
    const second = await withClient(fresh.url, (c) => migrate(c, migrations));
    expect(second).toEqual({ applied: [], skipped: first.applied });
    const tables = await withClient(fresh.url, async (c) =>
      (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'citadel' ORDER BY 1")).rows.map(
        (r) => r.tablename,
      ),
    );
    expect(tables).toEqual([
      'api_clients',
      'audit_events',
      'files',
      'recovery_attempts',
      'recovery_code_sets',
      'recovery_codes',
      'schema_migrations',
    ]);
  });

  it('refuse an applied migration that was edited, and a gap in the sequence', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'citadel-mig-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      const migrations = await loadMigrations(dir);
      const edited = migrations.map((m) => (m.version === '0002' ? { ...m, checksum: 'different' } : m));
      await expect(withClient(db.adminUrl, (c) => migrate(c, edited))).rejects.toThrow(
        /0002_files changed after it was applied/,
      );
      await writeFile(path.join(dir, '0009_gap.sql'), 'SELECT 1;');
      await expect(loadMigrations(dir)).rejects.toThrow(/breaks the sequence/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('let the app role insert and read the audit trail but never update, delete or truncate it', async () => {
    await withClient(db.appUrl, async (c) => {
      await c.query(
        "INSERT INTO citadel.audit_events (actor_id, actor_kind, action, outcome) VALUES ('u1', 'user', 'file.create', 'success')",
      );
      expect(
        (await c.query('SELECT count(*)::int AS n FROM citadel.audit_events')).rows[0].n,
      ).toBeGreaterThan(0);
    });
    expect(await errorCode(db.appUrl, "UPDATE citadel.audit_events SET outcome = 'denied'")).toBe('42501');
    expect(await errorCode(db.appUrl, 'DELETE FROM citadel.audit_events')).toBe('42501');
    expect(await errorCode(db.appUrl, 'TRUNCATE citadel.audit_events')).toBe('42501');
    // Even the owner is stopped by the append-only trigger.
    expect(await errorCode(db.adminUrl, "UPDATE citadel.audit_events SET outcome = 'denied'")).toBe('42501');
  });

  it('let the app role issue recovery codes and mark them used, never rewrite a hash or selector; hide them from reporting', async () => {
    const set = '0b5f7e3c-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
    const hash = `scrypt$16384$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
    await withClient(db.appUrl, async (c) => {
      await c.query("INSERT INTO citadel.recovery_code_sets (user_id, set_id) VALUES ('m-user', $1)", [set]);
      await c.query(
        "INSERT INTO citadel.recovery_codes (user_id, set_id, selector, hash) VALUES ('m-user', $1, 'ab', $2)",
        [set, hash],
      );
      await c.query("UPDATE citadel.recovery_codes SET used_at = now() WHERE user_id = 'm-user'");
    });
    expect(await errorCode(db.appUrl, "UPDATE citadel.recovery_codes SET hash = 'scrypt$1$1$1$a$b'")).toBe(
      '42501',
    );
    expect(await errorCode(db.appUrl, "UPDATE citadel.recovery_codes SET selector = 'zz'")).toBe('42501');
    expect(await errorCode(db.appUrl, 'DELETE FROM citadel.recovery_codes')).toBe('42501');
    expect(await errorCode(db.appUrl, "UPDATE citadel.recovery_code_sets SET user_id = 'other'")).toBe(
      '42501',
    );
    // A code is a hash, never the code: anything else is refused by the table itself.
    expect(
      await errorCode(
        db.adminUrl,
        `INSERT INTO citadel.recovery_codes (user_id, set_id, selector, hash) VALUES ('m-user', '${set}', 'cd', 'abcd-efgh-jkmn')`,
      ),
    ).toBe('23514');
    expect(
      await errorCode(db.adminUrl, 'SET ROLE citadel_readonly; SELECT count(*) FROM citadel.recovery_codes'),
    ).toBe('42501');
  });

  it('keep the app role from creating or dropping anything', async () => {
    expect(await errorCode(db.appUrl, 'CREATE TABLE citadel.sneaky (id int)')).toBe('42501');
    expect(await errorCode(db.appUrl, 'CREATE TABLE public.sneaky (id int)')).toBe('42501');
    expect(await errorCode(db.appUrl, 'DROP TABLE citadel.files')).toBe('42501');
    expect(await errorCode(db.appUrl, 'DELETE FROM citadel.files')).toBe('42501');
    expect(await errorCode(db.appUrl, 'SELECT * FROM citadel.schema_migrations')).toBe('42501');
  });

  it('give the app role server-side timeouts that survive connection pooling', async () => {
    const settings = await withClient(db.appUrl, async (c) => ({
      statement: (await c.query('SHOW statement_timeout')).rows[0].statement_timeout,
      idle: (await c.query('SHOW idle_in_transaction_session_timeout')).rows[0]
        .idle_in_transaction_session_timeout,
    }));
    expect(settings).toEqual({ statement: '4s', idle: '10s' });
  });

  it('enforce the files table invariants', async () => {
    const insert = (state: string, size: number) =>
      errorCode(
        db.appUrl,
        `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, state)
         VALUES (gen_random_uuid(), 'u1', 'uploads/u1/' || gen_random_uuid(), 'a.png', 'image/png', ${size}, '${state}')`,
      );
    expect(await insert('uploading', 10)).toBeUndefined();
    expect(await insert('bogus', 10)).toBe('23514');
    expect(await insert('uploading', 0)).toBe('23514');
  });
});
