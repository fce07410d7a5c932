/**
 * What the admin API needs from AWS, as interfaces: Cognito app clients, usage-plan API keys and MFA
 * resets. Lambdas use the AWS adapters (`aws.ts`); `npm run dev` swaps in local simulators.
 */
import type { Scope } from '../../contract/roles';

export type Tier = 'basic' | 'standard' | 'premium';

export interface MachineClientDirectory {
  /** A Cognito app client for the client-credentials grant with exactly `scopes`. */
  create(name: string, scopes: readonly Scope[]): Promise<{ clientId: string; clientSecret: string }>;
  /** Deletes the app client; tokens it holds stop refreshing and new ones cannot be issued. */
  delete(clientId: string): Promise<void>;
}

export interface ApiKeyIssuer {
  /** An enabled API key in the tier's usage plan. */
  create(name: string, tier: Tier): Promise<{ keyId: string; value: string }>;
  /** Disables a key at once; disabling a disabled or missing key is not an error. */
  disable(keyId: string): Promise<void>;
}

export interface MfaResetter {
  /** Clears every MFA preference and signs the user out everywhere; `false` when the user does not exist. */
  reset(username: string): Promise<boolean>;
}

export interface AdminAdapters {
  readonly clients: MachineClientDirectory;
  readonly keys: ApiKeyIssuer;
  readonly mfa: MfaResetter;
}
