/**
 * The alarms' metric math, evaluated as CloudWatch would on traffic stated the way it happens ("100 requests, 6 of
 * them 5xx"): each rate alarm trips exactly at its seed threshold, computed as a rate, and never below its
 * minimum-traffic guard. The expressions are the synthesized ones (prod, and every stage for the API alarms),
 * run by `test/support/metric-math.ts`; a mutated alarm that counts instead of dividing is shown to fail the same
 * checks.
 */
import { describe, expect, it } from '@jest/globals';
import {
  type CfnAlarmProperties,
  type CfnMetricQuery,
  evaluateAlarm,
  type MetricRef,
  type Observations,
  parse,
  statistic,
} from '../support/metric-math';
import { ALL_STAGES, type CfnResource, stageTemplates } from '../support/wiring/stages';

type Alarm = Omit<CfnResource, 'Properties'> & { Properties: CfnAlarmProperties };

function alarms(stage: (typeof ALL_STAGES)[number]): Alarm[] {
  const { templates, stackNames } = stageTemplates(stage);
  const template = templates[stackNames.Observability as string];
  if (!template) throw new Error(`no Observability template for ${stage}`);
  return Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::CloudWatch::Alarm',
  ) as unknown as Alarm[];
}

function alarm(stage: (typeof ALL_STAGES)[number], name: string): Alarm {
  const found = alarms(stage).find((a) => a.Properties.AlarmName === `Citadel-${stage}-${name}`);
  if (!found) throw new Error(`no alarm Citadel-${stage}-${name}`);
  return found;
}

/** `n` observations of `value`. */
const times = (n: number, value: number): number[] => Array.from({ length: n }, () => value);
/** `ones` observations of 1 and `zeros` of 0, e.g. 6 errors in 100 requests = of(6, 94). */
const of = (ones: number, zeros: number): number[] => [...times(ones, 1), ...times(zeros, 0)];

/** The same observations of each metric (by name, optionally by one dimension value) in every period. */
function steady(byName: Record<string, number[]>, periods: number): Observations {
  return (metric: MetricRef) => {
    const key = [
      metric.metricName,
      ...Object.values(metric.dimensions).filter((v) => typeof v === 'string'),
    ].find((k) => byName[k as string] !== undefined);
    const values = key === undefined ? undefined : byName[key as string];
    return values === undefined ? undefined : times(periods, 0).map(() => values);
  };
}

/** State of the alarm after `periods` periods of steady traffic. */
function stateOf(a: Alarm, byName: Record<string, number[]>, periods = 3): string {
  return evaluateAlarm(a, steady(byName, periods), periods).state;
}

describe('the metric-math evaluator', () => {
  it('computes statistics from raw observations and parses only its subset', () => {
    expect(statistic('Average', of(6, 94))).toBeCloseTo(0.06);
    expect(statistic('SampleCount', of(6, 94))).toBe(100);
    expect(statistic('p99', [...times(98, 100), 3000, 6000])).toBe(3000);
    expect(() => parse("SEARCH('{AWS/Lambda} Errors', 'Sum')")).toThrow(/subset/);
  });

  it('IF without a false branch leaves no datapoint, and FILL fills every period', () => {
    const alarmLike = {
      Properties: {
        Metrics: [
          {
            Id: 'a',
            MetricStat: { Metric: { Namespace: 'N', MetricName: 'A' }, Stat: 'Sum' },
            ReturnData: false,
          },
          { Id: 'e', Expression: 'IF(FILL(a, 0) > 2, a)' },
        ],
        EvaluationPeriods: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        TreatMissingData: 'notBreaching',
      },
    };
    const obs: Observations = () => [[1, 1, 1], undefined, [1]];
    const result = evaluateAlarm(alarmLike, obs, 3);
    expect([...result.series.entries()]).toEqual([[0, 3]]);
    expect(result.state).toBe('OK');
  });
});

describe.each(ALL_STAGES)(
  '%s: API 5xx rate (the library alarm, metric math with a traffic guard)',
  (stage) => {
    for (const api of ['PublicApi', 'MachineApi']) {
      const a = () => alarm(stage, `${api}-Fault-Rate-Critical`);
      it(`${api}: 5 errors in 100 requests do not page, 6 do`, () => {
        expect(stateOf(a(), { '5XXError': of(5, 95) })).toBe('OK');
        expect(stateOf(a(), { '5XXError': of(6, 94) })).toBe('ALARM');
      });
      it(`${api}: under the minimum-traffic guard nothing pages, not even 2 of 3 or 20 of 20`, () => {
        expect(stateOf(a(), { '5XXError': of(2, 1) })).toBe('OK');
        expect(stateOf(a(), { '5XXError': of(20, 0) })).toBe('OK');
        expect(stateOf(a(), { '5XXError': of(2, 19) })).toBe('ALARM');
      });
      it(`${api}: one bad period of three is not an incident; two are`, () => {
        const periods: Observations = (m) =>
          m.metricName === '5XXError' ? [of(10, 90), of(0, 100), of(0, 100)] : undefined;
        expect(evaluateAlarm(a(), periods, 3).state).toBe('OK');
        const twice: Observations = (m) =>
          m.metricName === '5XXError' ? [of(10, 90), of(0, 100), of(10, 90)] : undefined;
        expect(evaluateAlarm(a(), twice, 3).state).toBe('ALARM');
      });
    }
  },
);

describe('prod: the other rate alarms trip exactly at their thresholds', () => {
  it('API p99 latency: above 2 s is a ticket, above 5 s a page', () => {
    const warning = alarm('prod', 'PublicApi-Latency-P99-Warning');
    const critical = alarm('prod', 'PublicApi-Latency-P99-Critical');
    // p99 of 100 requests is the 99th fastest: two slow requests in 100 set it.
    const latency = (slow: number) => ({ Latency: [...times(98, 100), slow, slow] });
    expect(stateOf(warning, latency(2000))).toBe('OK');
    expect(stateOf(warning, latency(2001))).toBe('ALARM');
    expect(stateOf(critical, latency(5000))).toBe('OK');
    expect(stateOf(critical, latency(5001))).toBe('ALARM');
  });

  it('Cognito: 20% failed sign-ins do not alarm, 21% do; 5 failures of 8 attempts are under the guard', () => {
    const a = alarm('prod', 'Cognito-SignInFailure-Rate-Warning');
    expect(stateOf(a, { SignInSuccesses: of(80, 20) })).toBe('OK');
    expect(stateOf(a, { SignInSuccesses: of(79, 21) })).toBe('ALARM');
    expect(stateOf(a, { SignInSuccesses: of(3, 5) })).toBe('OK');
  });

  it('API 401/403: 20 in 100 requests do not alarm, 21 do; 4 of 5 are under the guard', () => {
    const a = alarm('prod', 'PublicApi-AuthFailure-Rate-Warning');
    const traffic = (denied: number, requests: number) => ({
      PublicApiAuthDenials: times(denied, 1),
      Count: times(requests, 1),
    });
    expect(stateOf(a, traffic(20, 100))).toBe('OK');
    expect(stateOf(a, traffic(21, 100))).toBe('ALARM');
    expect(stateOf(a, traffic(4, 5))).toBe('OK');
    expect(stateOf(a, traffic(0, 100))).toBe('OK');
  });

  it('uploads: 1 failure in 5 finished does not alarm, 2 in 8 do; 2 of 3 are under the guard; failures alone count', () => {
    const a = alarm('prod', 'Uploads-Failure-Rate-Warning');
    const finished = (failed: number, completed: number) => ({
      UploadsFailed: times(failed, 1),
      UploadsCompleted: times(completed, 1),
    });
    expect(stateOf(a, finished(1, 4), 1)).toBe('OK');
    expect(stateOf(a, finished(2, 6), 1)).toBe('ALARM');
    expect(stateOf(a, finished(2, 1), 1)).toBe('OK');
    expect(stateOf(a, { UploadsFailed: times(5, 1) }, 1)).toBe('ALARM');
  });

  it('WAF: a blocked share at the configured 10% does not alarm, above it does; light traffic is under the guard', () => {
    const a = alarm('prod', 'Waf-PublicApi-Blocked-Rate-Warning');
    const waf = (blocked: number, allowed: number) => ({
      BlockedRequests: times(blocked, 1),
      AllowedRequests: times(allowed, 1),
    });
    expect(stateOf(a, waf(20, 180))).toBe('OK');
    expect(stateOf(a, waf(21, 179))).toBe('ALARM');
    expect(stateOf(a, waf(50, 50))).toBe('OK');
  });

  it('function memory: 230 MiB of 256 is below 90%, 231 MiB is above', () => {
    const a = alarm('prod', 'Api-GetHealth-Memory-Warning');
    expect(stateOf(a, { 'Api-GetHealth': [120, 230] }, 1)).toBe('OK');
    expect(stateOf(a, { 'Api-GetHealth': [120, 231] }, 1)).toBe('ALARM');
  });

  it('rotation: one failed step of any kind alarms, none does not', () => {
    const a = alarm('prod', 'Data-MasterRotation-Failed-Critical');
    expect(stateOf(a, {}, 1)).toBe('OK');
    expect(stateOf(a, { testSecret: [1] }, 1)).toBe('ALARM');
    expect(stateOf(a, { invalid: [1] }, 1)).toBe('ALARM');
  });

  it('RDS freeable memory: below 10% of the r7g.large’s 16 GiB pages after 15 minutes', () => {
    const a = alarm('prod', 'Database-FreeableMemory-Critical');
    const gib = 1024 ** 3;
    expect(stateOf(a, { FreeableMemory: [1.7 * gib] })).toBe('OK');
    expect(stateOf(a, { FreeableMemory: [1.5 * gib] })).toBe('ALARM');
  });

  it('the rotation-overdue and plan-status alarms treat a silent probe as breaching', () => {
    expect(stateOf(alarm('prod', 'Secret-master-RotationOverdue-Critical'), {}, 1)).toBe('ALARM');
    expect(stateOf(alarm('prod', 'Secret-master-RotationOverdue-Critical'), { master: [24 * 31] }, 1)).toBe(
      'OK',
    );
    expect(
      stateOf(alarm('prod', 'Secret-master-RotationOverdue-Critical'), { master: [24 * 31 + 1] }, 1),
    ).toBe('ALARM');
    expect(stateOf(alarm('prod', 'GuardDuty-MalwareProtectionPlan-NotActive-Critical'), {}, 1)).toBe('ALARM');
    expect(
      stateOf(
        alarm('prod', 'GuardDuty-MalwareProtectionPlan-NotActive-Critical'),
        { MalwareProtectionPlanActive: [1] },
        1,
      ),
    ).toBe('OK');
  });
});

/**
 * A rate alarm must be a rate: the same share of failures alarms whatever the traffic, and a large count at a low
 * share does not. This is what the seed systems got wrong (a count averaged against a percentage).
 * `traffic(bad, n)` states n events of which `bad` failed; `threshold` is the alarm's percentage.
 */
function rateProblems(
  a: Alarm,
  traffic: (bad: number, n: number) => Record<string, number[]>,
  threshold: number,
): string[] {
  const problems: string[] = [];
  for (const n of [200, 2000, 20000]) {
    const above = Math.ceil((n * (threshold + 1)) / 100);
    const below = Math.floor((n * (threshold - 1)) / 100);
    if (stateOf(a, traffic(above, n)) !== 'ALARM') problems.push(`${above} of ${n} did not alarm`);
    if (stateOf(a, traffic(below, n)) !== 'OK') problems.push(`${below} of ${n} alarmed`);
  }
  return problems;
}

const apiDenials = (bad: number, n: number) => ({ PublicApiAuthDenials: times(bad, 1), Count: times(n, 1) });
const api5xx = (bad: number, n: number) => ({ '5XXError': of(bad, n - bad) });
const signIns = (bad: number, n: number) => ({ SignInSuccesses: of(n - bad, bad) });
const uploads = (bad: number, n: number) => ({
  UploadsFailed: times(bad, 1),
  UploadsCompleted: times(n - bad, 1),
});
const waf = (bad: number, n: number) => ({
  BlockedRequests: times(bad, 1),
  AllowedRequests: times(n - bad, 1),
});

describe('prod: the rate alarms are rates, not counts', () => {
  it('alarm at the same share whatever the traffic', () => {
    expect(rateProblems(alarm('prod', 'PublicApi-Fault-Rate-Critical'), api5xx, 5)).toEqual([]);
    expect(
      rateProblems(
        alarm('prod', 'MachineApi-AuthFailure-Rate-Warning'),
        (b, n) => ({
          MachineApiAuthDenials: times(b, 1),
          Count: times(n, 1),
        }),
        20,
      ),
    ).toEqual([]);
    expect(rateProblems(alarm('prod', 'PublicApi-AuthFailure-Rate-Warning'), apiDenials, 20)).toEqual([]);
    expect(rateProblems(alarm('prod', 'Cognito-SignInFailure-Rate-Warning'), signIns, 20)).toEqual([]);
    expect(rateProblems(alarm('prod', 'Uploads-Failure-Rate-Warning'), uploads, 20)).toEqual([]);
    expect(rateProblems(alarm('prod', 'Waf-UserPool-Blocked-Rate-Warning'), waf, 10)).toEqual([]);
  });

  it('a count against the percentage (the defect) is caught', () => {
    const counted = structuredClone(alarm('prod', 'PublicApi-AuthFailure-Rate-Warning'));
    const rate = counted.Properties.Metrics?.find((m) => m.Expression) as CfnMetricQuery;
    rate.Expression = 'FILL(denied, 0)';
    expect(rateProblems(counted, apiDenials, 20)).not.toEqual([]);

    const summed = structuredClone(alarm('prod', 'PublicApi-Fault-Rate-Critical'));
    const metric = summed.Properties.Metrics?.find((m) => m.MetricStat?.Stat === 'Average') as CfnMetricQuery;
    (metric.MetricStat as NonNullable<CfnMetricQuery['MetricStat']>).Stat = 'Sum';
    expect(rateProblems(summed, api5xx, 5)).not.toEqual([]);

    const unguarded = structuredClone(alarm('prod', 'Cognito-SignInFailure-Rate-Warning'));
    const guard = unguarded.Properties.Metrics?.find((m) => m.Expression) as CfnMetricQuery;
    guard.Expression = '100 * (attempts - successes) / attempts';
    expect(stateOf(unguarded, { SignInSuccesses: of(1, 2) })).toBe('ALARM');
  });
});
