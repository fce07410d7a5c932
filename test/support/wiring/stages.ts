/**
 * The synthesized CloudFormation templates of a whole stage, for the wiring suites (IAM, reachability, deploy
 * order, WAF, cfn-lint). Synthesis takes seconds per stage and every suite wants all three stages, so the
 * templates are cached on disk, keyed by a hash of everything that shapes them (`lib/tooling/synth.ts`): the first
 * suite to ask synthesizes, the others read JSON.
 *
 * Lambda code is not bundled (template tests never need it); the cdk-nag packs are not run (they only
 * validate, and `npm run synth` and the stack tests run them).
 */
import { loadStageConfig, type StageConfig, type StageName } from '../../../lib/config';
import { cachedOnDisk, synthesizeTemplates } from '../../../lib/tooling/synth';

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
  const synthesized = cachedOnDisk(`stage-${stage}`, () => synthesizeTemplates(loadStageConfig(stage)));
  const result: StageTemplates = {
    stage,
    config: loadStageConfig(stage),
    ...(synthesized as Omit<StageTemplates, 'stage' | 'config'>),
  };
  memory.set(stage, result);
  return result;
}

/** Every stage, for `describe.each`. */
export const ALL_STAGES: readonly StageName[] = ['dev', 'staging', 'prod'];
