import type * as z from 'zod';
import { type Role, roleRank, type Scope } from './roles';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who may call a route. */
export type RouteAuth =
  | {
      readonly kind: 'public';
      /** `false`: a route for people only, not served by the machine API. @default true */
      readonly machines?: false;
    }
  | {
      readonly kind: 'authenticated';
      /** Lowest Cognito group a human caller must hold. */
      readonly minRole: Role;
      /** OAuth scopes, any one of which the access token must carry (checked by API Gateway and again by the handler). */
      readonly scopes: readonly Scope[];
      /** Machine clients (client-credentials tokens) may call it, acting on their own resources as a `user` would. */
      readonly machines: boolean;
    };

export const PUBLIC: RouteAuth = { kind: 'public' };

/** Public, for people only: served by the public API alone (e.g. account recovery, which browsers make). */
export const PUBLIC_FOR_PEOPLE: RouteAuth = { kind: 'public', machines: false };

/** Whether the machine API serves `route`: public routes unless for people only, and routes open to machines. */
export const servesMachines = (route: Pick<RouteDefinition, 'auth'>): boolean =>
  route.auth.kind === 'public' ? route.auth.machines !== false : route.auth.machines;

/**
 * Route open to people holding `minRole` and to tokens carrying one of `scopes`. Machine clients are let in
 * only where a `user` would be (their own resources), never on manager or admin routes.
 */
export const requires = (minRole: Role, scopes: readonly Scope[]): RouteAuth => {
  if (scopes.length === 0) throw new Error('an authenticated route needs at least one scope');
  return { kind: 'authenticated', minRole, scopes, machines: roleRank(minRole) <= roleRank('user') };
};

/**
 * A route for signed-in people only, whatever their role: the `guest` floor, any of the scopes a web-client token
 * carries, never machine clients (they have no account of their own to act on).
 */
export const peopleOnly = (scopes: readonly Scope[]): RouteAuth => {
  if (scopes.length === 0) throw new Error('an authenticated route needs at least one scope');
  return { kind: 'authenticated', minRole: 'guest', scopes, machines: false };
};

/**
 * AWS resources a handler touches. The Api stack turns each into L2 `grant*` calls and
 * environment variables, so a function gets exactly what its route declares.
 */
export type ResourceNeed =
  /** PostgreSQL as `citadel_app` (IAM). */
  | 'database'
  /** Create, describe and delete Cognito app clients of the user pool. */
  | 'cognito-clients'
  /** Reset a user's MFA and sign them out everywhere. */
  | 'cognito-mfa'
  /**
   * Self-service recovery: verify a user's password, then reset their MFA, sign them out everywhere and email
   * them (through the recovery control function).
   */
  | 'cognito-recovery'
  /** Create, enable and disable usage-plan API keys (through the API-key control function). */
  | 'api-keys'
  // The uploads bucket: one S3 capability per need, under the upload prefix only. A presigned URL carries
  // the rights of the role that signed it. Each sets the bucket, key and upload-limit environment.
  /** Create multipart uploads, upload parts, complete them, PUT small objects whole (SSE-KMS encrypt). */
  | 'uploads:write'
  /** Abort multipart uploads. */
  | 'uploads:abort'
  /** List the parts S3 holds for a multipart upload (SSE-KMS decrypt). */
  | 'uploads:list-parts'
  /** List objects under the upload prefix: does the object exist, how large is it. */
  | 'uploads:list'
  /** Read objects (presigned downloads; the bucket policy still refuses unscanned ones) (SSE-KMS decrypt). */
  | 'uploads:read'
  /** Delete objects (current version: a delete marker). */
  | 'uploads:delete';

/** One route: declared once, read by the CDK API, the handlers, the local server and the client. */
export interface RouteDefinition<
  TParams extends z.ZodType = z.ZodType,
  TQuery extends z.ZodType = z.ZodType,
  TBody extends z.ZodType = z.ZodType,
  TResponse extends z.ZodType = z.ZodType,
> {
  /** Stable id: OpenAPI operationId, construct id of the function, client method name. */
  readonly operationId: string;
  readonly method: HttpMethod;
  /** API Gateway style path, e.g. `/v1/files/{id}`. */
  readonly path: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly summary: string;
  readonly auth: RouteAuth;
  readonly params?: TParams;
  readonly query?: TQuery;
  readonly body?: TBody;
  readonly response: { readonly status: number; readonly schema: TResponse };
  readonly needs?: readonly ResourceNeed[];
  /**
   * Repeating the request is harmless: a second identical call changes nothing the first did not. Clients
   * retry such calls after any transient failure; others only when the first attempt certainly did no work.
   * @default true for GET, PUT and DELETE; false for POST and PATCH
   */
  readonly idempotent?: boolean;
  /**
   * Largest JSON body, in bytes, this route legitimately carries when that can exceed the 8 KiB that AWS WAF's
   * core rule set allows (`SizeRestrictions_BODY`). The API's web ACLs exempt such routes from that rule, never
   * from the API-wide `MAX_JSON_BODY_BYTES`, which is the most this may be.
   * @default 8 KiB: larger bodies are refused by WAF before they reach the API
   */
  readonly maxBodyBytes?: number;
  /** `admin`: the stage's tighter admin method throttling. @default the stage's limits */
  readonly throttle?: 'admin';
  /** Lambda sizing. @default 256 MiB / 10 s */
  readonly memoryMiB?: number;
  readonly timeoutSeconds?: number;
}

/**
 * Identity function that keeps a route's schema types for the handlers and the client.
 *
 * Under `contract/api/`, every top-level schema and route is written `/* @__PURE__ *\/ (() => …)()`. Building a zod
 * schema runs code, so without the mark a bundler must keep every definition of every module a function imports;
 * with it, a function's bundle builds only its own route and what that route uses (about 8 ms of the upload
 * functions' cold start on Node 20, 11 ms on Node 24). `test/lib/bundles.test.ts` checks both the marks and each
 * bundle's routes.
 */
export const defineRoute = <
  TParams extends z.ZodType = z.ZodType,
  TQuery extends z.ZodType = z.ZodType,
  TBody extends z.ZodType = z.ZodType,
  TResponse extends z.ZodType = z.ZodType,
>(
  route: RouteDefinition<TParams, TQuery, TBody, TResponse>,
): RouteDefinition<TParams, TQuery, TBody, TResponse> => route;

/** Whether repeating `route` is harmless: its `idempotent` flag, else what its method promises. */
export const isIdempotent = (route: Pick<RouteDefinition, 'method' | 'idempotent'>): boolean =>
  route.idempotent ?? (route.method === 'GET' || route.method === 'PUT' || route.method === 'DELETE');

/** Path parameter names in declaration order: `/v1/files/{id}` → `['id']`. */
export const pathParameterNames = (path: string): string[] =>
  [...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string);
