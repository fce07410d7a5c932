import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { pgTls } from '../../lambda/shared/db/tls';

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.CITADEL_DB_TLS;
  delete process.env.CITADEL_DB_TLS;
});
afterEach(() => {
  process.env.CITADEL_DB_TLS = saved;
});

describe('database TLS', () => {
  it("verifies RDS Proxy against the Amazon roots in Node's CA store, with the host name", async () => {
    const host = 'citadel.proxy-abc123def.eu-west-1.rds.amazonaws.com';
    expect(await pgTls(host)).toEqual({ rejectUnauthorized: true, servername: host });
  });

  it('verifies an RDS instance against the RDS CA bundle, with the host name', async () => {
    const host = 'citadel-dev-postgres.abc123def.eu-west-1.rds.amazonaws.com';
    const tls = await pgTls(host);
    expect(tls).toMatchObject({ rejectUnauthorized: true, servername: host });
    const ca = (tls as { ca: string[] }).ca;
    expect(ca.length).toBeGreaterThan(50);
    expect(ca.every((pem) => pem.startsWith('-----BEGIN CERTIFICATE-----'))).toBe(true);
  });

  it('is off only when explicitly disabled for loopback servers', async () => {
    process.env.CITADEL_DB_TLS = 'disable';
    expect(await pgTls('127.0.0.1')).toBe(false);
  });
});
