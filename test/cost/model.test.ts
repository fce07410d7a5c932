/**
 * The cost model over a small hand-written template (`test/fixtures/cost/templates.json`) that holds one of every
 * priced type: each line is asserted to the cent from the price table, the free and not-priced resources are
 * listed, and each rule is shown to fail on the defect it exists to catch (a Multi-AZ instance billed once, a
 * standby billed for Database Insights, an unknown type silently dropped, a missing price counted as zero).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  type CfnTemplate,
  cronRunsPerWeek,
  type FixedCost,
  priceFixed,
  runsPerMonth,
} from '../../lib/cost/model';
import { missingPrices, PRICES, type PriceTable } from '../../lib/cost/prices';

const FIXTURE = JSON.parse(
  readFileSync(new URL('../fixtures/cost/templates.json', import.meta.url), 'utf8'),
) as Record<string, CfnTemplate>;

/** A deep copy of the fixture, changed by `edit`. */
function mutated(
  edit: (resources: Record<string, { Type: string; Properties: Record<string, unknown> }>) => void,
) {
  const copy = structuredClone(FIXTURE) as Record<
    string,
    { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }
  >;
  edit(copy['Citadel-fixture-Main']?.Resources ?? {});
  return copy as unknown as Record<string, CfnTemplate>;
}

/** Lines of `fixed` as `logical id: label → usd`, for exact comparison. */
const lines = (fixed: FixedCost): Record<string, number | null> =>
  Object.fromEntries(fixed.items.map((i) => [`${i.logicalId}: ${i.label}`, i.usd]));

/** Every priced line of the fixture, by hand from the price table (us-east-1, 730 hours a month). */
const EXPECTED: Record<string, number> = {
  // 730 h × 2 (primary and standby) × $0.065
  'DbA1B2C3D4: RDS db.t4g.medium instance-hours (Multi-AZ: primary and standby)': 94.9,
  // 40 GiB × $0.23 (the Multi-AZ gp3 rate)
  'DbA1B2C3D4: RDS gp3 storage, 40 GiB (Multi-AZ rate: both copies)': 9.2,
  // 2 vCPUs × 730 h × $0.0125, the primary only
  "DbA1B2C3D4: Database Insights advanced, 2 vCPUs (the primary's; the standby is not monitored)": 18.25,
  // 43,800 events × 10 KiB = 0.4177 GB × ($0.50 + $0.03)
  'DbA1B2C3D4: Enhanced Monitoring every 60 s (CloudWatch Logs, estimated)': 0.22,
  'DbA1B2C3D4: RDS automated backups, 7 days': 0,
  // max(2 vCPUs, minimum 2) × 730 h × $0.015
  'Proxy11112222: RDS Proxy, 2 vCPUs of db.t4g.medium (minimum 2)': 21.9,
  // 730 h × $0.0042 = 3.066
  'NatInstanceAAAABBBB: NAT instance t4g.nano instance-hours': 3.07,
  // 8 GiB (AMI default) × $0.08
  'NatInstanceAAAABBBB: NAT instance EBS gp3 volume, 8 GiB (AMI default)': 0.64,
  // 730 h × $0.005
  'NatInstanceAAAABBBB: NAT instance public IPv4 address': 3.65,
  // 7 metrics × $0.30
  'NatInstanceAAAABBBB: NAT instance detailed monitoring (7 metrics at 1 minute)': 2.1,
  'NatGatewayCCCCDDDD: NAT gateway-hours (data processing is usage)': 32.85,
  'NatEipEEEEFFFF: Elastic IP (public IPv4 address)': 3.65,
  // 2 AZs × 730 h × $0.01
  'SecretsEndpoint12345678: Interface endpoint secretsmanager in 2 AZs (data processing is usage)': 14.6,
  'WebAclABCDEF12: WAF web ACL': 5,
  'WebAclABCDEF12: WAF rules: 3 (2 managed rule groups, 1 own rule)': 3,
  'KeyFEDCBA98: KMS key: Fixture data': 1,
  'Secret0A0B0C0D: Secrets Manager secret': 0.4,
  'ErrorsAlarm1A2B3C4D: CloudWatch alarm, standard resolution': 0.1,
  // each metric of a metric-math alarm counts: 2 × $0.10
  'FailureRateAlarm5E6F7A8B: CloudWatch metric-math alarm (2 metrics), standard resolution': 0.2,
  'FastAlarm9C8D7E6F: CloudWatch alarm, high resolution': 0.3,
  'CriticalComposite0F1E2D3C: CloudWatch composite alarm': 0.5,
  "Dashboard4B5A6978: CloudWatch dashboard (the account's first three are free; not deducted)": 3,
  // 730 × 60 / 5 = 8,760 runs × $0.0012 = 10.512
  'HealthCanary13572468: Synthetics canary, rate(5 minutes) (its artifacts in S3 and its logs are usage)': 10.51,
  'CanaryArtifacts24681357: S3 bucket, empty at rest': 0,
  'MalwareFilter11223344: Custom metric MalwareFound (metric filter with a default value publishes continuously)': 0.3,
  // 730 × ($0.20 / 1e6 + 1 s × 0.5 GB × $0.0000133334) = 0.0050
  'SweepSchedule55667788: Scheduled Sweep99AABBCC invocations, rate(1 hour)': 0.01,
  // 26 dailies + 12 weeklies = 38 points; 40 GB × (1 + 0.02 × 37) = 69.6 GB-months × $0.095 = 6.612
  'BackupPlanDDEEFF00: AWS Backup warm storage: 38 retained RDS recovery points (Daily 26, Weekly 12) of 40 GB': 6.61,
};

describe('the fixed cost of the fixture', () => {
  const fixed = priceFixed(FIXTURE);

  it('prices every line to the cent from the price table', () => {
    expect(lines(fixed)).toEqual(EXPECTED);
  });

  it('totals the lines: $235.96 a month', () => {
    expect(fixed.monthlyFixedUsd).toBe(235.96);
    expect(fixed.monthlyFixedUsd).toBe(
      Math.round(Object.values(EXPECTED).reduce((a, b) => a + b, 0) * 100) / 100,
    );
    expect(fixed.lowerBound).toBe(false);
    expect(fixed.missingPrices).toEqual([]);
  });

  it('lists the free resources with their reason', () => {
    expect(Object.fromEntries(fixed.free.map((f) => [f.logicalId, f.type]))).toEqual({
      ProxyTargets33334444: 'AWS::RDS::DBProxyTargetGroup',
      S3Endpoint87654321: 'AWS::EC2::VPCEndpoint',
      Sweep99AABBCC: 'AWS::Lambda::Function',
      AlertsTopicCAFEBABE: 'AWS::SNS::Topic',
      BackupSelection0099AABB: 'AWS::Backup::BackupSelection',
      AlertsEmailDEADBEEF: 'AWS::SNS::Subscription',
      SlackChannel12ABCDEF: 'AWS::Chatbot::SlackChannelConfiguration',
      Logs0123ABCD: 'AWS::Logs::LogGroup',
      Role4567CDEF: 'AWS::IAM::Role',
    });
    for (const f of fixed.free) expect(f.reason.length).toBeGreaterThan(3);
  });

  it('reports the type it cannot price instead of dropping it', () => {
    expect(fixed.notPriced).toEqual([
      { stack: 'Citadel-fixture-Main', logicalId: 'Cache89ABCDEF', type: 'AWS::ElastiCache::CacheCluster' },
    ]);
  });
});

describe('each rule catches its defect', () => {
  /** The fixture with the database's properties changed by `props` (`undefined` deletes one). */
  const withDb = (props: Record<string, unknown>) =>
    mutated((r) => {
      const db = r.DbA1B2C3D4;
      if (!db) throw new Error('the fixture has no DbA1B2C3D4');
      db.Properties = { ...db.Properties, ...props };
      for (const [k, v] of Object.entries(props)) if (v === undefined) delete db.Properties[k];
    });

  it('bills a Multi-AZ instance twice and a Single-AZ one once: the factor is the flag, not a constant', () => {
    const single = lines(priceFixed(withDb({ MultiAZ: false })));
    expect(single['DbA1B2C3D4: RDS db.t4g.medium instance-hours']).toBe(47.45);
    expect(single['DbA1B2C3D4: RDS gp3 storage, 40 GiB']).toBe(4.6);
    // The doubled figure the fixture asserts is exactly twice the Single-AZ one: a model that ignored the flag (or
    // doubled every instance) would fail one of the two assertions.
    expect(EXPECTED['DbA1B2C3D4: RDS db.t4g.medium instance-hours (Multi-AZ: primary and standby)']).toBe(
      2 * 47.45,
    );
    // The exact expectation fails as soon as the flag is lost.
    expect(lines(priceFixed(withDb({ MultiAZ: undefined })))).not.toEqual(EXPECTED);
  });

  it('charges Database Insights per vCPU of the primary only, and the standard mode nothing', () => {
    const standard = lines(
      priceFixed(withDb({ DatabaseInsightsMode: 'standard', PerformanceInsightsRetentionPeriod: 7 })),
    );
    expect(standard['DbA1B2C3D4: Database Insights standard (Performance Insights, 7 days)']).toBe(0);
    expect(Object.keys(standard).some((k) => k.includes('advanced'))).toBe(false);
  });

  it('prices the proxy at its minimum of 2 vCPUs and follows the target class', () => {
    const edited = (cls: string) => lines(priceFixed(withDb({ DBInstanceClass: cls })));
    // r7g.xlarge has 4 vCPUs: the proxy doubles; its own instance price is missing from the table.
    expect(edited('db.r7g.xlarge')['Proxy11112222: RDS Proxy, 4 vCPUs of db.r7g.xlarge (minimum 2)']).toBe(
      43.8,
    );
    // A class the proxy cannot size is a price-missing line, never a silent $0.
    expect(edited('db.z9q.huge')['Proxy11112222: RDS Proxy (target instance class unknown)']).toBeNull();
  });

  it('a new resource type is reported as not priced until someone decides', () => {
    const fixed = priceFixed(
      mutated((r) => {
        r.Broker1234ABCD = { Type: 'AWS::AmazonMQ::Broker', Properties: {} };
      }),
    );
    expect(fixed.notPriced.map((n) => n.type)).toEqual([
      'AWS::ElastiCache::CacheCluster',
      'AWS::AmazonMQ::Broker',
    ]);
  });

  it('a missing price makes the line null and the total a lower bound, never zero', () => {
    const table = {
      ...PRICES,
      'rds.db.t4g.medium': { ...PRICES['rds.db.t4g.medium'], usd: null },
    } as PriceTable;
    const fixed = priceFixed(FIXTURE, table);
    expect(
      lines(fixed)['DbA1B2C3D4: RDS db.t4g.medium instance-hours (Multi-AZ: primary and standby)'],
    ).toBeNull();
    expect(fixed.lowerBound).toBe(true);
    expect(fixed.missingPrices).toEqual(['rds.db.t4g.medium']);
    expect(fixed.monthlyFixedUsd).toBe(Math.round((235.96 - 94.9) * 100) / 100);
  });

  it('an instance class the table does not have is a missing price, named', () => {
    expect(priceFixed(withDb({ DBInstanceClass: 'db.m7g.large' })).missingPrices).toEqual([
      'rds.db.m7g.large',
    ]);
  });
});

describe('schedules', () => {
  it('counts runs a month from rate() and runs a week from daily cron()', () => {
    expect(runsPerMonth('rate(5 minutes)')).toBe(8760);
    expect(runsPerMonth('rate(1 hour)')).toBe(730);
    expect(runsPerMonth('rate(0 minute)')).toBe(1);
    expect(runsPerMonth('cron(0 5 * * ? *)')).toBeUndefined();
    expect(cronRunsPerWeek('cron(0 5 ? * MON-SAT *)')).toBe(6);
    expect(cronRunsPerWeek('cron(0 6 ? * MON *)')).toBe(1);
    expect(cronRunsPerWeek('cron(0 5 * * ? *)')).toBe(7);
    expect(cronRunsPerWeek('cron(0/5 * * * ? *)')).toBeUndefined();
  });
});

describe('the price table', () => {
  it('cites an official page and evidence for every price, and says which it could not source', () => {
    for (const [id, p] of Object.entries(PRICES)) {
      expect([id, p.url]).toEqual([id, expect.stringMatching(/^https:\/\/aws\.amazon\.com\//)]);
      expect(p.evidence.length).toBeGreaterThan(20);
      expect([id, p.usd === null]).toEqual([id, p.confidence === 'missing']);
    }
    expect(missingPrices().sort()).toEqual([
      'backup.restoreTestingJob',
      'rds.db.r7g.large',
      'waf.bodyInspection16k',
    ]);
  });
});
