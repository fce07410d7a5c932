/**
 * CITADEL-DEV-TOKEN-ISSUER — local development only.
 *
 * Mints Cognito-shaped access tokens for a chosen role or scope set, signed with a key that lives
 * only in this process, and verifies them the way API Gateway's Cognito authorizer would. It refuses
 * to exist unless the process runs with `--dev` or `NODE_ENV=development`; nothing under `lambda/`
 * imports it, and a test proves no deployed bundle contains it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { qualifiedScope, ROLES, type Role, SCOPES, type Scope } from '../contract/roles';

export const DEV_TOKEN_MARKER = 'CITADEL-DEV-TOKEN-ISSUER';

/** True when the process was started for local development. */
export const isDevProcess = (): boolean =>
  process.env.NODE_ENV === 'development' || process.argv.includes('--dev');

export interface MintOptions {
  /** A person in this Cognito group (and every scope unless `scopes` says otherwise). */
  readonly role?: Role;
  /** A machine client (client credentials) with these scopes. */
  readonly machine?: boolean;
  /** @default every scope */
  readonly scopes?: readonly Scope[];
  /** @default a stable id derived from the role, e.g. `dev-user-admin` */
  readonly sub?: string;
  /** @default `dev-<role>` */
  readonly username?: string;
  /** @default 3600 */
  readonly expiresInSeconds?: number;
}

export interface DevTokenIssuer {
  readonly issuer: string;
  readonly userPoolClientId: string;
  mint(options: MintOptions): Promise<string>;
  /** Verifies signature, issuer, expiry and `token_use`; returns the claims. Throws on any failure. */
  verify(token: string): Promise<JWTPayload & Record<string, unknown>>;
}

export interface DevTokenIssuerOptions {
  /**
   * Keep the signing key in this file (JWK, mode 0600), created on first use: tokens minted before a restart
   * stay valid after it. @default a fresh key in memory, gone with the process
   */
  readonly keyFile?: string;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

/** The RSA signing key: from `keyFile` when it exists, else a new one (written to `keyFile` when given). */
async function signingKey(keyFile: string | undefined): Promise<SigningKey> {
  if (keyFile) {
    const stored = await readFile(keyFile, 'utf8').catch(() => undefined);
    if (stored !== undefined) {
      const jwk = JSON.parse(stored) as JWK & { kid: string };
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
      return {
        kid: jwk.kid,
        privateKey: (await importJWK(jwk, 'RS256')) as CryptoKey,
        publicKey: (await importJWK(publicJwk, 'RS256')) as CryptoKey,
      };
    }
  }
  const { privateKey, publicKey } = (await generateKeyPair('RS256', { extractable: true })) as {
    privateKey: CryptoKey;
    publicKey: CryptoKey;
  };
  const kid = randomUUID();
  if (keyFile) {
    await mkdir(dirname(keyFile), { recursive: true });
    const temp = `${keyFile}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'RS256' }), {
      mode: 0o600,
    });
    await rename(temp, keyFile);
  }
  return { kid, privateKey, publicKey };
}

/** Creates an issuer (a fresh RSA key pair, or the one in `options.keyFile`). Throws outside development. */
export async function createDevTokenIssuer(
  issuer = 'http://127.0.0.1/dev-cognito',
  options: DevTokenIssuerOptions = {},
): Promise<DevTokenIssuer> {
  if (!isDevProcess()) {
    throw new Error(
      `${DEV_TOKEN_MARKER}: refusing to run outside development (start with --dev or NODE_ENV=development).`,
    );
  }
  const { kid, privateKey, publicKey } = await signingKey(options.keyFile);
  const userPoolClientId = 'devwebclient';

  return {
    issuer,
    userPoolClientId,
    async mint(options) {
      const scopes = options.scopes ?? SCOPES;
      if (!options.machine && !options.role) throw new Error('mint: give a role, or machine: true');
      if (options.role && !(ROLES as readonly string[]).includes(options.role))
        throw new Error(`mint: unknown role ${options.role}`);
      const now = Math.floor(Date.now() / 1000);
      const scope = [...(options.machine ? [] : ['openid', 'email']), ...scopes.map(qualifiedScope)].join(
        ' ',
      );
      const clientId = options.machine ? (options.sub ?? 'devmachineclient') : userPoolClientId;
      const claims: Record<string, unknown> = options.machine
        ? { sub: clientId, client_id: clientId, token_use: 'access', scope }
        : {
            sub: options.sub ?? `dev-user-${options.role}`,
            username: options.username ?? `dev-${options.role}`,
            'cognito:groups': [options.role],
            client_id: clientId,
            token_use: 'access',
            scope,
            auth_time: now,
            origin_jti: randomUUID(),
            event_id: randomUUID(),
          };
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.expiresInSeconds ?? 3600))
        .setJti(randomUUID())
        .sign(privateKey);
    },
    async verify(token) {
      const { payload } = await jwtVerify(token, publicKey, { issuer, algorithms: ['RS256'] });
      if (payload.token_use !== 'access') throw new Error('not an access token');
      return payload as JWTPayload & Record<string, unknown>;
    },
  };
}
