import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { handler } from '../../../lambda/files/get-file';
import { closePool } from '../../../lambda/shared/db';
import { migratedDatabase, withClient } from '../../support/database';
import { lambdaContext, proxyEvent } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { machineClaims, userClaims } from '../../support/principals';

let server: TestPostgres;
let adminUrl: string;
const ownFile = randomUUID();
const machineFile = randomUUID();

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'getfile');
  adminUrl = db.adminUrl;
  process.env.DATABASE_URL = db.appUrl;
  await withClient(adminUrl, async (c) => {
    for (const [id, owner] of [
      [ownFile, 'user-user'],
      [machineFile, 'robot1'],
    ]) {
      await c.query(
        `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, state)
         VALUES ($1::uuid, $2::text, 'uploads/' || $2::text || '/' || $1::text, 'report.pdf', 'application/pdf', 42, 'clean')`,
        [id, owner],
      );
    }
  });
});
afterAll(async () => {
  await closePool();
  await server.destroy();
});

const get = (id: string, claims: Record<string, string>, requestId = randomUUID()) =>
  handler(
    proxyEvent({
      path: `/v1/files/${id}`,
      resource: '/v1/files/{id}',
      pathParameters: { id },
      claims,
      requestId,
    }),
    lambdaContext(),
  );

const auditRows = (requestId: string) =>
  withClient(
    adminUrl,
    async (c) =>
      (await c.query('SELECT * FROM citadel.audit_events WHERE request_id = $1', [requestId])).rows,
  );

describe('GET /v1/files/{id}', () => {
  it('shows the owner their file, without the storage key', async () => {
    const res = await get(ownFile, userClaims('user'));
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({
      id: ownFile,
      ownerId: 'user-user',
      filename: 'report.pdf',
      size: 42,
      state: 'clean',
    });
    expect(res.body).not.toContain('uploads/');
  });

  it.each(['manager', 'admin'] as const)("shows a %s anyone's file", async (role) => {
    expect((await get(ownFile, userClaims(role))).statusCode).toBe(200);
  });

  it('answers another user with the 404 a missing file gets, and audits the denied attempt', async () => {
    const requestId = randomUUID();
    const res = await get(ownFile, userClaims('user', 'someone-else'), requestId);
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'urn:citadel:problem:not-found',
      instance: requestId,
    });
    expect(await auditRows(requestId)).toEqual([
      expect.objectContaining({
        actor_id: 'someone-else',
        action: 'file.read',
        outcome: 'denied',
        target: `file:${ownFile}`,
      }),
    ]);
    expect((await get(randomUUID(), userClaims('user'))).statusCode).toBe(404);
  });

  it('lets a machine client read its own files only', async () => {
    expect((await get(machineFile, machineClaims('robot1', ['files.read']))).statusCode).toBe(200);
    expect((await get(ownFile, machineClaims('robot1', ['files.read']))).statusCode).toBe(404);
    expect((await get(machineFile, machineClaims('robot1', ['files.write']))).statusCode).toBe(403);
  });

  it('refuses a guest (below the user role) with 403 and audits it', async () => {
    const requestId = randomUUID();
    const res = await get(ownFile, userClaims('guest'), requestId);
    expect(res.statusCode).toBe(403);
    expect(await auditRows(requestId)).toEqual([
      expect.objectContaining({ action: 'access.denied', outcome: 'denied' }),
    ]);
  });

  it('answers generated malformed ids with a 400 problem and writes no audit row', async () => {
    const before = await withClient(
      adminUrl,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM citadel.audit_events')).rows[0].n,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 60 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s)),
        async (id) => {
          const res = await get(id, userClaims('user'));
          expect(res.statusCode).toBe(400);
          expect(JSON.parse(res.body).errors[0]).toMatchObject({ in: 'path', path: 'id' });
        },
      ),
      { numRuns: 100 },
    );
    const after = await withClient(
      adminUrl,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM citadel.audit_events')).rows[0].n,
    );
    expect(after).toBe(before);
  });
});
