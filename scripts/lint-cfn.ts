/**
 * `npm run lint:cfn [-- --stage prod]`: synthesizes every stage (no bundling, no cdk-nag: they do not change the
 * templates) and runs cfn-lint over every template. Exits 1 on any error, 2 when cfn-lint is not installed.
 * Warnings are printed; rules ignored on purpose are listed with their reasons in `.cfnlintrc.yaml`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { STAGES, type StageName } from '../lib/config';
import { stageTemplates } from '../lib/tooling/synth';
import { type CfnLintFinding, cfnLint, cfnLintVersion, INSTALL_HINT, ROOT, writeTemplates } from './cfn-lint';

const { values } = parseArgs({ options: { stage: { type: 'string', multiple: true } } });
const stages = (values.stage ?? [...STAGES]) as StageName[];
for (const stage of stages) {
  if (!(STAGES as readonly string[]).includes(stage)) {
    console.error(`lint:cfn: unknown stage "${stage}"; choose from ${STAGES.join(', ')}`);
    process.exit(1);
  }
}

const version = await cfnLintVersion();
if (!version) {
  console.error(`lint:cfn: cfn-lint is not on PATH; ${INSTALL_HINT}.`);
  process.exit(2);
}

const files = stages.flatMap((stage) =>
  writeTemplates(path.join(ROOT, 'cdk.out', 'lint', stage), stageTemplates(stage).templates),
);
const findings: CfnLintFinding[] = await cfnLint(files);
const errors = findings.filter((f) => f.level === 'Error');
for (const f of findings)
  console.log(`${f.level.padEnd(7)} ${f.rule.padEnd(6)} ${f.file}:${f.line}  ${f.message}`);
console.log(
  `lint:cfn (${version}): ${files.length} templates of ${stages.join(', ')}: ${errors.length} errors, ${findings.length - errors.length} warnings`,
);
console.log(
  JSON.stringify({
    stages,
    templates: files.length,
    errors: errors.length,
    warnings: findings.length - errors.length,
  }),
);
process.exit(errors.length === 0 ? 0 : 1);
