/**
 * The synthesized CloudFormation templates of a whole stage, for the wiring suites (IAM, reachability, deploy
 * order, WAF, cfn-lint). Synthesis takes seconds per stage and every suite wants all three stages, so the
 * templates are cached on disk, keyed by a hash of everything that shapes them (`lib/tooling/synth.ts`): the first
 * suite to ask synthesizes, the others read JSON.
 *
 * Lambda code is not bundled (template tests never need it); the cdk-nag packs are not run (they only
 * validate, and `npm run synth` and the stack tests run them).
 */
import type { StageName } from '../../../lib/config';

export {
  type CfnResource,
  type CfnTemplate,
  type StageTemplates,
  stageTemplates,
} from '../../../lib/tooling/synth';

/** Every stage, for `describe.each`. */
export const ALL_STAGES: readonly StageName[] = ['dev', 'staging', 'prod'];
