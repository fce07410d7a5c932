/**
 * `npm run cost [-- -c stage=prod] [--json]`: what a stage costs a month at idle, itemised by resource from its
 * synthesized templates, what traffic costs per unit, and what the same stage would cost with another egress
 * mode. Prints the breakdown and, as its last line, the report as one JSON object (`--json` prints only that).
 * Prices: `lib/cost/prices.ts` (us-east-1, dated, each with its source).
 */
import { parseArgs } from 'node:util';
import { loadStageConfig, STAGES, type StageName } from '../lib/config';
import { type FixedCost, priceFixed } from '../lib/cost/model';
import { buildReport, formatReport } from '../lib/cost/report';
import { type Egress, variantTemplates } from '../lib/cost/synth';
import { usageCosts } from '../lib/cost/usage';
import { contextArgs } from '../lib/tooling/context-args';
import { stageTemplates } from '../lib/tooling/synth';

const { values } = parseArgs({
  options: {
    context: { type: 'string', short: 'c', multiple: true },
    stage: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const context = contextArgs(values.context);
const stage = (values.stage ?? context.stage ?? 'dev') as StageName;
if (!(STAGES as readonly string[]).includes(stage)) {
  console.error(
    `cost: unknown stage "${stage}"; choose one of ${STAGES.join(', ')} (npm run cost -- -c stage=prod)`,
  );
  process.exit(1);
}

const config = loadStageConfig(stage);
const { templates } = stageTemplates(stage);
const fixed = priceFixed(templates);
const egress = config.network.egress;
const priceVariant = (mode: Egress): FixedCost => priceFixed(variantTemplates(stage, mode));
const natGateway = egress === 'nat-gateway' ? undefined : priceVariant('nat-gateway');
// Dev runs the cheapest egress; show what the no-internet design would cost it too.
const variants: Record<string, FixedCost> =
  stage === 'dev' && egress !== 'endpoints' ? { endpoints: priceVariant('endpoints') } : {};

// `npm run cost | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const report = buildReport({
  stage,
  egress,
  fixed,
  natGateway,
  variants,
  usage: usageCosts(templates, config),
});
if (!values.json) process.stdout.write(`${formatReport(report)}\n\n`);
process.stdout.write(`${JSON.stringify(report)}\n`);
