/**
 * LOCAL SIMULATORS — `npm run dev` only. In-memory stand-ins for the Cognito app clients, usage-plan API
 * keys and MFA resets the admin API manages on AWS, so those routes work offline. They keep state only in
 * this process and log what AWS would have done. Lambdas never load this module (see adapters.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AdminAdapters } from '../lambda/admin/ports';

const clients = new Map<string, { name: string; scopes: readonly string[] }>();
const keys = new Map<string, { name: string; tier: string; enabled: boolean }>();
const say = (what: string) => process.stderr.write(`[local-simulator] ${what}\n`);

export const adminAdapters: AdminAdapters = {
  clients: {
    async create(name, scopes) {
      const clientId = randomBytes(13).toString('hex');
      clients.set(clientId, { name, scopes });
      say(`Cognito CreateUserPoolClient ${name} -> ${clientId} (${scopes.join(' ')})`);
      return { clientId, clientSecret: randomBytes(32).toString('base64url') };
    },
    async delete(clientId) {
      clients.delete(clientId);
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
