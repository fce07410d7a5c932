/**
 * `npm run alarms`: the table is read from the synthesized template, every alarm of every stage has a row with its
 * severity, action and runbook, and docs/alarms.md is the prod table (the drift check, as for docs/openapi.yaml).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { ALARMS_FILE, alarmRows, renderAlarmsDocument, show, type Template } from '../../scripts/alarms';
import { ALL_STAGES, stageTemplates } from '../support/wiring/stages';

type Mutable = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/** The first resource matching `test` (the template has it: the suite fails loudly otherwise). */
function find(t: Mutable, test: (r: Mutable['Resources'][string]) => boolean) {
  const found = Object.values(t.Resources).find(test);
  if (!found) throw new Error('no such resource');
  return found;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

function observability(stage: (typeof ALL_STAGES)[number]): Template {
  const { templates, stackNames } = stageTemplates(stage);
  return templates[stackNames.Observability as string] as unknown as Template;
}

describe('the alarm table', () => {
  it.each(ALL_STAGES)(
    '%s: one row per alarm, the composite first, each with severity, action and runbook',
    (stage) => {
      const template = observability(stage);
      const alarms = Object.values(template.Resources).filter((r) => r.Type.startsWith('AWS::CloudWatch::'));
      const rows = alarmRows(template);
      expect(rows).toHaveLength(alarms.filter((r) => r.Type !== 'AWS::CloudWatch::Dashboard').length);
      expect(rows[0]).toMatchObject({ name: `Citadel ${stage} unhealthy`, action: 'page (critical topic)' });
      for (const row of rows.slice(1)) {
        expect(row.action).toBe('ticket (warning topic)');
        expect(['critical', 'warning']).toContain(row.severity);
        expect(row.runbook).toMatch(/^[a-z0-9-]+$/);
        expect(row.threshold).toMatch(/^[<>≤≥] \d/);
        expect(row.period).toMatch(/^\d+ (min|h)$/);
      }
    },
  );

  it('shows references by what they point at', () => {
    expect(show({ 'Fn::ImportValue': 'Citadel-prod-Api:ExportsOutputRefScanPipeline6D17D7F1A0B1C2D3' })).toBe(
      '<Citadel-prod-Api:ScanPipeline6D17D7F1A0B1C2D3>',
    );
    expect(show({ 'Fn::Join': ['', ['a-', { Ref: 'AWS::Region' }]] })).toBe(`a-$\{AWS::Region}`);
  });

  it('refuses an alarm without a severity and runbook in its description', () => {
    const template = structuredClone(observability('dev')) as unknown as Mutable;
    const alarm = find(template, (r) => r.Type === 'AWS::CloudWatch::Alarm');
    alarm.Properties.AlarmDescription = 'Errors are high.';
    expect(() => alarmRows(template as unknown as Template)).toThrow(/has no "\[severity\] … Runbook/);
  });
});

describe('docs/alarms.md', () => {
  it('is the prod table, regenerated (npm run alarms -- --write)', () => {
    expect(readFileSync(ALARMS_FILE, 'utf8')).toBe(renderAlarmsDocument(observability('prod')));
  });

  it('goes stale when an alarm changes, and the check says so', async () => {
    const changed = structuredClone(observability('prod')) as unknown as Mutable;
    const alarm = find(
      changed,
      (r) => r.Properties.AlarmName === 'Citadel-prod-PublicApi-Fault-Rate-Critical',
    );
    alarm.Properties.Threshold = 0.1;
    expect(renderAlarmsDocument(changed as unknown as Template)).not.toBe(readFileSync(ALARMS_FILE, 'utf8'));
    // The real command on the committed file passes (the same templates, from the shared cache).
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/alarms.ts', '--check'],
      {
        cwd: ROOT,
      },
    );
    expect(stdout).toContain('docs/alarms.md is up to date');
  }, 120_000);
});
