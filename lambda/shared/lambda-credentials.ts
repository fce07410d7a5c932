/**
 * What every AWS SDK client of a deployed function resolves its credentials with: the house bundle aliases
 * `@aws-sdk/credential-provider-node` (the SDK's default chain) to this module (`HOUSE_ALIASES` in
 * `lib/constructs/bundling.ts`).
 *
 * Inside Lambda the credentials of the execution role are in the environment (`AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: Lambda developer guide, "Defined runtime environment
 * variables"), which is the first link of the default chain and the only one that ever answers there. The rest
 * of the chain (SSO, INI files, credential processes, web identity, ECS and EC2 metadata, with the STS, SSO and
 * sign-in clients they carry) is about 130 KiB that every function parsed at each cold start and never ran.
 * Tests and the local server run the sources unbundled, with the SDK's real chain.
 */
import { type FromEnvInit, fromEnv } from '@aws-sdk/credential-provider-env';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/** Drop-in for the SDK's `defaultProvider`: the environment's credentials, as the chain's first link reads them. */
export const defaultProvider = (init: FromEnvInit = {}): AwsCredentialIdentityProvider => fromEnv(init);
