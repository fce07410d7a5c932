/**
 * The alarm table of a stage, read from its synthesized Observability template (what CloudFormation will create,
 * not what the code meant to create): name, metric or expression, threshold, period, evaluation, severity, action
 * and runbook section of every alarm.
 *
 *   npm run alarms                      the dev stage's table
 *   npm run alarms -- -c stage=prod     another stage's
 *   npm run alarms -- --write           regenerate docs/alarms.md (prod)
 *   npm run alarms -- --check           exit 1 when docs/alarms.md is stale (a test does the same)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DESCRIPTION_FORMAT } from '../lib/constructs/monitoring/alarm-catalog';
import { contextArgs } from '../lib/tooling/context-args';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Where the prod table is committed. */
export const ALARMS_FILE = path.join(ROOT, 'docs/alarms.md');
/** The stage `docs/alarms.md` documents. */
export const DOCUMENTED_STAGE = 'prod';

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export interface Template {
  readonly Resources: Readonly<Record<string, Resource>>;
}

interface MetricQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly ReturnData?: boolean;
  readonly MetricStat?: {
    readonly Metric: Record<string, unknown>;
    readonly Stat: string;
    readonly Period?: number;
  };
}

/** One row of the table. */
export interface AlarmRow {
  readonly name: string;
  readonly severity: string;
  readonly summary: string;
  readonly metric: string;
  readonly threshold: string;
  readonly period: string;
  readonly evaluation: string;
  readonly action: string;
  readonly runbook: string;
}

/** A CloudFormation value as a person reads it: literals as they are, references by what they point at. */
export function show(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map(show).join(', ');
  if (value && typeof value === 'object') {
    const [key, arg] = Object.entries(value)[0] ?? [];
    if (key === 'Ref') return String(arg).startsWith('AWS::') ? `\${${String(arg)}}` : `<${String(arg)}>`;
    if (key === 'Fn::GetAtt') return `<${(arg as string[]).join('.')}>`;
    if (key === 'Fn::Join')
      return ((arg as [string, unknown[]])[1] ?? []).map(show).join((arg as [string])[0]);
    if (key === 'Fn::ImportValue') {
      // `Citadel-prod-Api:ExportsOutputRefScanPipeline…`: the exporting stack, then what it exports.
      const name = show(arg);
      const m = /^(Citadel-[a-z]+-[A-Za-z]+):ExportsOutput(?:Ref|FnGetAtt)(.+)$/.exec(name);
      return m ? `<${m[1]}:${m[2]}>` : `<${name}>`;
    }
  }
  return JSON.stringify(value);
}

function showMetric(metric: Record<string, unknown>, stat: unknown): string {
  const dims = ((metric.Dimensions as Array<{ Name: string; Value: unknown }>) ?? [])
    .map((d) => `${d.Name}=${show(d.Value)}`)
    .join(', ');
  return `${show(metric.Namespace)} ${show(metric.MetricName)} ${show(stat)}${dims ? ` {${dims}}` : ''}`;
}

const OPERATORS: Record<string, string> = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '≥',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

function showPeriod(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  return seconds % 3600 === 0
    ? `${seconds / 3600} h`
    : seconds % 60 === 0
      ? `${seconds / 60} min`
      : `${seconds} s`;
}

/** Which topic a list of actions points at: the page (critical) or the ticket (warning) topic. */
function showActions(actions: unknown, template: Template): string {
  const refs = ((actions as unknown[]) ?? []).map((a) => (a as { Ref?: string }).Ref);
  return refs
    .map((ref) => {
      const topic = ref ? template.Resources[ref] : undefined;
      const name = String(topic?.Properties?.DisplayName ?? '');
      return name.endsWith(': page')
        ? 'page (critical topic)'
        : name.endsWith(': ticket')
          ? 'ticket (warning topic)'
          : show({ Ref: ref });
    })
    .join(' + ');
}

function meaning(description: unknown, name: string): { severity: string; summary: string; runbook: string } {
  const m = DESCRIPTION_FORMAT.exec(String(description ?? ''));
  if (!m) throw new Error(`alarm ${name} has no "[severity] … Runbook: docs/runbooks.md#…" description`);
  return { severity: m[1] as string, summary: m[2] as string, runbook: m[3] as string };
}

/** Every alarm of an Observability template: the composite first, then critical, then warning, by name. */
export function alarmRows(template: Template): AlarmRow[] {
  const rows: AlarmRow[] = [];
  for (const resource of Object.values(template.Resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::CloudWatch::CompositeAlarm') {
      const name = show(p.AlarmName);
      const members = (JSON.stringify(p.AlarmRule).match(/ALARM\(/g) ?? []).length;
      rows.push({
        name,
        ...meaning(p.AlarmDescription, name),
        metric: `any of the ${members} critical alarms in ALARM`,
        threshold: '',
        period: '',
        evaluation: '',
        action: showActions(p.AlarmActions, template),
      });
    }
    if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
    const name = show(p.AlarmName);
    let metric: string;
    let period: number | undefined;
    if (p.Metrics) {
      const queries = p.Metrics as MetricQuery[];
      const returned = queries.find((q) => q.ReturnData !== false);
      const stats = queries.flatMap((q) => (q.MetricStat ? [{ id: q.Id, ...q.MetricStat }] : []));
      const inputs = stats.map((q) => `${q.id} = ${showMetric(q.Metric, q.Stat)}`);
      period = stats[0]?.Period;
      metric = returned?.Expression
        ? `\`${returned.Expression}\` where ${inputs.join('; ')}`
        : inputs.join('; ');
    } else {
      metric = showMetric(p, p.ExtendedStatistic ?? p.Statistic);
      period = p.Period as number;
    }
    const missing = String(p.TreatMissingData ?? 'missing');
    rows.push({
      name,
      ...meaning(p.AlarmDescription, name),
      metric,
      threshold: `${OPERATORS[String(p.ComparisonOperator)] ?? p.ComparisonOperator} ${show(p.Threshold)}`,
      period: showPeriod(period),
      evaluation: `${show(p.DatapointsToAlarm ?? p.EvaluationPeriods)} of ${show(p.EvaluationPeriods)}${missing === 'missing' ? '' : `; no data: ${missing}`}`,
      action: showActions(p.AlarmActions, template),
    });
  }
  const rank = (r: AlarmRow) => (r.metric.startsWith('any of') ? 0 : r.severity === 'critical' ? 1 : 2);
  return rows.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table as Markdown, with a count line. */
export function renderAlarmTable(template: Template, stage: string): string {
  const rows = alarmRows(template);
  const critical = rows.filter((r) => r.severity === 'critical').length;
  const lines = [
    `${rows.length} alarms in ${stage}: ${critical} critical, ${rows.length - critical} warning. Only the composite pages; every other alarm files a ticket.`,
    '',
    '| Alarm | Severity | Fires when | Metric or expression | Threshold | Period | Evaluation | Action | Runbook |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(r.name)} | ${r.severity} | ${cell(r.summary)} | ${cell(r.metric)} | ${cell(r.threshold)} | ${r.period} | ${r.evaluation} | ${r.action} | [${r.runbook}](runbooks.md#${r.runbook}) |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** docs/alarms.md: the prod table with its heading. */
export function renderAlarmsDocument(template: Template): string {
  return [
    '# Alarms (prod)',
    '',
    'Generated by `npm run alarms -- --write` from the synthesized `Citadel-prod-Observability` template; do not edit.',
    "`npm run alarms -- -c stage=<stage>` prints another stage's. Thresholds, guards and why: `docs/decisions.md` (On-call).",
    'References to other stacks read `<Stack:LogicalId>`.',
    '',
    renderAlarmTable(template, DOCUMENTED_STAGE),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      context: { type: 'string', short: 'c', multiple: true },
      write: { type: 'boolean' },
      check: { type: 'boolean' },
    },
  });
  const context = contextArgs(values.context);
  const stage = values.write || values.check ? DOCUMENTED_STAGE : (context.stage ?? 'dev');
  const { stageTemplates } = await import('../lib/tooling/synth');
  const { STAGES } = await import('../lib/config');
  if (!(STAGES as readonly string[]).includes(stage)) {
    console.error(`alarms: unknown stage "${stage}"; choose from ${STAGES.join(', ')}`);
    process.exit(1);
  }
  const { templates, stackNames } = stageTemplates(stage as (typeof STAGES)[number]);
  const template = templates[stackNames.Observability as string] as unknown as Template;
  if (values.write || values.check) {
    const expected = renderAlarmsDocument(template);
    if (values.check) {
      const actual = readFileSync(ALARMS_FILE, 'utf8');
      if (actual !== expected) {
        console.error('alarms: docs/alarms.md is stale; run `npm run alarms -- --write` and commit it.');
        process.exit(1);
      }
      console.log('alarms: docs/alarms.md is up to date');
      return;
    }
    writeFileSync(ALARMS_FILE, expected);
    console.log(`alarms: wrote ${path.relative(ROOT, ALARMS_FILE)}`);
    return;
  }
  process.stdout.write(renderAlarmTable(template, stage));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
