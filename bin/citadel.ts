#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { createCitadel } from '../lib/citadel';
import { addComplianceGates } from '../lib/compliance';
import { loadStageConfig, type StageConfig, StageConfigError } from '../lib/config';

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === null ? undefined : String(value);
};

let config: StageConfig;
try {
  config = loadStageConfig(context('stage') ?? 'dev', {
    account: context('account'),
    region: context('region'),
  });
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  console.error(`citadel: ${error.message}`);
  process.exit(1);
}
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

createCitadel(app, config, { version });
addComplianceGates(app);
app.synth();
