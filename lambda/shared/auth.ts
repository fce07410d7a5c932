import type { APIGatewayProxyEvent } from 'aws-lambda';
import {
  qualifiedScope,
  RESOURCE_SERVER_ID,
  ROLES,
  type Role,
  roleSatisfies,
  SCOPES,
  type Scope,
} from '../../contract/roles';
import type { RouteAuth } from '../../contract/route';
import { ForbiddenError, UnauthorizedError } from './errors';

/** A signed-in person, from a user-pool access token. */
export interface UserPrincipal {
  readonly kind: 'user';
  /** Cognito `sub`: the stable owner id of everything the user creates. */
  readonly id: string;
  readonly username: string;
  /** Highest role among the user's groups; `guest` when in none. */
  readonly role: Role;
  readonly scopes: ReadonlySet<Scope>;
  readonly clientId: string;
  /** When the person last signed in (the token's `auth_time`, seconds since the epoch); refreshes keep it. */
  readonly authTime?: number;
}

/** A machine client using the client-credentials grant. */
export interface MachinePrincipal {
  readonly kind: 'machine';
  /** The app client id: owner id of what the client creates. */
  readonly id: string;
  readonly clientId: string;
  readonly scopes: ReadonlySet<Scope>;
}

export type Principal = UserPrincipal | MachinePrincipal;

type Claims = Record<string, unknown>;

/**
 * Splits a multi-valued claim in every form API Gateway and Cognito produce:
 * a JSON array, `"[a b]"` (bracketed, space separated), `"a,b"` or `"a b"`.
 */
export function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string') return [];
  const trimmed = value.trim().replace(/^\[(.*)\]$/s, '$1');
  return trimmed.split(/[\s,]+/).filter(Boolean);
}

const stringClaim = (claims: Claims, name: string): string | undefined => {
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined;
};

function scopesOf(claims: Claims): Set<Scope> {
  const prefix = `${RESOURCE_SERVER_ID}/`;
  const out = new Set<Scope>();
  for (const s of claimList(claims.scope)) {
    if (!s.startsWith(prefix)) continue;
    const bare = s.slice(prefix.length);
    if ((SCOPES as readonly string[]).includes(bare)) out.add(bare as Scope);
  }
  return out;
}

function highestRole(groups: readonly string[]): Role {
  let role: Role = 'guest';
  for (const g of groups) {
    if ((ROLES as readonly string[]).includes(g) && roleSatisfies(g as Role, role)) role = g as Role;
  }
  return role;
}

/**
 * Turns the Cognito authorizer's claims into a principal. Missing, garbled or contradictory
 * claims are a 401: the token is not one this API issues.
 */
export function principalFromClaims(claims: Claims | undefined | null): Principal {
  if (!claims || typeof claims !== 'object') throw new UnauthorizedError();
  if (stringClaim(claims, 'token_use') !== 'access') {
    throw new UnauthorizedError('Send an access token (token_use=access), not an ID token.');
  }
  const sub = stringClaim(claims, 'sub');
  const clientId = stringClaim(claims, 'client_id');
  if (!sub || !clientId) throw new UnauthorizedError('The access token lacks its subject or client id.');
  const username = stringClaim(claims, 'username') ?? stringClaim(claims, 'cognito:username');
  const groups = claimList(claims['cognito:groups']);
  const scopes = scopesOf(claims);
  if (username) {
    const authTime = Number(claims.auth_time);
    return {
      kind: 'user',
      id: sub,
      username,
      role: highestRole(groups),
      scopes,
      clientId,
      ...(Number.isSafeInteger(authTime) && authTime > 0 ? { authTime } : {}),
    };
  }
  // Client-credentials tokens name the client as their subject and belong to no group.
  if (sub !== clientId || groups.length > 0) {
    throw new UnauthorizedError('The access token has contradictory claims.');
  }
  return { kind: 'machine', id: clientId, clientId, scopes };
}

/** The authorizer claims of a proxy event, if any. */
export const claimsOf = (event: Pick<APIGatewayProxyEvent, 'requestContext'>): Claims | undefined =>
  (event.requestContext?.authorizer as { claims?: Claims } | null | undefined)?.claims ?? undefined;

/** Throws 403 unless `principal` holds one of the route's scopes and, for people, its role. */
export function assertRouteAccess(auth: RouteAuth, principal: Principal): void {
  if (auth.kind === 'public') return;
  if (principal.kind === 'machine' && !auth.machines) {
    throw new ForbiddenError('Machine clients cannot call this operation; it needs a signed-in person.');
  }
  if (!auth.scopes.some((s) => principal.scopes.has(s))) {
    throw new ForbiddenError(
      `This operation needs one of the scopes ${auth.scopes.map(qualifiedScope).join(', ')}.`,
    );
  }
  if (principal.kind === 'user' && !roleSatisfies(principal.role, auth.minRole)) {
    throw new ForbiddenError(`This operation needs the ${auth.minRole} role or higher.`);
  }
}

/**
 * Enforces a route's auth: scopes for every token, the role hierarchy for people.
 * Returns the principal, or `undefined` for public routes.
 */
export function authorizeRoute(auth: RouteAuth, claims: Claims | undefined): Principal | undefined {
  if (auth.kind === 'public') return undefined;
  const principal = principalFromClaims(claims);
  assertRouteAccess(auth, principal);
  return principal;
}
