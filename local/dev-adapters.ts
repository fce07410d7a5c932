/**
 * LOCAL — `npm run dev` only (`CITADEL_ADAPTERS_MODULE`). The in-memory AWS simulators of `aws-simulators.ts`,
 * with every machine client the admin API creates (or deletes) also recorded in `localMachineClients`, so that
 * the local OAuth token endpoint grants client credentials to exactly the clients that exist, with their secret
 * and their scopes; and the simulated Cognito and SES side of account recovery. Lambdas never load this module.
 */
import type { AdminAdapters } from '../lambda/admin/ports';
import { adminAdapters as simulated } from './aws-simulators';
import { localMachineClients } from './machine-clients';

export { recoveryIdentity } from './aws-simulators';

export const adminAdapters: AdminAdapters = {
  ...simulated,
  clients: {
    async create(name, scopes) {
      const created = await simulated.clients.create(name, scopes);
      localMachineClients.register(created.clientId, created.clientSecret, scopes, name);
      return created;
    },
    async delete(clientId) {
      await simulated.clients.delete(clientId);
      localMachineClients.remove(clientId);
    },
  },
};
