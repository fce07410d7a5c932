/**
 * The report `npm run cost` prints: the fixed monthly cost itemised by resource, the comparison lines (the same
 * stage with a NAT gateway per AZ, and for dev with interface endpoints), the per-unit usage figures, the free and
 * not-priced types, the missing prices and every assumption. `formatReport` renders it for people; the JSON line
 * is the report itself.
 */
import type { StageName } from '../config';
import { ASSUMPTIONS } from './assumptions';
import { cents, type FixedCost, type LineItem } from './model';
import { PRICE_REGION, PRICES, PRICES_READ_ON, type PriceId, type PriceTable } from './prices';
import type { Usage, UsageFigure } from './usage';

export interface Comparison {
  readonly egress: string;
  readonly monthlyFixedUsd: number;
  readonly lowerBound: boolean;
  /** This stage's fixed cost ÷ the variant's. */
  readonly ratio: number;
  /** Lines the variant has and this stage has not. */
  readonly added: ReadonlyArray<{
    readonly resource: string;
    readonly label: string;
    readonly usd: number | null;
  }>;
  /** Lines this stage has and the variant has not. */
  readonly removed: ReadonlyArray<{
    readonly resource: string;
    readonly label: string;
    readonly usd: number | null;
  }>;
}

export interface CostReport {
  readonly stage: StageName;
  readonly egress: string;
  readonly region: string;
  readonly currency: 'USD';
  readonly pricesReadOn: string;
  readonly monthlyFixedUsd: number;
  /** The fixed cost is at least `monthlyFixedUsd`: some lines have no price (see `missingPrices`). */
  readonly monthlyFixedIsLowerBound: boolean;
  readonly missingPrices: ReadonlyArray<{ readonly id: string; readonly why: string }>;
  readonly items: readonly LineItem[];
  readonly top: ReadonlyArray<{ readonly resource: string; readonly label: string; readonly usd: number }>;
  readonly free: ReadonlyArray<{ readonly type: string; readonly count: number; readonly reason: string }>;
  /** Resource types in the templates that are neither priced nor known to be free. */
  readonly notPriced: readonly string[];
  /** Fixed cost ÷ the same stage's with `network.egress: nat-gateway` (1 for a stage that already uses it). */
  readonly vsNatGateway: number;
  readonly comparisons: Readonly<Record<string, Comparison>>;
  readonly usage: Usage;
  readonly assumptions: readonly string[];
}

const key = (i: LineItem): string => `${i.resource}/${i.label}`;

/** How `variant` differs from `base`, line by line. */
export function compare(base: FixedCost, variant: FixedCost, egress: string): Comparison {
  const baseKeys = new Set(base.items.map(key));
  const variantKeys = new Set(variant.items.map(key));
  return {
    egress,
    monthlyFixedUsd: variant.monthlyFixedUsd,
    lowerBound: variant.lowerBound,
    ratio: ratio(base.monthlyFixedUsd, variant.monthlyFixedUsd),
    added: variant.items
      .filter((i) => !baseKeys.has(key(i)))
      .map(({ resource, label, usd }) => ({ resource, label, usd })),
    removed: base.items
      .filter((i) => !variantKeys.has(key(i)))
      .map(({ resource, label, usd }) => ({ resource, label, usd })),
  };
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : Math.round((a / b) * 1000) / 1000);

export interface ReportInput {
  readonly stage: StageName;
  readonly egress: string;
  readonly fixed: FixedCost;
  /** The same stage priced with `nat-gateway` egress; omit when the stage already uses it. */
  readonly natGateway?: FixedCost;
  /** Further variants to compare with, by egress mode (dev: `endpoints`). */
  readonly variants?: Readonly<Record<string, FixedCost>>;
  readonly usage: Usage;
  readonly prices?: PriceTable;
}

export function buildReport(input: ReportInput): CostReport {
  const { fixed } = input;
  const prices = input.prices ?? PRICES;
  const comparisons: Record<string, Comparison> = {};
  if (input.natGateway) comparisons['nat-gateway'] = compare(fixed, input.natGateway, 'nat-gateway');
  for (const [egress, variant] of Object.entries(input.variants ?? {})) {
    comparisons[egress] = compare(fixed, variant, egress);
  }
  const free = new Map<string, { type: string; count: number; reason: string }>();
  for (const f of fixed.free) {
    const entry = free.get(f.type) ?? { type: f.type, count: 0, reason: f.reason };
    entry.count += 1;
    free.set(f.type, entry);
  }
  return {
    stage: input.stage,
    egress: input.egress,
    region: PRICE_REGION,
    currency: 'USD',
    pricesReadOn: PRICES_READ_ON,
    monthlyFixedUsd: fixed.monthlyFixedUsd,
    monthlyFixedIsLowerBound: fixed.lowerBound,
    missingPrices: fixed.missingPrices.map((id) => ({
      id,
      why: (prices[id as PriceId]?.evidence as string | undefined) ?? 'no entry in the price table',
    })),
    items: fixed.items,
    top: [...fixed.items]
      .filter((i): i is LineItem & { usd: number } => i.usd !== null && i.usd > 0)
      .sort((a, b) => b.usd - a.usd)
      .slice(0, 5)
      .map(({ resource, label, usd }) => ({ resource, label, usd })),
    free: [...free.values()].sort((a, b) => a.type.localeCompare(b.type)),
    notPriced: [...new Set(fixed.notPriced.map((n) => n.type))].sort(),
    vsNatGateway: input.natGateway ? (comparisons['nat-gateway']?.ratio ?? 1) : 1,
    comparisons,
    usage: input.usage,
    assumptions: [
      ...(fixed.items.some((i) => i.label.includes('AMI default')) ? [ASSUMPTIONS.rootVolumeGiB.text] : []),
      ...(fixed.items.some((i) => i.label.includes('detailed monitoring'))
        ? [ASSUMPTIONS.detailedMonitoringMetrics.text]
        : []),
      ...(fixed.items.some((i) => i.label.startsWith('Enhanced Monitoring'))
        ? [ASSUMPTIONS.enhancedMonitoringKiB.text]
        : []),
      ...(fixed.items.some((i) => i.label.startsWith('Scheduled'))
        ? [ASSUMPTIONS.scheduledInvocationSeconds.text]
        : []),
      ...(fixed.items.some((i) => i.label.startsWith('AWS Backup'))
        ? [ASSUMPTIONS.backupDailyChange.text, ASSUMPTIONS.databaseFill.text]
        : []),
      ...(fixed.items.some((i) => i.label.startsWith('Restore tests'))
        ? [ASSUMPTIONS.restoreHours.text]
        : []),
      'Account-level free tiers (alarms, dashboards, logs, KMS requests, Lambda, Cognito MAUs) are not deducted: the account may run other workloads.',
      'Log storage is priced at its retention (config observability.logRetentionDays); log groups themselves cost nothing.',
      ...input.usage.assumptions,
    ],
  };
}

const usd = (n: number | null, width = 10): string =>
  (n === null
    ? 'missing'
    : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`
  ).padStart(width);

const usd4 = (n: number): string =>
  `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;

function figure(f: UsageFigure): string[] {
  return [
    `  ${f.per}: ${usd4(f.usd)}${f.lowerBound ? ' or more (a price is missing)' : ''}`,
    ...f.lines
      .filter((l) => l.usd !== 0 || l.basis !== '')
      .map((l) => `      ${l.usd === null ? 'missing' : usd4(l.usd)}  ${l.label} (${l.basis})`),
  ];
}

/** The report as text for a terminal. */
export function formatReport(r: CostReport): string {
  const out: string[] = [];
  const bound = r.monthlyFixedIsLowerBound ? ' or more' : '';
  out.push(
    `Citadel ${r.stage} (egress ${r.egress}): fixed cost ${usd(r.monthlyFixedUsd, 0)} a month${bound} at idle`,
    `Prices: ${r.region}, on-demand, read ${r.pricesReadOn} (lib/cost/prices.ts cites each one)`,
    '',
    'Fixed monthly cost by resource',
  );
  const byStack = new Map<string, LineItem[]>();
  for (const i of r.items) byStack.set(i.stack, [...(byStack.get(i.stack) ?? []), i]);
  for (const [stack, items] of byStack) {
    const subtotal = cents(items.reduce((s, i) => s + (i.usd ?? 0), 0));
    out.push(`  ${stack}${usd(subtotal, 60 - stack.length)}`);
    for (const i of items)
      out.push(
        `    ${usd(i.usd)}  ${i.resource.replace(/^[^/]+\//, '').padEnd(28)} ${i.label}  [${i.basis}]`,
      );
  }
  out.push(`  ${'Total'.padEnd(50)}${usd(r.monthlyFixedUsd, 12)}${bound}`, '');
  if (r.missingPrices.length > 0) {
    out.push('Prices missing (those lines are not in the total):');
    for (const m of r.missingPrices) out.push(`  ${m.id}: ${m.why}`);
    out.push('');
  }
  out.push('Top five fixed items');
  for (const t of r.top) out.push(`  ${usd(t.usd)}  ${t.resource.padEnd(30)} ${t.label}`);
  out.push('', 'Comparison');
  out.push(`  vsNatGateway: ${r.vsNatGateway} (this stage ÷ the same stage with a NAT gateway per AZ)`);
  for (const c of Object.values(r.comparisons)) {
    out.push(
      `  with egress ${c.egress}: ${usd(c.monthlyFixedUsd, 0)}${c.lowerBound ? ' or more' : ''} (this stage is ${c.ratio}× that)`,
    );
    for (const a of c.added) out.push(`      + ${usd(a.usd)}  ${a.resource.padEnd(30)} ${a.label}`);
    for (const a of c.removed) out.push(`      - ${usd(a.usd)}  ${a.resource.padEnd(30)} ${a.label}`);
  }
  out.push('', 'Usage-driven costs (per unit)');
  out.push(...figure(r.usage.perMillionApiRequests));
  out.push(...figure(r.usage.perMonthlyActiveUser));
  for (const u of r.usage.uploads) {
    out.push(
      `  ${u.per}: ${usd4(u.usd)} per GB, ${usd4(u.usdPerUpload)} per upload (${u.parts} parts of ${u.partSizeBytes / 2 ** 20} MiB)`,
    );
  }
  const oneGib = r.usage.uploads.find((u) => u.sizeBytes === 2 ** 30 && !u.sha256Declared);
  if (oneGib) out.push('    breakdown for the 1 GiB upload:', ...figure(oneGib).slice(1));
  out.push(...figure(r.usage.perGbMonthStored));
  out.push(...figure(r.usage.perGbDeletedOrOverwritten));
  out.push(...figure(r.usage.perGbQuarantined));
  out.push(...figure(r.usage.perGbEgress));
  out.push('', `Free (${r.free.reduce((s, f) => s + f.count, 0)} resources)`);
  for (const f of r.free) out.push(`  ${String(f.count).padStart(3)} × ${f.type}: ${f.reason}`);
  out.push(
    '',
    `Not priced: ${r.notPriced.length === 0 ? 'none' : r.notPriced.join(', ')}`,
    '',
    'Assumptions',
  );
  for (const a of r.assumptions) out.push(`  - ${a}`);
  return out.join('\n');
}
