import { dev } from './dev';
import { prod } from './prod';
import { STAGES, type StageConfig, type StageName, stageConfigSchema } from './schema';
import { staging } from './staging';

export { STAGES, type StageConfig, type StageName, stageConfigSchema } from './schema';

const CONFIGS: Record<StageName, StageConfig> = { dev, staging, prod };

export interface LoadStageConfigOptions {
  /** `-c account=…`: pins the deploy account. @default environment-agnostic */
  readonly account?: string;
  /** `-c region=…`: pins the deploy region. @default environment-agnostic */
  readonly region?: string;
  /** Overrides merged over the stage's object before validation (tests use this). @default none */
  readonly overrides?: (base: StageConfig) => StageConfig;
}

/** Thrown for a stage name or config value that synthesis must not accept. */
export class StageConfigError extends Error {
  override readonly name = 'StageConfigError';
}

/**
 * Returns the validated config for `stage`. Every problem is reported at once, each with the
 * path of the offending value, so a platform engineer can fix the config in one pass.
 */
export function loadStageConfig(stage: string, options: LoadStageConfigOptions = {}): StageConfig {
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new StageConfigError(
      `Unknown stage "${stage}". Choose one of ${STAGES.join(', ')}, e.g. "cdk synth -c stage=dev".`,
    );
  }
  const { account, region } = options;
  if ((account === undefined) !== (region === undefined)) {
    throw new StageConfigError(
      'Pin both or neither: pass "-c account=<12 digits> -c region=<region>" together, or omit both for an environment-agnostic synth.',
    );
  }
  let candidate: StageConfig = { ...CONFIGS[stage as StageName] };
  if (account !== undefined && region !== undefined) candidate = { ...candidate, env: { account, region } };
  if (options.overrides) candidate = options.overrides(candidate);
  const parsed = stageConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new StageConfigError(
      `Invalid config for stage "${stage}" (lib/config/${stage}.ts):\n${problems.join('\n')}`,
    );
  }
  return parsed.data;
}
