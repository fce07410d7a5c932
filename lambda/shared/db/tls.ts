import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

/** RDS Proxy endpoints: `<name>.proxy-<id>.<region>.rds.amazonaws.com`. */
export const RDS_PROXY_HOST = /\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com$/i;

/** Every RDS endpoint: instances, clusters and proxies. */
const RDS_HOST = /\.rds\.amazonaws\.com(\.cn)?$/i;

/**
 * The Amazon CA certificates the Lambda Node.js runtimes ship, the RDS CAs among them. Node trusts them only
 * when `NODE_EXTRA_CA_CERTS` names this file (Lambda developer guide, "Building Lambda functions with Node.js",
 * CA certificate loading); `CitadelFunction#trustRdsCertificates` sets it on the functions that need it.
 */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/**
 * TLS options for a `pg` connection to `host`, always verifying the server's certificate chain and its name
 * (never `rejectUnauthorized: false`) against Node's trust store:
 * - RDS Proxy presents an ACM certificate, which chains to the Amazon roots Node ships;
 * - an RDS instance presents a certificate from an RDS CA, which Node trusts once `NODE_EXTRA_CA_CERTS`
 *   names the runtime's CA bundle (`LAMBDA_CA_BUNDLE`). Without it every handshake would fail as
 *   untrusted, so an instance host without it is refused here with the fix instead.
 * `CITADEL_DB_TLS=disable` is set only by the local server and the tests, whose PostgreSQL is on loopback.
 */
export function pgTls(host?: string, env: NodeJS.ProcessEnv = process.env): ConnectionOptions | false {
  if (env.CITADEL_DB_TLS === 'disable') return false;
  if (host && RDS_HOST.test(host) && !RDS_PROXY_HOST.test(host) && !env.NODE_EXTRA_CA_CERTS) {
    throw new Error(
      `${host} is an RDS instance, whose certificate chains to an RDS CA: set NODE_EXTRA_CA_CERTS=${LAMBDA_CA_BUNDLE} (CitadelFunction#trustRdsCertificates) so that Node can verify it`,
    );
  }
  // SNI carries names only (RFC 6066); Node checks an address against the certificate's IP entries itself.
  return { rejectUnauthorized: true, ...(host && isIP(host) === 0 ? { servername: host } : {}) };
}
