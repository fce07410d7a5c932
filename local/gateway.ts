/**
 * What API Gateway does in front of the Lambdas, reproduced for the local server: route matching,
 * 404/405, CORS preflight, the Cognito authorizer, problem+json for its own errors, and the
 * translation of HTTP requests into REST proxy events.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER, SECURITY_HEADERS } from '../contract/http';
import { PROBLEM_TYPES, type ProblemKind, problemTypeUri } from '../contract/problems';
import { qualifiedScope } from '../contract/roles';
import type { RouteDefinition } from '../contract/route';

/** A route table entry compiled for matching. */
export interface CompiledRoute {
  readonly route: RouteDefinition;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
}

export function compileRoutes(routes: readonly RouteDefinition[]): CompiledRoute[] {
  return routes.map((route) => {
    const paramNames: string[] = [];
    const source = route.path
      .split('/')
      .map((segment) => {
        const param = /^\{([A-Za-z0-9_]+)\}$/.exec(segment);
        if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        paramNames.push(param[1] as string);
        return '([^/]+)';
      })
      .join('/');
    return { route, pattern: new RegExp(`^${source}/?$`), paramNames };
  });
}

export type Match =
  | {
      readonly kind: 'route';
      readonly compiled: CompiledRoute;
      readonly pathParameters: Record<string, string>;
    }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

/** Finds the route for a method and path the way API Gateway resolves resources and methods. */
export function matchRoute(compiled: readonly CompiledRoute[], method: string, path: string): Match {
  const allow: string[] = [];
  for (const c of compiled) {
    const m = c.pattern.exec(path);
    if (!m) continue;
    if (c.route.method !== method) {
      allow.push(c.route.method);
      continue;
    }
    const pathParameters: Record<string, string> = {};
    c.paramNames.forEach((name, i) => {
      const raw = m[i + 1] as string;
      try {
        pathParameters[name] = decodeURIComponent(raw);
      } catch {
        pathParameters[name] = raw;
      }
    });
    return { kind: 'route', compiled: c, pathParameters };
  }
  return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
}

export interface GatewayResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** API Gateway's own error, as our gateway responses shape it. */
export function gatewayProblem(
  kind: ProblemKind,
  detail: string,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): GatewayResponse {
  const { status, title } = PROBLEM_TYPES[kind];
  return {
    statusCode: status,
    headers: {
      ...SECURITY_HEADERS,
      ...extraHeaders,
      'Content-Type': PROBLEM_CONTENT_TYPE,
      [REQUEST_ID_HEADER]: requestId,
    },
    body: JSON.stringify({ type: problemTypeUri(kind), title, status, detail, instance: requestId }),
  };
}

/** The claim map the REST Cognito authorizer hands to Lambda: every value a string, lists comma-joined. */
export function authorizerClaims(payload: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) {
    out[k] = Array.isArray(v) ? v.join(',') : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** The scopes a token's claims hold (the `scope` claim, space-separated). */
export const heldScopes = (claims: Record<string, string>): ReadonlySet<string> =>
  new Set((claims.scope ?? '').split(' '));

/** True when the token holds at least one of the route's scopes (API Gateway's method scope check). */
export function hasRouteScope(route: RouteDefinition, held: ReadonlySet<string>): boolean {
  if (route.auth.kind === 'public') return true;
  return route.auth.scopes.some((s) => held.has(qualifiedScope(s)));
}

/** The bearer token of an `Authorization` header (API Gateway accepts it with or without `Bearer`). */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers.authorization;
  if (!raw) return undefined;
  const token = raw.replace(/^Bearer\s+/i, '').trim();
  return token.length > 0 ? token : undefined;
}

export interface EventInput {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly compiled: CompiledRoute;
  readonly pathParameters: Record<string, string>;
  readonly claims?: Record<string, string>;
  readonly requestId?: string;
  readonly stage?: string;
}

const TEXTUAL = /^(application\/(json|problem\+json|x-www-form-urlencoded|xml)|text\/)/i;

/** Builds the REST proxy event API Gateway would send for this request. */
export function toProxyEvent(input: EventInput): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    if (value === undefined) continue;
    const all = Array.isArray(value) ? value : [value];
    multiValueHeaders[name] = all;
    headers[name] = all[all.length - 1] as string;
  }
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [k, v] of input.query) {
    queryStringParameters[k] = v;
    multiValueQueryStringParameters[k] = [...(multiValueQueryStringParameters[k] ?? []), v];
  }
  const contentType = headers['content-type'] ?? '';
  const textual = input.body.length === 0 || TEXTUAL.test(contentType) || contentType === '';
  const requestId = input.requestId ?? randomUUID();
  const resource = input.compiled.route.path;
  const hasQuery = Object.keys(queryStringParameters).length > 0;
  return {
    resource,
    path: input.path,
    httpMethod: input.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? queryStringParameters : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQueryStringParameters : null,
    pathParameters: Object.keys(input.pathParameters).length > 0 ? input.pathParameters : null,
    stageVariables: null,
    body:
      input.body.length === 0 ? null : textual ? input.body.toString('utf8') : input.body.toString('base64'),
    isBase64Encoded: input.body.length > 0 && !textual,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: input.claims ? { claims: input.claims } : null,
      protocol: 'HTTP/1.1',
      httpMethod: input.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: input.sourceIp,
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${input.stage ?? 'local'}${input.path}`,
      stage: input.stage ?? 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
    },
  };
}
