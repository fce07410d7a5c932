/**
 * Roles and scopes: the vocabulary every reader of the route table shares.
 * Free of CDK and AWS SDK imports so browser clients can bundle it.
 */

/** Cognito groups, lowest to highest. A higher role holds every right of a lower one. */
export const ROLES = ['guest', 'user', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Custom OAuth scopes of the `citadel` resource server. */
export const SCOPES = ['files.read', 'files.write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Identifier of the Cognito resource server; access tokens carry `citadel/<scope>`. */
export const RESOURCE_SERVER_ID = 'citadel';

/** `citadel/files.read` etc.: the form scopes take inside tokens and on API Gateway methods. */
export const qualifiedScope = (scope: Scope): string => `${RESOURCE_SERVER_ID}/${scope}`;

/** Rank of a role in the hierarchy: guest 0 … admin 3. */
export const roleRank = (role: Role): number => ROLES.indexOf(role);

/** True when `held` is `required` or above it. */
export const roleSatisfies = (held: Role, required: Role): boolean => roleRank(held) >= roleRank(required);
