/**
 * The synthesized CloudFormation templates of a whole stage, for the wiring suites (IAM, reachability, deploy
 * order, WAF, cfn-lint). Synthesis takes seconds per stage and every suite wants all three stages, so the
 * templates are cached on disk, keyed by a hash of everything that shapes them (bin, lib, contract, lambda,
 * cdk.json, the lockfile and this file): the first suite to ask synthesizes, the others read JSON.
 *
 * Lambda code is not bundled (template tests never need it); the cdk-nag packs are not run (they only
 * validate, and `npm run synth` and the stack tests run them).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { createCitadel } from '../../../lib/citadel';
import { loadStageConfig, type StageConfig, type StageName } from '../../../lib/config';
import { testApp } from '../cdk';

/** A CloudFormation template as JSON. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Parameters?: Record<string, unknown>;
  readonly Mappings?: Record<string, unknown>;
}

export interface CfnResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: resource properties are arbitrary JSON; each suite narrows them.
  readonly Properties?: Record<string, any>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Condition?: string;
}

export interface StageTemplates {
  readonly stage: StageName;
  readonly config: StageConfig;
  /** Templates by stack name (`Citadel-<stage>-<Name>`), in the order the stacks were created. */
  readonly templates: Readonly<Record<string, CfnTemplate>>;
  /** Stack names by their short name (`Network`, `Data`, …). */
  readonly stackNames: Readonly<Record<string, string>>;
  /** Stack dependencies CDK derived (cross-stack references and explicit ones), by stack name. */
  readonly stackDependencies: Readonly<Record<string, readonly string[]>>;
}

const ROOT = path.resolve(import.meta.dirname, '../../..');
const INPUTS = ['bin', 'lib', 'contract', 'lambda', 'migrations', 'cdk.json', 'package-lock.json'];

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
  hash.update(readFileSync(import.meta.filename));
  return hash.digest('hex').slice(0, 16);
}

let inputsHash: string | undefined;
const memory = new Map<StageName, StageTemplates>();

function synthesize(stage: StageName): StageTemplates {
  const config = loadStageConfig(stage);
  const app = testApp({ compliance: false });
  const stacks = createCitadel(app, config, { version: '1.2.3' });
  const assembly = app.synth();
  const templates: Record<string, CfnTemplate> = {};
  const stackNames: Record<string, string> = {};
  const stackDependencies: Record<string, string[]> = {};
  for (const [name, stack] of Object.entries(stacks) as Array<[string, Stack]>) {
    templates[stack.stackName] = assembly.getStackByName(stack.stackName).template as CfnTemplate;
    stackNames[name.charAt(0).toUpperCase() + name.slice(1)] = stack.stackName;
    stackDependencies[stack.stackName] = stack.dependencies.map((d) => d.stackName);
  }
  return { stage, config, templates, stackNames, stackDependencies };
}

/** The templates of `stage`, synthesized once per change of the sources (cached on disk and in memory). */
export function stageTemplates(stage: StageName): StageTemplates {
  const cached = memory.get(stage);
  if (cached) return cached;
  inputsHash ??= hashInputs();
  const dir = path.join(tmpdir(), 'citadel-wiring', inputsHash);
  const file = path.join(dir, `${stage}.json`);
  let result: StageTemplates;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Omit<StageTemplates, 'config'>;
    result = { ...json, config: loadStageConfig(stage) };
  } catch {
    result = synthesize(stage);
    mkdirSync(dir, { recursive: true });
    const { config: _config, ...json } = result;
    // Write then rename: a suite in another worker never reads a half-written file.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(json));
    renameSync(partial, file);
  }
  memory.set(stage, result);
  return result;
}

/** Every stage, for `describe.each`. */
export const ALL_STAGES: readonly StageName[] = ['dev', 'staging', 'prod'];
