import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres({ maxConnections: 20 });
});
afterAll(async () => {
  await server.destroy();
});

const query = async (url: string, sql: string) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};

describe('embedded PostgreSQL test helper', () => {
  it('runs a real server with the requested settings', async () => {
    const [row] = await query(
      server.url(),
      "SELECT current_setting('max_connections') AS max, version() AS v",
    );
    expect(row.max).toBe('20');
    expect(row.v).toMatch(/^PostgreSQL \d+/);
  });

  it('gives each suite its own empty database', async () => {
    const a = await server.createDatabase('alpha');
    const b = await server.createDatabase('alpha');
    expect(a.name).not.toBe(b.name);
    await query(a.url, 'CREATE TABLE only_in_a (id int)');
    const inB = await query(b.url, "SELECT to_regclass('only_in_a') AS t");
    expect(inB[0].t).toBeNull();
  });

  it('refuses a wrong password (scram-sha-256 authentication is on)', async () => {
    const bad = server.url().replace(server.superuser.password, 'wrong');
    await expect(query(bad, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('stops and starts again with its data intact', async () => {
    const db = await server.createDatabase('restart');
    await query(db.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')");
    await server.stop();
    await expect(query(db.url, 'SELECT 1')).rejects.toThrow();
    await server.start();
    expect(await query(db.url, 'SELECT v FROM kept')).toEqual([{ v: 'x' }]);
  });

  it('removes its data directory on destroy', async () => {
    const other = await startPostgres();
    expect(await query(other.url(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(existsSync(other.dataDir)).toBe(true);
    await other.destroy();
    await other.destroy(); // idempotent
    await expect(query(other.url(), 'SELECT 1')).rejects.toThrow();
    expect(existsSync(other.dataDir)).toBe(false);
  });
});
