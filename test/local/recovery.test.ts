/**
 * Recovery from a lost authenticator end to end through the local API, as `npm run dev` serves it: a real
 * PostgreSQL (migrated), the route table's handlers behind the emulated gateway, dev tokens, and the Cognito and SES
 * side of recovery simulated by `local/aws-simulators.ts` through `CITADEL_ADAPTERS_MODULE`, pointed at
 * `local/dev-adapters.ts` as `npm run dev` points it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RECOVERY_CODE_PATTERN } from '../../contract/api/recovery';
import { closePool } from '../../lambda/shared/db';
import { DEV_PASSWORD } from '../../local/aws-simulators';
import { devTokenEndpoint } from '../../local/dev-endpoints';
import { createDevTokenIssuer, type DevTokenIssuer } from '../../local/dev-tokens';
import { type LocalServer, startLocalServer } from '../../local/server';
import { migratedDatabase } from '../support/database';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: LocalServer;
let tokens: DevTokenIssuer;
let postgres: TestPostgres;
const ROOT = path.resolve(import.meta.dirname, '../..');

beforeAll(async () => {
  postgres = await startPostgres();
  process.env.DATABASE_URL = (await migratedDatabase(postgres, 'localrecovery')).appUrl;
  process.env.NODE_ENV = 'development';
  process.env.CITADEL_ADAPTERS_MODULE = path.join(ROOT, 'local/dev-adapters.ts');
  tokens = await createDevTokenIssuer();
  server = await startLocalServer({ tokens, devEndpoints: devTokenEndpoint(tokens) });
});
afterAll(async () => {
  await server?.close();
  await closePool();
  await postgres?.destroy();
  delete process.env.CITADEL_ADAPTERS_MODULE;
  process.env.NODE_ENV = 'test';
});

const json = async (res: Response) => ({
  status: res.status,
  body: (await res.json()) as Record<string, unknown>,
});

describe('recovering from a lost authenticator through the local API', () => {
  it('issues codes to a signed-in person, then recovers the account with one of them, once', async () => {
    // Prepare: the dev user signs in (a fresh token: auth_time now) and issues codes.
    const { accessToken } = (await (await fetch(`${server.url}/_dev/token?role=user`)).json()) as {
      accessToken: string;
    };
    const auth = { authorization: `Bearer ${accessToken}` };
    const issued = await json(
      await fetch(`${server.url}/v1/me/recovery-codes`, { method: 'POST', headers: auth }),
    );
    expect(issued.status).toBe(201);
    const codes = issued.body.codes as string[];
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE_PATTERN);
    expect((await json(await fetch(`${server.url}/v1/me`, { headers: auth }))).body.recoveryCodesLeft).toBe(
      10,
    );

    // Act: the phone is lost; the person recovers without a token, with email, password and a code.
    const recover = (code: string, password = DEV_PASSWORD) =>
      fetch(`${server.url}/v1/auth/recover`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dev-user@citadel.local', password, code }),
      });
    const recovered = await json(await recover(codes[2] as string));

    // Assess
    expect(recovered).toEqual({ status: 200, body: { recovered: true, recoveryCodesLeft: 9 } });
    expect((await json(await fetch(`${server.url}/v1/me`, { headers: auth }))).body.recoveryCodesLeft).toBe(
      9,
    );
    const again = await json(await recover(codes[2] as string));
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({ type: 'urn:citadel:problem:forbidden' });
    const wrongPassword = await json(await recover(codes[3] as string, 'not-the-password'));
    expect(wrongPassword.body.detail).toBe(again.body.detail);
  });

  it('keeps the recover route public and the issue route for signed-in people', async () => {
    const anonymous = await fetch(`${server.url}/v1/me/recovery-codes`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const machine = (await (await fetch(`${server.url}/_dev/token?machine=1&scope=files.read`)).json()) as {
      accessToken: string;
    };
    const refused = await fetch(`${server.url}/v1/me/recovery-codes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${machine.accessToken}` },
    });
    expect(refused.status).toBe(403);
  });
});
