/**
 * LOCAL — `npm run dev` only. The machine clients the admin API created in this process, with their secrets and
 * scopes, so that the local OAuth token endpoint can check client credentials as Cognito's does. Secrets are held
 * as SHA-256 digests and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Scope } from '../contract/roles';

const digest = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

export interface RegisteredClient {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

export class MachineClientRegistry {
  private readonly clients = new Map<string, RegisteredClient & { readonly secret: Buffer }>();

  register(clientId: string, secret: string, scopes: readonly Scope[], name: string): void {
    this.clients.set(clientId, { name, scopes: [...scopes], secret: digest(secret) });
  }

  remove(clientId: string): void {
    this.clients.delete(clientId);
  }

  /** The client, when `secret` is its secret; `undefined` for an unknown client or a wrong secret. */
  authenticate(clientId: string, secret: string): RegisteredClient | undefined {
    const client = this.clients.get(clientId);
    const given = digest(secret);
    // Compared even for an unknown client, so the answer takes as long either way.
    const matches = timingSafeEqual(given, client?.secret ?? digest(`${secret}\u0000`));
    return client && matches ? { name: client.name, scopes: client.scopes } : undefined;
  }
}

/** This process's registry: filled by `dev-adapters.ts` (the admin API), read by the token endpoint. */
export const localMachineClients = new MachineClientRegistry();
