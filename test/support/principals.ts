import type { Role, Scope } from '../../contract/roles';

/**
 * REST-authorizer claims of a person in `role` (values are strings, groups comma-joined) who signed in
 * `signedInSecondsAgo` seconds ago (`auth_time`, which Cognito access tokens always carry).
 */
export function userClaims(
  role: Role,
  sub = `user-${role}`,
  scopes: readonly Scope[] = ['files.read', 'files.write', 'admin'],
  signedInSecondsAgo = 30,
) {
  return {
    sub,
    username: sub,
    client_id: 'webclient',
    token_use: 'access',
    scope: ['openid', ...scopes.map((s) => `citadel/${s}`)].join(' '),
    'cognito:groups': role,
    auth_time: String(Math.floor(Date.now() / 1000) - signedInSecondsAgo),
  };
}

/** REST-authorizer claims of a machine client with `scopes`. */
export function machineClaims(clientId: string, scopes: readonly Scope[]) {
  return {
    sub: clientId,
    client_id: clientId,
    token_use: 'access',
    scope: scopes.map((s) => `citadel/${s}`).join(' '),
  };
}
