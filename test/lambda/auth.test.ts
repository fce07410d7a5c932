import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { requires } from '../../contract/route';
import { authorizeRoute, claimList, principalFromClaims } from '../../lambda/shared/auth';
import { DomainError, ForbiddenError, UnauthorizedError } from '../../lambda/shared/errors';

const user = (
  groups: string,
  scope = 'openid citadel/files.read citadel/files.write',
): Record<string, string> => ({
  sub: '7d1f0e62-0000-4000-8000-000000000001',
  username: 'alice',
  client_id: 'webclient',
  token_use: 'access',
  scope,
  'cognito:groups': groups,
});
const machine = (scope: string): Record<string, string> => ({
  sub: 'machineclient1',
  client_id: 'machineclient1',
  token_use: 'access',
  scope,
});

describe('claimList', () => {
  it.each([
    ['admin,user', ['admin', 'user']],
    ['[admin user]', ['admin', 'user']],
    ['admin user', ['admin', 'user']],
    ['manager', ['manager']],
    ['', []],
  ])('parses %j', (raw, expected) => expect(claimList(raw)).toEqual(expected));
  it('accepts real arrays', () => expect(claimList(['a', 1, 'b'])).toEqual(['a', 'b']));
});

describe('principalFromClaims', () => {
  it('takes the highest recognised group as the role', () => {
    const p = principalFromClaims(user('[user manager unknown]'));
    expect(p).toMatchObject({ kind: 'user', id: user('').sub, role: 'manager', username: 'alice' });
    expect([...p.scopes].sort()).toEqual(['files.read', 'files.write']);
  });
  it('makes a user in no group a guest', () => {
    expect(principalFromClaims(user(''))).toMatchObject({ role: 'guest' });
  });
  it('recognises client-credentials tokens as machines', () => {
    const p = principalFromClaims(machine('citadel/files.read'));
    expect(p).toMatchObject({ kind: 'machine', id: 'machineclient1' });
  });
  it.each([
    ['no claims', undefined],
    ['an ID token', { ...user('user'), token_use: 'id' }],
    ['a missing subject', { ...user('user'), sub: '' }],
    ['a machine token naming another subject', { ...machine('citadel/files.read'), sub: 'someone-else' }],
    ['a machine token carrying groups', { ...machine('citadel/files.read'), 'cognito:groups': 'admin' }],
  ])('refuses %s with 401', (_n, claims) => {
    expect(() => principalFromClaims(claims as Record<string, string> | undefined)).toThrow(
      UnauthorizedError,
    );
  });
});

describe('authorizeRoute', () => {
  const upload = requires('user', ['files.write']);
  it('lets a user with the role and scope through', () => {
    expect(authorizeRoute(upload, user('user'))?.kind).toBe('user');
  });
  it('refuses a guest (role) and a token without the scope, with 403', () => {
    expect(() => authorizeRoute(upload, user('guest'))).toThrow(ForbiddenError);
    expect(() => authorizeRoute(upload, user('admin', 'citadel/files.read'))).toThrow(ForbiddenError);
  });
  it('returns no principal for public routes whatever the claims', () => {
    expect(authorizeRoute({ kind: 'public' }, undefined)).toBeUndefined();
  });
  it('answers any generated claim set with a principal or a 401/403, never another error', () => {
    const claimValue = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('access', 'id', 'admin', 'citadel/admin'),
    );
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('sub', 'username', 'client_id', 'token_use', 'scope', 'cognito:groups', 'other'),
          claimValue,
        ),
        (claims) => {
          try {
            authorizeRoute(upload, claims);
          } catch (error) {
            expect(error).toBeInstanceOf(DomainError);
            expect([401, 403]).toContain(
              error instanceof UnauthorizedError ? 401 : error instanceof ForbiddenError ? 403 : 0,
            );
          }
        },
      ),
    );
  });
});
