/**
 * A small evaluator of CloudWatch alarms as CloudFormation synthesizes them, for the subset of metric math Citadel
 * uses: numbers, metric ids, + - * /, comparisons (> < >= <= == !=), parentheses, `IF(condition, value)` (no
 * datapoint where the condition is false) and `FILL(series, value)` (a value at every timestamp the series lacks).
 * A series is a map from period index to value; an operation on two series keeps the periods both have, as
 * CloudWatch aligns metric-math series on their timestamps; dividing by zero yields no datapoint.
 *
 * Statistics are computed from raw observations (what the service publishes, one value per request, sign-in,
 * invocation…), so a test can state traffic the way it happens: "100 requests, 6 of them 5xx".
 */

/** The metric a query reads: namespace, name and dimensions (values as they appear in the template). */
export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, unknown>>;
}

/** Raw observations of one metric in each period (index 0 = oldest). A missing period has no observation. */
export type Observations = (metric: MetricRef) => ReadonlyArray<readonly number[] | undefined> | undefined;

export type Series = ReadonlyMap<number, number>;

export type AlarmState = 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';

/** What the alarm would do over the last periods of `observations`. */
export interface Evaluation {
  readonly state: AlarmState;
  /** The alarm's series (the returned expression, or the metric's statistic), by period. */
  readonly series: Series;
  readonly breaching: number;
}

/** One query of a metric-math alarm, as CloudFormation has it. */
export interface CfnMetricQuery {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  Label?: string;
  MetricStat?: {
    Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: unknown }> };
    Stat: string;
    Period?: number;
  };
}

/** The properties of an `AWS::CloudWatch::Alarm` the evaluator reads. */
export interface CfnAlarmProperties {
  Metrics?: CfnMetricQuery[];
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
  Statistic?: string;
  ExtendedStatistic?: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  ComparisonOperator: string;
  Threshold: number;
  TreatMissingData?: string;
  [property: string]: unknown;
}

export interface CfnAlarm {
  Properties: CfnAlarmProperties;
}

/** A statistic of raw observations: Sum, SampleCount, Average, Minimum, Maximum or pNN (nearest rank). */
export function statistic(stat: string, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    default: {
      const p = /^p(\d+(?:\.\d+)?)$/.exec(stat);
      if (!p) throw new Error(`statistic ${stat} is not in the evaluator's subset`);
      const sorted = [...values].sort((a, b) => a - b);
      const rank = Math.ceil((Number(p[1]) / 100) * sorted.length);
      return sorted[Math.max(0, rank - 1)];
    }
  }
}

function metricSeries(metric: MetricRef, stat: string, observations: Observations, periods: number): Series {
  const perPeriod = observations(metric) ?? [];
  const out = new Map<number, number>();
  for (let i = 0; i < periods; i++) {
    const value = statistic(stat, perPeriod[i] ?? []);
    if (value !== undefined) out.set(i, value);
  }
  return out;
}

function dimensionsOf(
  list: ReadonlyArray<{ Name: string; Value: unknown }> | undefined,
): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((d) => [d.Name, d.Value]));
}

// ---------------------------------------------------------------------------------------------------- parser

type Node =
  | { kind: 'num'; value: number }
  | { kind: 'id'; name: string }
  | { kind: 'bin'; op: string; left: Node; right: Node }
  | { kind: 'neg'; arg: Node }
  | { kind: 'call'; fn: string; args: Node[] };

function tokenize(expression: string): string[] {
  const tokens = expression.match(/\s*(\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|>=|<=|==|!=|[-+*/(),<>])/g);
  const joined = (tokens ?? []).join('');
  if (joined.replace(/\s/g, '') !== expression.replace(/\s/g, '')) {
    throw new Error(`expression "${expression}" has tokens outside the evaluator's subset`);
  }
  return (tokens ?? []).map((t) => t.trim());
}

/** Parses the supported subset; throws on anything else, so an unsupported expression cannot pass silently. */
export function parse(expression: string): Node {
  const tokens = tokenize(expression);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (expected?: string) => {
    const t = tokens[pos++];
    if (t === undefined || (expected !== undefined && t !== expected)) {
      throw new Error(`expected ${expected ?? 'a token'} at ${pos} in "${expression}", got ${t}`);
    }
    return t;
  };
  const comparison = (): Node => {
    let left = additive();
    while (['>', '<', '>=', '<=', '==', '!='].includes(peek() ?? '')) {
      const op = take();
      left = { kind: 'bin', op, left, right: additive() };
    }
    return left;
  };
  const additive = (): Node => {
    let left = term();
    while (peek() === '+' || peek() === '-') {
      const op = take();
      left = { kind: 'bin', op, left, right: term() };
    }
    return left;
  };
  const term = (): Node => {
    let left = unary();
    while (peek() === '*' || peek() === '/') {
      const op = take();
      left = { kind: 'bin', op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Node => {
    if (peek() === '-') {
      take();
      return { kind: 'neg', arg: unary() };
    }
    return primary();
  };
  const primary = (): Node => {
    const t = take();
    if (t === '(') {
      const inner = comparison();
      take(')');
      return inner;
    }
    if (/^\d/.test(t)) return { kind: 'num', value: Number(t) };
    if (peek() === '(') {
      take('(');
      const args: Node[] = [];
      if (peek() !== ')') {
        args.push(comparison());
        while (peek() === ',') {
          take(',');
          args.push(comparison());
        }
      }
      take(')');
      return { kind: 'call', fn: t.toUpperCase(), args };
    }
    return { kind: 'id', name: t };
  };
  const node = comparison();
  if (pos !== tokens.length) throw new Error(`unexpected "${tokens[pos]}" in "${expression}"`);
  return node;
}

type Value = number | Series;

function binary(op: string, a: number, b: number): number | undefined {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? undefined : a / b;
    case '>':
      return a > b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    default:
      throw new Error(`operator ${op} is not in the evaluator's subset`);
  }
}

function combine(
  a: Value,
  b: Value,
  f: (x: number, y: number) => number | undefined,
  periods: number,
): Value {
  if (typeof a === 'number' && typeof b === 'number') return f(a, b) ?? Number.NaN;
  const out = new Map<number, number>();
  for (let i = 0; i < periods; i++) {
    const x = typeof a === 'number' ? a : a.get(i);
    const y = typeof b === 'number' ? b : b.get(i);
    if (x === undefined || y === undefined) continue;
    const r = f(x, y);
    if (r !== undefined && !Number.isNaN(r)) out.set(i, r);
  }
  return out;
}

function evaluate(node: Node, env: ReadonlyMap<string, Value>, periods: number): Value {
  switch (node.kind) {
    case 'num':
      return node.value;
    case 'id': {
      const v = env.get(node.name);
      if (v === undefined) throw new Error(`unknown id ${node.name}`);
      return v;
    }
    case 'neg':
      return combine(evaluate(node.arg, env, periods), -1, (x, y) => x * y, periods);
    case 'bin':
      return combine(
        evaluate(node.left, env, periods),
        evaluate(node.right, env, periods),
        (x, y) => binary(node.op, x, y),
        periods,
      );
    case 'call': {
      const args = node.args.map((a) => evaluate(a, env, periods));
      if (node.fn === 'FILL') {
        const [series, fill] = args;
        if (typeof fill !== 'number' || args.length !== 2) throw new Error('FILL(series, number) only');
        const out = new Map<number, number>();
        for (let i = 0; i < periods; i++)
          out.set(i, typeof series === 'number' ? series : (series?.get(i) ?? fill));
        return out;
      }
      if (node.fn === 'IF') {
        if (args.length !== 2) throw new Error('IF(condition, value) only');
        const [condition, value] = args as [Value, Value];
        return combine(condition, value, (c, v) => (c !== 0 ? v : undefined), periods);
      }
      throw new Error(`function ${node.fn} is not in the evaluator's subset`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- alarms

/** The alarm's series over `periods` periods of `observations`. */
export function alarmSeries(alarm: CfnAlarm, observations: Observations, periods: number): Series {
  const p = alarm.Properties;
  if (p.Metrics) {
    const env = new Map<string, Value>();
    const queries = p.Metrics;
    for (const q of queries) {
      if (!q.MetricStat) continue;
      const m = q.MetricStat.Metric;
      env.set(
        q.Id,
        metricSeries(
          { namespace: m.Namespace, metricName: m.MetricName, dimensions: dimensionsOf(m.Dimensions) },
          q.MetricStat.Stat,
          observations,
          periods,
        ),
      );
    }
    // Expressions may use each other: evaluate until every one is known (the template keeps no order).
    const pending = queries.filter((m) => m.Expression);
    for (let round = 0; pending.length > 0 && round < 10; round++) {
      for (const q of [...pending]) {
        try {
          env.set(q.Id, evaluate(parse(q.Expression as string), env, periods));
          pending.splice(pending.indexOf(q), 1);
        } catch (error) {
          if (!/^unknown id/.test((error as Error).message)) throw error;
        }
      }
    }
    if (pending.length > 0)
      throw new Error(`expressions ${pending.map((q) => q.Id).join(', ')} cannot be evaluated`);
    const returned = queries.filter((m) => m.ReturnData !== false);
    if (returned.length !== 1) throw new Error('an alarm returns exactly one query');
    const result = env.get(returned[0]?.Id as string);
    if (result === undefined || typeof result === 'number') throw new Error('the alarm returns no series');
    return result;
  }
  if (!p.Namespace || !p.MetricName) throw new Error('the alarm has neither Metrics nor a metric');
  return metricSeries(
    { namespace: p.Namespace, metricName: p.MetricName, dimensions: dimensionsOf(p.Dimensions) },
    (p.ExtendedStatistic ?? p.Statistic) as string,
    observations,
    periods,
  );
}

function breaches(operator: string, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      throw new Error(`comparison ${operator} is not in the evaluator's subset`);
  }
}

/**
 * The alarm's state after `periods` periods: the last `EvaluationPeriods` datapoints are compared with the
 * threshold; missing ones count as `TreatMissingData` says; ALARM when at least `DatapointsToAlarm` breach.
 */
export function evaluateAlarm(alarm: CfnAlarm, observations: Observations, periods: number): Evaluation {
  const p = alarm.Properties;
  const series = alarmSeries(alarm, observations, periods);
  const n = p.EvaluationPeriods;
  const m = p.DatapointsToAlarm ?? n;
  const treat = p.TreatMissingData ?? 'missing';
  let breaching = 0;
  let present = 0;
  for (let i = Math.max(0, periods - n); i < periods; i++) {
    const v = series.get(i);
    if (v === undefined) {
      if (treat === 'breaching') breaching++;
      if (treat === 'breaching' || treat === 'notBreaching') present++;
      continue;
    }
    present++;
    if (breaches(p.ComparisonOperator, v, p.Threshold)) breaching++;
  }
  const state: AlarmState = breaching >= m ? 'ALARM' : present === 0 ? 'INSUFFICIENT_DATA' : 'OK';
  return { state, series, breaching };
}
