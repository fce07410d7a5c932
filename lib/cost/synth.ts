/**
 * Templates of a stage synthesized with another egress mode, for the comparison lines of `npm run cost` (what the
 * same stage would cost with a NAT gateway per AZ, or with interface endpoints). Synthesis takes seconds, so the
 * templates are cached on disk, keyed by a hash of everything that shapes them, like the wiring suites' cache
 * (`test/support/wiring/stages.ts`, which serves the stage as configured). Lambda code is not bundled and the
 * cdk-nag packs are not run: neither changes a template. The egress override is applied after the config is
 * validated: the schema refuses some of these what-ifs for deployment (prod must use `endpoints`), and a price
 * comparison is not a deployment.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { createCitadel } from '../citadel';
import { loadStageConfig, type StageConfig, type StageName } from '../config';
import type { CfnTemplate } from './model';

export type Egress = StageConfig['network']['egress'];

const ROOT = path.resolve(import.meta.dirname, '../..');
const INPUTS = ['bin', 'lib', 'contract', 'lambda', 'migrations', 'cdk.json', 'package-lock.json'];

let inputsHash: string | undefined;

function hashInputs(): string {
  const hash = createHash('sha256');
  const add = (rel: string): void => {
    const full = path.join(ROOT, rel);
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) add(path.join(rel, name));
    } else {
      hash.update(rel).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  for (const input of INPUTS) add(input);
  return hash.digest('hex').slice(0, 16);
}

function synthesize(stage: StageName, egress: Egress): Record<string, CfnTemplate> {
  // Applied after validation on purpose: this is a what-if for pricing, and the schema rightly refuses some of
  // them for deployment (prod must use `endpoints`).
  const base = loadStageConfig(stage);
  const config: StageConfig = { ...base, network: { ...base.network, egress } };
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  // As `cdk synth` would, without bundling Lambda code (`aws:cdk:bundling-stacks` empty).
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stacks = createCitadel(app, config, { version: '0.0.0' });
  const assembly = app.synth();
  const templates: Record<string, CfnTemplate> = {};
  for (const stack of Object.values(stacks) as Stack[]) {
    templates[stack.stackName] = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  }
  return templates;
}

/** The templates of `stage` with `network.egress` set to `egress` (cached on disk per change of the sources). */
export function variantTemplates(stage: StageName, egress: Egress): Record<string, CfnTemplate> {
  inputsHash ??= hashInputs();
  const dir = path.join(tmpdir(), 'citadel-cost', inputsHash);
  const file = path.join(dir, `${stage}-${egress}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, CfnTemplate>;
  } catch {
    const templates = synthesize(stage, egress);
    mkdirSync(dir, { recursive: true });
    // Write then rename: a suite in another worker never reads a half-written file.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(templates));
    renameSync(partial, file);
    return templates;
  }
}
