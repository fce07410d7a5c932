/**
 * The cost model over the real stages: every resource type of every stage is priced, free (with a reason) or on
 * the expected not-priced list; the prices each stage lacks are exactly the ones the table says it could not
 * source; and the egress comparison lines are exact (dev with a NAT gateway per AZ costs the NAT-instance lines
 * less and the NAT-gateway lines more, nothing else). Each check is shown to fail on its defect.
 */
import { describe, expect, it } from '@jest/globals';
import type { StageName } from '../../lib/config';
import { FREE_TYPES } from '../../lib/cost/free-types';
import {
  type CfnTemplate,
  cents,
  type FixedCost,
  HANDLERS,
  KNOWN_TYPES,
  priceFixed,
} from '../../lib/cost/model';
import { compare } from '../../lib/cost/report';
import { variantTemplates } from '../../lib/cost/synth';
import { ALL_STAGES, stageTemplates } from '../support/wiring/stages';

/** Types no handler prices and no entry calls free: decided, and reported by `npm run cost` as "not priced". */
const EXPECTED_NOT_PRICED: Record<StageName, string[]> = { dev: [], staging: [], prod: [] };

/** Prices each stage needs that the table could not source (`lib/cost/prices.ts`, confidence `missing`). */
const EXPECTED_MISSING: Record<StageName, string[]> = {
  dev: [],
  staging: [],
  prod: ['rds.db.r7g.large', 'backup.restoreTestingJob'],
};

/** Resource types of `templates` that are neither priced, nor free, nor expected to be unpriced. */
function unclassified(
  templates: Readonly<Record<string, CfnTemplate>>,
  expected: readonly string[],
): string[] {
  const types = new Set(
    Object.values(templates).flatMap((t) => Object.values(t.Resources).map((r) => r.Type)),
  );
  return [...types].filter((t) => !KNOWN_TYPES.has(t) && !expected.includes(t)).sort();
}

describe.each(ALL_STAGES)('%s', (stage) => {
  const { templates } = stageTemplates(stage);
  const fixed = priceFixed(templates);

  it('prices every resource type, lists it as free, or expects it to be unpriced', () => {
    expect(unclassified(templates, EXPECTED_NOT_PRICED[stage])).toEqual([]);
    expect([...new Set(fixed.notPriced.map((n) => n.type))].sort()).toEqual(EXPECTED_NOT_PRICED[stage]);
  });

  it('lacks exactly the prices the table could not source', () => {
    expect(fixed.missingPrices).toEqual(EXPECTED_MISSING[stage]);
    expect(fixed.lowerBound).toBe(EXPECTED_MISSING[stage].length > 0);
  });

  it('totals its lines', () => {
    expect(fixed.monthlyFixedUsd).toBe(cents(fixed.items.reduce((s, i) => s + (i.usd ?? 0), 0)));
    expect(fixed.monthlyFixedUsd).toBeGreaterThan(0);
  });
});

describe('classification catches a new type', () => {
  it('a type nobody has decided on fails the check', () => {
    const dev = stageTemplates('dev').templates;
    const withQueue = structuredClone(dev) as Record<string, { Resources: Record<string, unknown> }>;
    const api = Object.keys(withQueue).find((s) => s.endsWith('-Api')) ?? '';
    (withQueue[api] as { Resources: Record<string, unknown> }).Resources.Cluster = {
      Type: 'AWS::ElastiCache::ReplicationGroup',
      Properties: {},
    };
    const mutatedTemplates = withQueue as unknown as Record<string, CfnTemplate>;
    expect(unclassified(mutatedTemplates, EXPECTED_NOT_PRICED.dev)).toEqual([
      'AWS::ElastiCache::ReplicationGroup',
    ]);
    expect(priceFixed(mutatedTemplates).notPriced.map((n) => n.type)).toEqual([
      'AWS::ElastiCache::ReplicationGroup',
    ]);
  });

  it('knows the Observability stack types before that stack exists', () => {
    const observability = [
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::CompositeAlarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::Synthetics::Canary',
      'AWS::SNS::Topic',
      'AWS::SNS::Subscription',
      'AWS::SNS::TopicPolicy',
      'AWS::Chatbot::SlackChannelConfiguration',
      'AWS::Logs::MetricFilter',
      'AWS::Events::Rule',
      'AWS::S3::Bucket',
      'AWS::Lambda::Function',
      'AWS::IAM::Role',
    ];
    expect(observability.filter((t) => !KNOWN_TYPES.has(t))).toEqual([]);
    // Priced ones are priced, not waved through as free.
    for (const t of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::Dashboard', 'AWS::Synthetics::Canary']) {
      expect([t, HANDLERS[t] !== undefined, FREE_TYPES[t]]).toEqual([t, true, undefined]);
    }
  });
});

/**
 * What a switch to NAT gateways must change, and only that: the NAT instance's lines go, one NAT gateway and one
 * Elastic IP per AZ arrive, and the totals differ by exactly those lines.
 */
function natGatewaySwitchProblems(base: FixedCost, variant: FixedCost, azs: number): string[] {
  const problems: string[] = [];
  const diff = compare(base, variant, 'nat-gateway');
  const typeOf = (resource: string, label: string) =>
    [...base.items, ...variant.items].find((i) => i.resource === resource && i.label === label)?.type;
  const removedTypes = diff.removed.map((r) => typeOf(r.resource, r.label));
  const addedTypes = diff.added.map((a) => typeOf(a.resource, a.label));
  if (removedTypes.some((t) => t !== 'AWS::EC2::Instance'))
    problems.push(`removed more than the NAT instance: ${removedTypes}`);
  const count = (t: string) => addedTypes.filter((x) => x === t).length;
  if (count('AWS::EC2::NatGateway') !== azs)
    problems.push(`${count('AWS::EC2::NatGateway')} NAT gateways, not ${azs}`);
  if (count('AWS::EC2::EIP') !== azs) problems.push(`${count('AWS::EC2::EIP')} Elastic IPs, not ${azs}`);
  if (addedTypes.length !== 2 * azs) problems.push(`added other lines: ${[...addedTypes].sort()}`);
  const sum = (xs: ReadonlyArray<{ usd: number | null }>) => xs.reduce((s, x) => s + (x.usd ?? 0), 0);
  const expected = cents(base.monthlyFixedUsd - sum(diff.removed) + sum(diff.added));
  if (variant.monthlyFixedUsd !== expected)
    problems.push(`variant total ${variant.monthlyFixedUsd}, expected ${expected}`);
  return problems;
}

describe('comparison lines', () => {
  const dev = priceFixed(stageTemplates('dev').templates);
  const devNat = priceFixed(variantTemplates('dev', 'nat-gateway'));
  const azs = stageTemplates('dev').config.network.maxAzs;

  it('dev with NAT gateways costs the NAT-instance lines less and the NAT-gateway lines more', () => {
    expect(natGatewaySwitchProblems(dev, devNat, azs)).toEqual([]);
    const diff = compare(dev, devNat, 'nat-gateway');
    // 2 × (730 h × $0.045 + 730 h × $0.005) − (t4g.nano $3.07 + 8 GiB gp3 $0.64 + IPv4 $3.65 + monitoring $2.10)
    expect(cents(devNat.monthlyFixedUsd - dev.monthlyFixedUsd)).toBe(
      cents(2 * (32.85 + 3.65) - (3.07 + 0.64 + 3.65 + 2.1)),
    );
    expect(diff.ratio).toBe(Math.round((dev.monthlyFixedUsd / devNat.monthlyFixedUsd) * 1000) / 1000);
  });

  it('catches a variant that lost a NAT gateway or gained an unrelated line', () => {
    const variant = structuredClone(variantTemplates('dev', 'nat-gateway')) as Record<
      string,
      { Resources: Record<string, { Type: string }> }
    >;
    const network = Object.values(variant).find((t) =>
      Object.values(t.Resources).some((r) => r.Type === 'AWS::EC2::NatGateway'),
    );
    const gateway =
      Object.entries(network?.Resources ?? {}).find(([, r]) => r.Type === 'AWS::EC2::NatGateway')?.[0] ?? '';
    delete network?.Resources[gateway];
    expect(
      natGatewaySwitchProblems(dev, priceFixed(variant as unknown as Record<string, CfnTemplate>), azs),
    ).toEqual([
      `1 NAT gateways, not ${azs}`,
      'added other lines: AWS::EC2::EIP,AWS::EC2::EIP,AWS::EC2::NatGateway',
    ]);
    const extra = structuredClone(variantTemplates('dev', 'nat-gateway')) as Record<
      string,
      { Resources: Record<string, unknown> }
    >;
    (Object.values(extra)[0] as { Resources: Record<string, unknown> }).Resources.Extra = {
      Type: 'AWS::KMS::Key',
      Properties: {},
    };
    expect(
      natGatewaySwitchProblems(dev, priceFixed(extra as unknown as Record<string, CfnTemplate>), azs),
    ).toEqual([
      'added other lines: AWS::EC2::EIP,AWS::EC2::EIP,AWS::EC2::NatGateway,AWS::EC2::NatGateway,AWS::KMS::Key',
    ]);
  });

  it('dev with interface endpoints swaps the NAT instance for one endpoint per service per AZ', () => {
    const endpoints = priceFixed(variantTemplates('dev', 'endpoints'));
    const diff = compare(dev, endpoints, 'endpoints');
    expect(diff.removed.map((r) => r.resource)).toEqual(Array(4).fill('Network/VpcPublicSubnet1NatInstance'));
    expect(diff.added.map((a) => [a.label, a.usd])).toEqual([
      ['Interface endpoint secretsmanager in 2 AZs (data processing is usage)', 14.6],
      ['Interface endpoint lambda in 2 AZs (data processing is usage)', 14.6],
      ['Interface endpoint xray in 2 AZs (data processing is usage)', 14.6],
    ]);
  });

  it('prod: its endpoints and NAT gateways differ only in the network lines', () => {
    const prod = priceFixed(stageTemplates('prod').templates);
    const prodNat = priceFixed(variantTemplates('prod', 'nat-gateway'));
    const diff = compare(prod, prodNat, 'nat-gateway');
    expect(new Set(diff.removed.map((r) => r.label.replace(/ in 2 AZs.*/, '')))).toEqual(
      new Set([
        'Interface endpoint secretsmanager',
        'Interface endpoint lambda',
        'Interface endpoint xray',
        'Interface endpoint rds',
        'Interface endpoint backup',
      ]),
    );
    expect(diff.added.map((a) => a.label).sort()).toEqual([
      'Elastic IP (public IPv4 address)',
      'Elastic IP (public IPv4 address)',
      'NAT gateway-hours (data processing is usage)',
      'NAT gateway-hours (data processing is usage)',
    ]);
  });
});
