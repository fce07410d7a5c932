/**
 * LOCAL SIMULATORS — `npm run dev` only. In-memory stand-ins for the Cognito app clients, usage-plan API
 * keys and MFA resets the admin API manages on AWS, and for the Cognito and SES side of self-service recovery, so
 * those routes work offline. They keep state only in this process and log what AWS would have done. Lambdas never
 * load this module (see lambda/admin/adapters.ts and lambda/recovery/adapters.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ROLES, type Role } from '../contract/roles';
import type { AdminAdapters } from '../lambda/admin/ports';
import type { RecoveryIdentity } from '../lambda/recovery/ports';

const keys = new Map<string, { name: string; tier: string; enabled: boolean }>();
const say = (what: string) => process.stderr.write(`[local-simulator] ${what}\n`);

export const adminAdapters: AdminAdapters = {
  clients: {
    async create(name, scopes) {
      const clientId = randomBytes(13).toString('hex');
      say(`Cognito CreateUserPoolClient ${name} -> ${clientId} (${scopes.join(' ')})`);
      return { clientId, clientSecret: randomBytes(32).toString('base64url') };
    },
    async delete(clientId) {
      say(`Cognito DeleteUserPoolClient ${clientId}`);
    },
  },
  keys: {
    async create(name, tier) {
      const keyId = randomUUID().slice(0, 10);
      keys.set(keyId, { name, tier, enabled: true });
      say(`API Gateway CreateApiKey ${name} (${tier}) -> ${keyId}`);
      return { keyId, value: randomBytes(30).toString('base64url') };
    },
    async disable(keyId) {
      const key = keys.get(keyId);
      if (key) key.enabled = false;
      say(`API Gateway UpdateApiKey ${keyId} enabled=false`);
    },
  },
  mfa: {
    async reset(username) {
      say(`Cognito AdminSetUserMFAPreference + AdminUserGlobalSignOut ${username}`);
      return !username.startsWith('missing');
    },
  },
};

/**
 * The password of every simulated dev user. The simulated user pool holds one person per role, as the dev token
 * endpoint mints them: user name `dev-<role>` (sign-in alias `dev-<role>@citadel.local`), `sub` `dev-user-<role>`.
 */
export const DEV_PASSWORD = 'Citadel-dev-password-1!';

interface SimulatedUser {
  readonly sub: string;
  readonly username: string;
  readonly email: string;
  mfa: boolean;
  signedOutAt?: string;
}

const devUsers = new Map<string, SimulatedUser>(
  ROLES.map((role: Role) => [
    `dev-${role}`,
    { sub: `dev-user-${role}`, username: `dev-${role}`, email: `dev-${role}@citadel.local`, mfa: true },
  ]),
);

/** The simulated user a typed user name (the user name or the email alias, any case) names. */
const findUser = (typed: string): SimulatedUser | undefined => {
  const name = typed.trim().toLowerCase();
  return [...devUsers.values()].find((u) => u.username === name || u.email === name);
};

/**
 * Cognito's AdminInitiateAuth (ADMIN_USER_PASSWORD_AUTH, stopping at the MFA challenge) and AdminGetUser for the
 * dev users; AdminSetUserMFAPreference, AdminUserGlobalSignOut and SES SendEmail are logged, the email printed.
 */
export const recoveryIdentity: RecoveryIdentity = {
  async verifyPassword(username, password, { sourceIp }) {
    const user = findUser(username);
    say(`Cognito AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH + AdminGetUser "${username}" from ${sourceIp}`);
    if (!user || password !== DEV_PASSWORD) return { verified: false };
    return { verified: true, userId: user.sub, username: user.username };
  },
  async recover(username, sourceIp) {
    const user = devUsers.get(username);
    if (!user) throw new Error(`the simulated user pool has no user ${username}`);
    user.mfa = false;
    user.signedOutAt = new Date().toISOString();
    say(`Cognito AdminSetUserMFAPreference (every factor off) + AdminUserGlobalSignOut ${username}`);
    say(
      `SES SendEmail to ${user.email}: "A recovery code was used on your Citadel account" (from ${sourceIp}); the next sign-in enrols a new authenticator`,
    );
    return { notified: true };
  },
};
