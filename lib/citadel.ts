import type { App } from 'aws-cdk-lib';
import type { StageConfig } from './config';
import { ApiStack } from './stacks/api-stack';
import { DataStack } from './stacks/data-stack';
import { IdentityStack } from './stacks/identity-stack';
import { NetworkStack } from './stacks/network-stack';
import { ObservabilityStack } from './stacks/observability-stack';
import { StorageStack } from './stacks/storage-stack';

export interface CitadelStacks {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly identity: IdentityStack;
  readonly storage: StorageStack;
  readonly api: ApiStack;
  readonly observability: ObservabilityStack;
}

export interface CitadelOptions {
  /** Reported by `/v1/health`. @default '0.0.0' */
  readonly version?: string;
}

/** Builds one stage of Citadel: every stack, linked through typed props. */
export function createCitadel(app: App, config: StageConfig, options: CitadelOptions = {}): CitadelStacks {
  const network = new NetworkStack(app, { config });
  const data = new DataStack(app, { config, network });
  const identity = new IdentityStack(app, { config, network });
  const storage = new StorageStack(app, { config, network });
  const api = new ApiStack(app, { config, network, data, identity, storage, version: options.version });
  const observability = new ObservabilityStack(app, { config, network, data, identity, storage, api });
  return { network, data, identity, storage, api, observability };
}
