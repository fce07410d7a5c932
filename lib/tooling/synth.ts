/**
 * Synthesis of a whole stage to plain CloudFormation templates for the tools that read them (the wiring suites,
 * `npm run lint:cfn`, `npm run cost`). It is what `cdk synth` produces, without bundling Lambda code and without
 * the cdk-nag packs: neither changes a template. Synthesis takes seconds per stage and the tools ask for the same
 * stages again and again, so results are cached on disk, keyed by a hash of everything that shapes them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { createCitadel } from '../citadel';
import { loadStageConfig, type StageConfig, type StageName } from '../config';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Everything a template depends on. */
const INPUTS = ['bin', 'lib', 'contract', 'lambda', 'migrations', 'cdk.json', 'package-lock.json'];

/** A stage's templates as `cdk synth` writes them. */
export interface SynthesizedTemplates {
  /** Templates by stack name (`Citadel-<stage>-<Name>`), in the order the stacks were created. */
  readonly templates: Record<string, unknown>;
  /** Stack names by their short name (`Network`, `Data`, …). */
  readonly stackNames: Record<string, string>;
  /** Stack dependencies CDK derived (cross-stack references and explicit ones), by stack name. */
  readonly stackDependencies: Record<string, string[]>;
}

let inputsHash: string | undefined;

/** A hash of the sources that shape the templates (and of this file). */
export function sourcesHash(): string {
  if (inputsHash) return inputsHash;
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
  inputsHash = hash.digest('hex').slice(0, 16);
  return inputsHash;
}

/** Synthesizes every stack of `config`'s stage, as `cdk synth` would with the committed cdk.json context. */
export function synthesizeTemplates(config: StageConfig): SynthesizedTemplates {
  const { context } = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  // `aws:cdk:bundling-stacks` empty: no Lambda code is bundled.
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stacks = createCitadel(app, config, { version: '1.2.3' });
  const assembly = app.synth();
  const result: SynthesizedTemplates = { templates: {}, stackNames: {}, stackDependencies: {} };
  for (const [name, stack] of Object.entries(stacks) as Array<[string, Stack]>) {
    result.templates[stack.stackName] = assembly.getStackByName(stack.stackName).template;
    result.stackNames[name.charAt(0).toUpperCase() + name.slice(1)] = stack.stackName;
    result.stackDependencies[stack.stackName] = stack.dependencies.map((d) => d.stackName);
  }
  return result;
}

/**
 * `compute()`'s result, cached as JSON under `key` for the current sources. Written then renamed, so a reader in
 * another process never sees a half-written file.
 */
export function cachedOnDisk<T>(key: string, compute: () => T): T {
  const dir = path.join(tmpdir(), 'citadel-synth', sourcesHash());
  const file = path.join(dir, `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    const value = compute();
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(value));
    renameSync(partial, file);
    return value;
  }
}

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

const memory = new Map<StageName, StageTemplates>();

/** The templates of `stage`, synthesized once per change of the sources (cached on disk and in memory). */
export function stageTemplates(stage: StageName): StageTemplates {
  const cached = memory.get(stage);
  if (cached) return cached;
  const config = loadStageConfig(stage);
  const synthesized = cachedOnDisk(`stage-${stage}`, () => synthesizeTemplates(config));
  const result: StageTemplates = {
    stage,
    config,
    ...(synthesized as Omit<StageTemplates, 'stage' | 'config'>),
  };
  memory.set(stage, result);
  return result;
}
