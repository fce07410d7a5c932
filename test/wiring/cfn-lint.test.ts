/**
 * cfn-lint over every template of every stage (`scripts/cfn-lint.ts`, configured by `.cfnlintrc.yaml`): no error
 * and no warning that the configuration does not ignore with a reason. It also shows the lint catches the two
 * template defects it was brought in for: `Fn::GetStackOutput` inside `Fn::Split` (weak cross-stack references
 * split into ARNs) and a `Tags` property a resource type does not have.
 *
 * cfn-lint is a Python tool (preinstalled on the CI image). Without it the suite says so and how to install it;
 * with `CITADEL_REQUIRE_CFN_LINT=1` (set by `.ci/run`) a missing cfn-lint fails the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type CfnLintFinding,
  cfnLint,
  cfnLintVersion,
  INSTALL_HINT,
  writeTemplates,
} from '../../scripts/cfn-lint';
import { ALL_STAGES, type CfnTemplate, stageTemplates } from '../support/wiring/stages';

const version = await cfnLintVersion();
const required = process.env.CITADEL_REQUIRE_CFN_LINT === '1';

if (!version) {
  describe('cfn-lint', () => {
    it(
      required ? 'is installed (CITADEL_REQUIRE_CFN_LINT=1)' : 'is not installed: these checks were skipped',
      () => {
        const reason = `cfn-lint is not on PATH; ${INSTALL_HINT}`;
        console.warn(`SKIPPED test/wiring/cfn-lint.test.ts: ${reason}`);
        expect(required ? reason : 'skipped').toBe('skipped');
      },
    );
  });
} else {
  describe(`cfn-lint (${version})`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'citadel-cfn-lint-'));
    let files: string[] = [];
    let findings: CfnLintFinding[] = [];

    /** A copy of staging's Data stack with both defects put back, linted in the same run as the real templates. */
    function withDefects(): CfnTemplate {
      const { templates, stackNames } = stageTemplates('staging');
      const data = structuredClone(templates[stackNames.Data as string]) as CfnTemplate;
      const resources = data.Resources as Record<
        string,
        { Type: string; Properties: Record<string, unknown> }
      >;
      const [group] = Object.values(resources).filter((r) => r.Type === 'AWS::RDS::DBProxyTargetGroup');
      (group as { Properties: Record<string, unknown> }).Properties.Tags = [
        { Key: 'Project', Value: 'Citadel' },
      ];
      const weak = { 'Fn::GetStackOutput': { StackName: 'Citadel-staging-Network', OutputName: 'VpcArn' } };
      resources.WeakSplit = {
        Type: 'AWS::SSM::Parameter',
        Properties: { Type: 'String', Value: { 'Fn::Select': [1, { 'Fn::Split': [':', weak] }] } },
      };
      return data;
    }

    // One cfn-lint run (its start-up dominates): every real template, plus the defect copy in its own directory.
    beforeAll(async () => {
      files = ALL_STAGES.flatMap((stage) =>
        writeTemplates(path.join(dir, stage), stageTemplates(stage).templates),
      );
      const defects = writeTemplates(path.join(dir, 'defects'), { 'Citadel-staging-Data': withDefects() });
      findings = await cfnLint([...files, ...defects]);
    }, 300_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('finds no error and no unignored warning in any template of any stage', () => {
      expect(files).toHaveLength(18);
      const real = findings.filter((f) => !f.file.includes(`${path.sep}defects${path.sep}`));
      expect(real.map((f) => `${f.level} ${f.rule} ${f.file}:${f.line} ${f.message}`)).toEqual([]);
    });

    it('catches Fn::GetStackOutput inside Fn::Split, and Tags on a resource type without them', () => {
      const errors = findings
        .filter((f) => f.file.includes(`${path.sep}defects${path.sep}`) && f.level === 'Error')
        .map((f) => `${f.rule} ${f.message}`);
      expect(errors).toContainEqual(expect.stringMatching(/^E3002 .*'Tags' was unexpected/));
      expect(errors).toContainEqual(expect.stringMatching(/^E10(17|22) .*Fn::GetStackOutput/));
    });
  });
}
