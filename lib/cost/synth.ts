/**
 * Templates of a stage synthesized with another egress mode, for the comparison lines of `npm run cost` (what the
 * same stage would cost with a NAT gateway per AZ, or with interface endpoints). Synthesis takes seconds, so the
 * templates are cached on disk (`lib/tooling/synth.ts`, which the wiring suites use for the stage as configured).
 * The egress override is applied after the config is
 * validated: the schema refuses some of these what-ifs for deployment (prod must use `endpoints`), and a price
 * comparison is not a deployment.
 */
import { loadStageConfig, type StageConfig, type StageName } from '../config';
import { cachedOnDisk, synthesizeTemplates } from '../tooling/synth';
import type { CfnTemplate } from './model';

export type Egress = StageConfig['network']['egress'];

/** The templates of `stage` with `network.egress` set to `egress` (cached on disk per change of the sources). */
export function variantTemplates(stage: StageName, egress: Egress): Record<string, CfnTemplate> {
  return cachedOnDisk(`cost-${stage}-${egress}`, () => {
    // Applied after validation on purpose: this is a what-if for pricing, and the schema rightly refuses some of
    // them for deployment (prod must use `endpoints`).
    const base = loadStageConfig(stage);
    const config: StageConfig = { ...base, network: { ...base.network, egress } };
    return synthesizeTemplates(config).templates as Record<string, CfnTemplate>;
  });
}
