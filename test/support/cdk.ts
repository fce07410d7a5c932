import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type CitadelStacks, createCitadel } from '../../lib/citadel';
import { addComplianceGates } from '../../lib/compliance';
import { loadStageConfig, type StageConfig } from '../../lib/config';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** The feature flags and settings committed in cdk.json, so tests synthesize what `cdk synth` does. */
export const CDK_CONTEXT = cdkJson.context;

export interface TestAppOptions {
  /** Run the cdk-nag packs. @default true */
  readonly compliance?: boolean;
  /** Bundle Lambda code with esbuild. Template tests skip it. @default false */
  readonly bundle?: boolean;
  readonly context?: Record<string, unknown>;
}

/** An App configured like `cdk synth`, without re-bundling Lambdas unless asked. */
export function testApp(options: TestAppOptions = {}): App {
  const app = new App({
    context: {
      ...CDK_CONTEXT,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
  if (options.compliance ?? true) addComplianceGates(app);
  return app;
}

export interface SynthesizedStage {
  readonly config: StageConfig;
  readonly stacks: CitadelStacks;
  readonly templates: { readonly [K in keyof CitadelStacks]: Template };
}

/**
 * Synthesizes one stage and returns its templates. The cdk-nag packs take three quarters of a stage's synthesis
 * and do not change a template, so they run only when asked (`compliance: true`); `test/lib/nag.test.ts` runs
 * them over every stage, as `npm run synth` does.
 */
export function synthStage(
  stage: string,
  overrides?: (base: StageConfig) => StageConfig,
  options: TestAppOptions = {},
): SynthesizedStage {
  const app = testApp({ ...options, compliance: options.compliance ?? false });
  const config = loadStageConfig(stage, { overrides });
  const stacks = createCitadel(app, config, { version: '1.2.3' });
  app.synth();
  const templates = Object.fromEntries(
    Object.entries(stacks).map(([name, stack]) => [name, Template.fromStack(stack)]),
  ) as SynthesizedStage['templates'];
  return { config, stacks, templates };
}
