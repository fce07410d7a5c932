/**
 * The local API server: serves the route table over HTTP on loopback, invoking the very handler
 * modules the Lambdas run, behind a reproduction of what API Gateway does in front of them.
 */

import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { REQUEST_ID_HEADER, SECURITY_HEADERS } from '../contract/http';
import type { RouteDefinition } from '../contract/route';
import { routeList } from '../contract/routes';
import type { DevTokenIssuer } from './dev-tokens';
import {
  authorizerClaims,
  bearerToken,
  compileRoutes,
  type GatewayResponse,
  gatewayProblem,
  hasRouteScope,
  heldScopes,
  matchRoute,
  toProxyEvent,
} from './gateway';
import { LocalContext } from './lambda-context';

/** API Gateway's payload limit. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const PROJECT_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface LocalServerOptions {
  /** Verifies bearer tokens like the Cognito authorizer. */
  readonly tokens: DevTokenIssuer;
  /** @default 0 (ephemeral) */
  readonly port?: number;
  /** @default every route of the route table */
  readonly routes?: readonly RouteDefinition[];
  /** Origins answered on CORS preflight. @default [] */
  readonly corsOrigins?: readonly string[];
  /**
   * Extra dev-only endpoints, e.g. the token endpoints; return true when handled (a plain `false` when the request
   * is not theirs, so API requests pay no extra await). They run after the Host check and before the API's own
   * (WAF-like) origin rule.
   */
  readonly devEndpoints?: (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    server: { readonly origin: string; readonly corsOrigins: ReadonlySet<string> },
  ) => boolean | Promise<boolean>;
}

export interface LocalServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

/** Most API calls are bodiless GETs: HTTP says so when neither length nor transfer encoding is given. */
const bodiless = (req: IncomingMessage): boolean =>
  req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, response: GatewayResponse | APIGatewayProxyResult): void {
  const body =
    'isBase64Encoded' in response && response.isBase64Encoded
      ? Buffer.from(response.body, 'base64')
      : (response.body ?? '');
  // Object.assign, not `{ ...headers, 'Content-Length': n }`: Node 20's V8 takes a slow path for a spread followed by
  // more properties (see lambda/shared/http.ts).
  const headers = Object.assign({}, response.headers) as OutgoingHttpHeaders;
  headers['Content-Length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  res.writeHead(response.statusCode, headers);
  res.end(body);
}

/**
 * The `Host` values this server answers to: loopback names with its own port. Anything else is a DNS-rebinding
 * attempt (a page on attacker.example whose name now resolves to 127.0.0.1) or a misdirected request.
 */
export const allowedHosts = (port: number): ReadonlySet<string> =>
  new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);

/** CORS headers for an API Gateway error answered to `origin`: it echoes an allowed origin (see gateway-problems.ts). */
function withCors(response: GatewayResponse, origin: string | undefined, allowed: ReadonlySet<string>) {
  if (!origin || !allowed.has(origin)) return response;
  return {
    ...response,
    headers: { ...response.headers, 'Access-Control-Allow-Origin': origin, Vary: 'Origin' },
  };
}

/** Splits a request target into path and query without a full URL parse (API Gateway does no more). */
function splitTarget(target: string): { pathname: string; searchParams: URLSearchParams } {
  const q = target.indexOf('?');
  const raw = q === -1 ? target : target.slice(0, q);
  if (!raw.startsWith('/')) throw new Error('malformed request target');
  return { pathname: raw, searchParams: new URLSearchParams(q === -1 ? '' : target.slice(q + 1)) };
}

/** Starts the server on 127.0.0.1. */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const compiled = compileRoutes(options.routes ?? routeList);
  // API Gateway caches a Cognito authorizer's verdict per token (300 s by default); so does this server,
  // capped by the token's own expiry.
  interface Verdict {
    readonly claims: Record<string, string>;
    readonly scopes: ReadonlySet<string>;
    readonly until: number;
  }
  const verified = new Map<string, Verdict>();
  const verifyCached = async (token: string): Promise<Verdict> => {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) return hit;
    const payload = await options.tokens.verify(token);
    const claims = authorizerClaims(payload);
    if (verified.size > 10_000) verified.clear();
    // The scopes are split once per token, with the verdict, not on every request.
    const verdict = {
      claims,
      scopes: heldScopes(claims),
      until: Math.min(Date.now() + 300_000, (payload.exp ?? 0) * 1000),
    };
    verified.set(token, verdict);
    return verdict;
  };
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const handlers = new Map<string, Promise<LambdaHandler>>();
  const loadHandler = (route: RouteDefinition): Promise<LambdaHandler> => {
    let loaded = handlers.get(route.entry);
    if (!loaded) {
      loaded = import(pathToFileURL(path.join(PROJECT_ROOT, route.entry)).href).then(
        (m) => m.handler as LambdaHandler,
      );
      handlers.set(route.entry, loaded);
    }
    return loaded;
  };

  let hosts: ReadonlySet<string> = new Set();
  let selfOrigin = '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const host = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) {
      return send(
        res,
        gatewayProblem(
          'forbidden',
          `This local server answers only ${[...hosts].join(', ')}; Host "${host.slice(0, 100)}" is refused (DNS rebinding protection).`,
          requestId,
        ),
      );
    }
    const origin = req.headers.origin;
    const problem = (...args: Parameters<typeof gatewayProblem>) =>
      withCors(gatewayProblem(...args), origin, corsOrigins);
    let url: { pathname: string; searchParams: URLSearchParams };
    try {
      url = splitTarget(req.url ?? '/');
    } catch {
      return send(res, problem('badRequest', 'Malformed request target.', requestId));
    }
    // No await (and no stream machinery) for a request without a body.
    const body = bodiless(req) ? EMPTY : await readBody(req);
    if (body === 'too-large') {
      return send(res, problem('payloadTooLarge', 'Request payloads are limited to 10 MB.', requestId));
    }
    const dev = options.devEndpoints?.(req, res, body, { origin: selfOrigin, corsOrigins }) ?? false;
    if (dev !== false && (await dev)) return;

    // As the public API's web ACL does: a page on an origin the stage does not list is refused first.
    if (origin !== undefined && origin !== '' && !corsOrigins.has(origin) && method !== 'OPTIONS') {
      return send(
        res,
        gatewayProblem(
          'forbidden',
          'This API answers browser pages only from the origins its stage lists; this page is on another origin.',
          requestId,
        ),
      );
    }
    if (method === 'OPTIONS') {
      const allowed = origin !== undefined && corsOrigins.has(origin);
      res.writeHead(allowed ? 204 : 403, {
        ...SECURITY_HEADERS,
        [REQUEST_ID_HEADER]: requestId,
        ...(allowed
          ? {
              'Access-Control-Allow-Origin': origin,
              'Access-Control-Allow-Methods': 'GET,POST,PUT,PATCH,DELETE',
              'Access-Control-Allow-Headers': 'Authorization,Content-Type,X-Api-Key,X-Request-Id',
              'Access-Control-Max-Age': '3600',
              Vary: 'Origin',
            }
          : {}),
      });
      res.end();
      return;
    }

    const match = matchRoute(compiled, method, url.pathname);
    if (match.kind === 'not-found') return send(res, problem('notFound', 'No such resource.', requestId));
    if (match.kind === 'method-not-allowed') {
      const allow = [...match.allow, 'OPTIONS'].join(', ');
      return send(
        res,
        problem('methodNotAllowed', `This resource supports ${allow}.`, requestId, { Allow: allow }),
      );
    }

    const { route } = match.compiled;
    let claims: Record<string, string> | undefined;
    if (route.auth.kind !== 'public') {
      const token = bearerToken(req.headers);
      if (!token) return send(res, problem('unauthorized', 'Unauthorized', requestId));
      let verdict: Verdict;
      try {
        verdict = await verifyCached(token);
      } catch {
        return send(res, problem('unauthorized', 'Unauthorized', requestId));
      }
      claims = verdict.claims;
      if (!hasRouteScope(route, verdict.scopes)) {
        return send(res, problem('forbidden', 'Unauthorized', requestId));
      }
    }

    const event = toProxyEvent({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      compiled: match.compiled,
      pathParameters: match.pathParameters,
      claims,
      requestId,
    });
    try {
      const handler = await loadHandler(route);
      send(
        res,
        await handler(event, new LocalContext(`citadel-local-${route.operationId}`, requestId, route)),
      );
    } catch (error) {
      process.stderr.write(
        `[local] ${route.operationId} failed: ${(error as Error).stack ?? String(error)}\n`,
      );
      send(res, problem('internal', 'Internal server error', requestId));
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      process.stderr.write(`[local] ${(error as Error).stack ?? String(error)}\n`);
      if (!res.headersSent) send(res, gatewayProblem('internal', 'Internal server error', randomUUID()));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  hosts = allowedHosts(port);
  selfOrigin = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
