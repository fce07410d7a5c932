import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROLES, type Role, SCOPES, type Scope } from '../contract/roles';
import type { DevTokenIssuer } from './dev-tokens';

/** Path of the dev-only token endpoint. */
export const DEV_TOKEN_PATH = '/_dev/token';

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(text);
};

/**
 * `GET /_dev/token?role=admin` or `?machine=1&scope=files.read` mints a token for the local server.
 * Exists only in the dev server; API Gateway has no such route.
 */
export function devTokenEndpoint(tokens: DevTokenIssuer) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (!req.url?.startsWith(DEV_TOKEN_PATH)) return false;
    const url = new URL(req.url, 'http://local');
    if (url.pathname !== DEV_TOKEN_PATH) return false;
    if (req.method !== 'GET') {
      json(res, 405, { error: 'use GET' });
      return true;
    }
    const role = url.searchParams.get('role') ?? undefined;
    const machine = url.searchParams.get('machine') === '1' || url.searchParams.get('machine') === 'true';
    const scopes = url.searchParams.getAll('scope');
    if (role && !(ROLES as readonly string[]).includes(role)) {
      json(res, 400, { error: `role must be one of ${ROLES.join(', ')}` });
      return true;
    }
    if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
      json(res, 400, { error: `scope must be among ${SCOPES.join(', ')}` });
      return true;
    }
    if (!role && !machine) {
      json(res, 400, { error: 'give ?role=<guest|user|manager|admin> or ?machine=1&scope=…' });
      return true;
    }
    const expiresIn = 3600;
    const accessToken = await tokens.mint({
      role: role as Role | undefined,
      machine,
      scopes: scopes.length > 0 ? (scopes as Scope[]) : undefined,
      sub: url.searchParams.get('sub') ?? undefined,
      expiresInSeconds: expiresIn,
    });
    json(res, 200, { accessToken, tokenType: 'Bearer', expiresIn });
    return true;
  };
}
