/**
 * LOCAL — the dev server's own endpoints, which API Gateway does not have:
 * - `GET /_dev/token?role=…` (or `?machine=1&scope=…`) mints a dev token without credentials, for people trying
 *   the API;
 * - `POST /oauth2/token` is Cognito's token endpoint for the client-credentials grant: machine clients the admin
 *   API created locally get a token for their id and secret, as they would from Cognito.
 * Neither answers a page on another site: a browser request is refused unless it comes from this server's own
 * origin or an origin the stage lists (the same-origin policy stops a page reading the token; this stops it
 * minting one, e.g. after DNS rebinding past the Host check).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { qualifiedScope, ROLES, type Role, SCOPES, type Scope } from '../contract/roles';
import type { DevTokenIssuer } from './dev-tokens';
import type { MachineClientRegistry } from './machine-clients';

/** Path of the dev-only token endpoint. */
export const DEV_TOKEN_PATH = '/_dev/token';
/** Path of Cognito's OAuth 2.0 token endpoint, reproduced locally for the client-credentials grant. */
export const OAUTH_TOKEN_PATH = '/oauth2/token';
/** Lifetime of the tokens both endpoints mint (the dev stage's `tokenValidityMinutes`). */
const EXPIRES_IN = 3600;

/** What the local server tells its dev endpoints about itself. */
export interface DevServerInfo {
  /** e.g. `http://127.0.0.1:3000` */
  readonly origin: string;
  /** Origins the stage lists for CORS (a dev page on one may ask for a token). */
  readonly corsOrigins: ReadonlySet<string>;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    ...headers,
  });
  res.end(JSON.stringify(body));
};

/** This server's origin under each loopback name it answers to. */
const ownOrigins = (origin: string): ReadonlySet<string> => {
  const port = new URL(origin).port;
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]);
};

/**
 * Whether a browser sent this request from another site: an `Origin` that is neither this server's nor a listed
 * one, or (navigations and subresources carry no `Origin`) `Sec-Fetch-Site` saying it came from another site.
 * Returns the CORS headers to answer an allowed page with.
 */
function crossSite(
  req: IncomingMessage,
  server: DevServerInfo,
): { refused: true } | { refused: false; cors: Record<string, string> } {
  const origin = req.headers.origin;
  const fetchSite = req.headers['sec-fetch-site'];
  if (origin !== undefined) {
    if (ownOrigins(server.origin).has(origin)) return { refused: false, cors: {} };
    if (server.corsOrigins.has(origin))
      return { refused: false, cors: { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } };
    return { refused: true };
  }
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return { refused: true };
  return { refused: false, cors: {} };
}

const refuseCrossSite = (res: ServerResponse) =>
  json(res, 403, {
    error: 'cross_site_request',
    error_description:
      'Dev tokens are not minted for pages on other sites: call this endpoint from the command line, the same origin, or an origin the stage lists.',
  });

/** `GET /_dev/token`: a token for a role (`&sub=` names the person) or a machine client with chosen scopes. */
async function devToken(req: IncomingMessage, res: ServerResponse, tokens: DevTokenIssuer, cors: object) {
  const url = new URL(req.url ?? '/', 'http://local');
  if (req.method !== 'GET') return json(res, 405, { error: 'use GET' }, { Allow: 'GET', ...cors });
  const role = url.searchParams.get('role') ?? undefined;
  const machine = url.searchParams.get('machine') === '1' || url.searchParams.get('machine') === 'true';
  const scopes = url.searchParams.getAll('scope');
  if (role && !(ROLES as readonly string[]).includes(role))
    return json(res, 400, { error: `role must be one of ${ROLES.join(', ')}` }, { ...cors });
  if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s)))
    return json(res, 400, { error: `scope must be among ${SCOPES.join(', ')}` }, { ...cors });
  if (!role && !machine)
    return json(
      res,
      400,
      { error: 'give ?role=<guest|user|manager|admin> or ?machine=1&scope=…' },
      { ...cors },
    );
  const accessToken = await tokens.mint({
    role: role as Role | undefined,
    machine,
    scopes: scopes.length > 0 ? (scopes as Scope[]) : undefined,
    sub: url.searchParams.get('sub') ?? undefined,
    expiresInSeconds: EXPIRES_IN,
  });
  json(res, 200, { accessToken, tokenType: 'Bearer', expiresIn: EXPIRES_IN }, { ...cors });
}

/** The client's id and secret, from HTTP Basic or the form (RFC 6749 §2.3.1); never both. */
function clientCredentials(
  req: IncomingMessage,
  form: URLSearchParams,
): { id: string; secret: string; viaHeader: boolean } | 'both' | undefined {
  const header = req.headers.authorization;
  const inForm = form.has('client_secret');
  if (header?.startsWith('Basic ')) {
    if (inForm) return 'both';
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
    try {
      return {
        id: formDecode(decoded.slice(0, colon)),
        secret: formDecode(decoded.slice(colon + 1)),
        viaHeader: true,
      };
    } catch {
      return undefined;
    }
  }
  const id = form.get('client_id');
  const secret = form.get('client_secret');
  return id && secret ? { id, secret, viaHeader: false } : undefined;
}

/** `POST /oauth2/token` with `grant_type=client_credentials`, as Cognito's token endpoint answers it. */
async function oauthToken(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  tokens: DevTokenIssuer,
  clients: MachineClientRegistry,
) {
  const error = (status: number, code: string, description: string, headers: Record<string, string> = {}) =>
    json(res, status, { error: code, error_description: description }, headers);
  if (req.method !== 'POST')
    return error(405, 'invalid_request', 'The token endpoint accepts POST only.', { Allow: 'POST' });
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    return error(400, 'invalid_request', 'Send the request as application/x-www-form-urlencoded.');
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.get('grant_type') !== 'client_credentials')
    return error(400, 'unsupported_grant_type', 'This local endpoint grants client_credentials only.');
  const credentials = clientCredentials(req, form);
  if (credentials === 'both')
    return error(
      400,
      'invalid_request',
      'Authenticate once: the Authorization header or client_secret, not both.',
    );
  const client = credentials && clients.authenticate(credentials.id, credentials.secret);
  if (!credentials || !client) {
    // RFC 6749 §5.2: a client that authenticated with the Authorization header is told so with a 401.
    const viaHeader = credentials?.viaHeader === true;
    return error(viaHeader ? 401 : 400, 'invalid_client', 'Unknown client, or the wrong secret.', {
      ...(viaHeader ? { 'WWW-Authenticate': 'Basic' } : {}),
    });
  }
  const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
  const held = new Map(client.scopes.map((s) => [qualifiedScope(s), s]));
  if (requested.some((s) => !held.has(s)))
    return error(400, 'invalid_scope', `This client may ask for ${[...held.keys()].join(' ')} only.`);
  const scopes = requested.length > 0 ? requested.map((s) => held.get(s) as Scope) : client.scopes;
  const accessToken = await tokens.mint({
    machine: true,
    sub: credentials.id,
    scopes,
    expiresInSeconds: EXPIRES_IN,
  });
  json(res, 200, { access_token: accessToken, expires_in: EXPIRES_IN, token_type: 'Bearer' });
}

/**
 * The dev endpoints for `startLocalServer({ devEndpoints })`: `GET /_dev/token` always; `POST /oauth2/token`
 * when `clients` is given.
 */
export function devTokenEndpoint(tokens: DevTokenIssuer, clients?: MachineClientRegistry) {
  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    isDev: boolean,
    server?: DevServerInfo,
  ): Promise<boolean> => {
    const site = server ? crossSite(req, server) : { refused: false as const, cors: {} };
    if (site.refused) {
      refuseCrossSite(res);
      return true;
    }
    if (isDev) await devToken(req, res, tokens, site.cors);
    else if (clients) await oauthToken(req, res, body, tokens, clients);
    return true;
  };
  // Not async itself: every API request passes through here, and one that is not for these endpoints gets a plain
  // `false` back instead of a promise to wait for.
  return (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    server?: DevServerInfo,
  ): boolean | Promise<boolean> => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const isDev = path === DEV_TOKEN_PATH;
    const isOauth = clients !== undefined && path === OAUTH_TOKEN_PATH;
    if (!isDev && !isOauth) return false;
    return serve(req, res, body, isDev, server);
  };
}
