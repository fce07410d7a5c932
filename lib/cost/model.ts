/**
 * The fixed monthly cost of a set of CloudFormation templates: what the stage costs with no traffic at all.
 * Every resource is priced by a handler for its type, listed as free (`free-types.ts`, with the reason) or reported
 * as not priced: never silently ignored.
 */

import { instanceSpec } from '../config/instances';
import { ASSUMPTIONS } from './assumptions';
import { FREE_TYPES } from './free-types';
import { HOURS_PER_MONTH, PRICES, type PriceId, type PriceTable } from './prices';

/** A CloudFormation template, as much of it as pricing reads. */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
}

export interface CfnResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: resource properties are arbitrary JSON; each handler narrows them.
  readonly Properties?: Record<string, any>;
}

/** One priced line of the fixed monthly bill. */
export interface LineItem {
  readonly stack: string;
  readonly logicalId: string;
  /** `<stack short name>/<logical id without CDK's hash>`, e.g. `Api/MachineWebAcl`. */
  readonly resource: string;
  readonly type: string;
  /** What is billed, e.g. "RDS db.t4g.micro instance-hours". */
  readonly label: string;
  /** USD a month, to the cent; `null` when a price it needs is missing (then it is not in the total). */
  readonly usd: number | null;
  /** How the figure is made: quantity × unit price. */
  readonly basis: string;
  readonly prices: readonly PriceId[];
}

export interface FreeResource {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly reason: string;
}

export interface UnpricedResource {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
}

export interface FixedCost {
  /** Sum of every line with a price, USD a month. */
  readonly monthlyFixedUsd: number;
  /** True when a line lacks a price: the real fixed cost is higher than `monthlyFixedUsd`. */
  readonly lowerBound: boolean;
  readonly items: readonly LineItem[];
  readonly free: readonly FreeResource[];
  /** Resources of a type that is neither priced nor known to be free. */
  readonly notPriced: readonly UnpricedResource[];
  /** Prices that lines needed but the table lacks. */
  readonly missingPrices: readonly PriceId[];
}

/** Rounds to the cent, as a bill line is. */
export const cents = (usd: number): number => Math.round(usd * 100) / 100;

interface Context {
  readonly stack: string;
  readonly logicalId: string;
  readonly resource: CfnResource;
  readonly template: CfnTemplate;
  readonly prices: PriceTable;
}

type Handler = (ctx: Context) => { readonly items: LineItem[] } | { readonly free: string };

/** `Citadel-dev-Api` + `MachineWebAclA14957C9` → `Api/MachineWebAcl`. */
export function shortName(stack: string, logicalId: string): string {
  return `${stack.replace(/^Citadel-[a-z]+-/, '')}/${logicalId.replace(/[a-f0-9]{32,40}$/, '').replace(/[A-F0-9]{8}$/, '')}`;
}

const where = (ctx: Context) => ({
  stack: ctx.stack,
  logicalId: ctx.logicalId,
  resource: shortName(ctx.stack, ctx.logicalId),
  type: ctx.resource.Type,
});

/** The line for `quantity` units of `priceId`, or a price-missing line. */
function line(ctx: Context, label: string, quantity: number, unitText: string, priceId: PriceId): LineItem {
  const price = ctx.prices[priceId]?.usd ?? null;
  return {
    ...where(ctx),
    label,
    usd: price === null ? null : cents(quantity * price),
    basis:
      price === null
        ? `${fmt(quantity)} ${unitText} × price missing (${priceId})`
        : `${fmt(quantity)} ${unitText} × $${price}`,
    prices: [priceId],
  };
}

/** A line whose amount is computed from several prices. */
function composite(
  ctx: Context,
  label: string,
  parts: ReadonlyArray<{ quantity: number; priceId: PriceId }>,
  basis: string,
): LineItem {
  let usd: number | null = 0;
  for (const p of parts) {
    const price = ctx.prices[p.priceId]?.usd ?? null;
    usd = price === null || usd === null ? null : usd + p.quantity * price;
  }
  return {
    ...where(ctx),
    label,
    usd: usd === null ? null : cents(usd),
    basis,
    prices: parts.map((p) => p.priceId),
  };
}

/** A $0 line that says why a priced resource costs nothing at idle. */
function zero(ctx: Context, label: string, basis: string): LineItem {
  return { ...where(ctx), label, usd: 0, basis, prices: [] };
}

const fmt = (n: number): string =>
  Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(4).replace(/0+$/, '');

/** The logical id a `{ Ref }` or `{ Fn::GetAtt }` names, if `value` is one. */
function refOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  return undefined;
}

/** Every logical id `value` names through `Ref` or `Fn::GetAtt`, anywhere inside. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  const own = refOf(value);
  return [...(own ? [own] : []), ...Object.values(value as object).flatMap(refsIn)];
}

/** Resources of `type` in `template` that `value` refers to. */
function referenced(template: CfnTemplate, value: unknown, type: string): Array<[string, CfnResource]> {
  return refsIn(value)
    .map((id) => [id, template.Resources[id]] as const)
    .filter((e): e is [string, CfnResource] => e[1]?.Type === type);
}

/** Runs a month of a `rate(N unit)` schedule; `undefined` for anything else. */
export function runsPerMonth(expression: unknown): number | undefined {
  if (typeof expression !== 'string') return undefined;
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!rate) return undefined;
  const n = Number(rate[1]);
  if (n === 0) return 1; // Synthetics: `rate(0 minute)` runs once.
  const unitMinutes = rate[2]?.startsWith('minute') ? 1 : rate[2]?.startsWith('hour') ? 60 : 1440;
  return (HOURS_PER_MONTH * 60) / (n * unitMinutes);
}

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Runs a week of a `cron(min hour dom month dow year)` expression that fires once a day at most. */
export function cronRunsPerWeek(expression: unknown): number | undefined {
  if (typeof expression !== 'string') return undefined;
  const m = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = m?.[1]?.split(/\s+/);
  if (fields?.length !== 6) return undefined;
  const [minute, hour, dom, , dow] = fields as [string, string, string, string, string, string];
  if (!/^\d+$/.test(minute) || !/^\d+$/.test(hour)) return undefined; // more than once a day: not handled
  if (dow === '?' || dow === '*') return dom === '*' || dom === '?' ? 7 : undefined;
  let days = 0;
  for (const part of dow.split(',')) {
    const [from, to] = part.split('-').map((d) => DAYS.indexOf(d.toUpperCase()));
    if (from === undefined || from < 0) return undefined;
    if (to === undefined) days += 1;
    else if (to < 0) return undefined;
    else days += ((to - from + 7) % 7) + 1;
  }
  return days;
}

const WEEKS_PER_MONTH = 52 / 12;

// ── Handlers ────────────────────────────────────────────────────────────────────────────────────────────

function rdsInstancePriceId(instanceClass: string): PriceId {
  return `rds.${instanceClass}` as PriceId;
}

const dbInstance: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const cls = String(p.DBInstanceClass);
  const multiAz = p.MultiAZ === true || p.MultiAZ === 'true';
  const copies = multiAz ? 2 : 1;
  const items: LineItem[] = [
    line(
      ctx,
      `RDS ${cls} instance-hours${multiAz ? ' (Multi-AZ: primary and standby)' : ''}`,
      HOURS_PER_MONTH * copies,
      'instance-hours',
      rdsInstancePriceId(cls),
    ),
  ];
  const gib = Number(p.AllocatedStorage);
  const storageType = String(p.StorageType ?? 'gp2');
  items.push(
    line(
      ctx,
      `RDS ${storageType} storage, ${gib} GiB${multiAz ? ' (Multi-AZ rate: both copies)' : ''}`,
      gib,
      'GB-months',
      storageType === 'gp3'
        ? multiAz
          ? 'rds.storage.gp3.multiAz'
          : 'rds.storage.gp3.singleAz'
        : (`rds.storage.${storageType}` as PriceId),
    ),
  );
  if (p.Iops !== undefined || p.StorageThroughput !== undefined) {
    items.push(
      line(
        ctx,
        'RDS provisioned IOPS/throughput above the gp3 baseline',
        1,
        'configuration',
        'rds.storage.iops' as PriceId,
      ),
    );
  }
  const spec = instanceSpec(cls);
  if (p.DatabaseInsightsMode === 'advanced') {
    items.push(
      spec
        ? line(
            ctx,
            `Database Insights advanced, ${spec.vcpus} vCPUs (the primary's; the standby is not monitored)`,
            spec.vcpus * HOURS_PER_MONTH,
            'vCPU-hours',
            'rds.databaseInsights.advanced',
          )
        : line(
            ctx,
            `Database Insights advanced (vCPUs of ${cls} unknown)`,
            0,
            'vCPU-hours',
            'rds.databaseInsights.advanced' as PriceId,
          ),
    );
  } else if (p.EnablePerformanceInsights === true) {
    const retention = Number(p.PerformanceInsightsRetentionPeriod ?? 7);
    items.push(
      retention <= 7
        ? zero(
            ctx,
            'Database Insights standard (Performance Insights, 7 days)',
            'free tier: a rolling 7 days of history',
          )
        : line(
            ctx,
            `Performance Insights ${retention}-day retention`,
            1,
            'instance',
            'rds.performanceInsights.longTerm' as PriceId,
          ),
    );
  }
  const interval = Number(p.MonitoringInterval ?? 0);
  if (interval > 0) {
    const events = (HOURS_PER_MONTH * 3600) / interval;
    const gb = (events * ASSUMPTIONS.enhancedMonitoringKiB.value * 1024) / 2 ** 30;
    items.push(
      composite(
        ctx,
        `Enhanced Monitoring every ${interval} s (CloudWatch Logs, estimated)`,
        [
          { quantity: gb, priceId: 'cw.logs.ingest' },
          { quantity: gb, priceId: 'cw.logs.store' },
        ],
        `${fmt(events)} events × ${ASSUMPTIONS.enhancedMonitoringKiB.value} KiB = ${gb.toFixed(2)} GB ingested ($${ctx.prices['cw.logs.ingest'].usd}/GB) and stored a month ($${ctx.prices['cw.logs.store'].usd}/GB-month)`,
      ),
    );
  }
  if (Number(p.BackupRetentionPeriod ?? 1) > 0) {
    items.push(
      zero(
        ctx,
        `RDS automated backups, ${Number(p.BackupRetentionPeriod ?? 1)} days`,
        'free up to 100% of the allocated storage (assumes the backups fit in it)',
      ),
    );
  }
  return { items };
};

const dbProxy: Handler = (ctx) => {
  const groups = Object.values(ctx.template.Resources).filter(
    (r) => r.Type === 'AWS::RDS::DBProxyTargetGroup' && refOf(r.Properties?.DBProxyName) === ctx.logicalId,
  );
  const targets = groups.flatMap((g) =>
    referenced(ctx.template, g.Properties?.DBInstanceIdentifiers, 'AWS::RDS::DBInstance'),
  );
  const vcpus = targets.map(([, t]) => instanceSpec(String(t.Properties?.DBInstanceClass))?.vcpus);
  const min = Number(ctx.prices['rds.proxy.minVcpus'].usd ?? 2);
  if (targets.length === 0 || vcpus.some((v) => v === undefined)) {
    return {
      items: [
        line(
          ctx,
          'RDS Proxy (target instance class unknown)',
          0,
          'vCPU-hours',
          'rds.proxy.target' as PriceId,
        ),
      ],
    };
  }
  const billed = vcpus.reduce<number>((sum, v) => sum + Math.max(v ?? 0, min), 0);
  const classes = targets.map(([, t]) => t.Properties?.DBInstanceClass).join(', ');
  return {
    items: [
      line(
        ctx,
        `RDS Proxy, ${billed} vCPUs of ${classes} (minimum ${min})`,
        billed * HOURS_PER_MONTH,
        'vCPU-hours',
        'rds.proxy.vcpu',
      ),
    ],
  };
};

const ec2Instance: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const type = String(p.InstanceType);
  const role = p.SourceDestCheck === false || p.SourceDestCheck === 'false' ? 'NAT instance' : 'EC2 instance';
  const items: LineItem[] = [
    line(ctx, `${role} ${type} instance-hours`, HOURS_PER_MONTH, 'hours', `ec2.${type}` as PriceId),
  ];
  for (const mapping of (p.BlockDeviceMappings ?? []) as Array<{
    Ebs?: { VolumeSize?: number; VolumeType?: string };
  }>) {
    if (!mapping.Ebs) continue;
    const size = mapping.Ebs.VolumeSize ?? ASSUMPTIONS.rootVolumeGiB.value;
    const volumeType = mapping.Ebs.VolumeType ?? 'gp2';
    items.push(
      line(
        ctx,
        `${role} EBS ${volumeType} volume, ${size} GiB${mapping.Ebs.VolumeSize === undefined ? ' (AMI default)' : ''}`,
        size,
        'GB-months',
        `ebs.${volumeType}` as PriceId,
      ),
    );
  }
  const publicIps = ((p.NetworkInterfaces ?? []) as Array<{ AssociatePublicIpAddress?: unknown }>).filter(
    (n) => n.AssociatePublicIpAddress === true || n.AssociatePublicIpAddress === 'true',
  ).length;
  if (publicIps > 0) {
    items.push(
      line(
        ctx,
        `${role} public IPv4 address`,
        publicIps * HOURS_PER_MONTH,
        'address-hours',
        'vpc.publicIpv4',
      ),
    );
  }
  if (p.Monitoring === true || p.Monitoring === 'true') {
    const metrics = ASSUMPTIONS.detailedMonitoringMetrics.value;
    items.push(
      line(
        ctx,
        `${role} detailed monitoring (${metrics} metrics at 1 minute)`,
        metrics,
        'metric-months',
        'cw.customMetric',
      ),
    );
  }
  return { items };
};

const natGateway: Handler = (ctx) => ({
  items: [
    line(
      ctx,
      'NAT gateway-hours (data processing is usage)',
      HOURS_PER_MONTH,
      'hours',
      'vpc.natGateway.hour',
    ),
  ],
});

const eip: Handler = (ctx) => ({
  items: [line(ctx, 'Elastic IP (public IPv4 address)', HOURS_PER_MONTH, 'address-hours', 'vpc.publicIpv4')],
});

/** The service an endpoint's `ServiceName` (`com.amazonaws.<region>.<service>`) names. */
function endpointService(serviceName: unknown): string {
  const text = JSON.stringify(serviceName ?? '');
  return /\.([a-z0-9-]+)"\]\]\}$/.exec(text)?.[1] ?? /\.([a-z0-9-]+)"$/.exec(text)?.[1] ?? 'unknown';
}

const vpcEndpoint: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const service = endpointService(p.ServiceName);
  if ((p.VpcEndpointType ?? 'Gateway') === 'Gateway')
    return { free: `gateway endpoints (here ${service}) are free` };
  const azs = Array.isArray(p.SubnetIds) ? p.SubnetIds.length : 1;
  return {
    items: [
      line(
        ctx,
        `Interface endpoint ${service} in ${azs} AZ${azs === 1 ? '' : 's'} (data processing is usage)`,
        azs * HOURS_PER_MONTH,
        'endpoint-hours',
        'vpc.interfaceEndpoint.hour',
      ),
    ],
  };
};

const DEFAULT_BODY_LIMIT = 'KB_16';

const webAcl: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const rules = (p.Rules ?? []) as Array<{ Name?: string; Statement?: Record<string, unknown> }>;
  const managed = rules.filter((r) => r.Statement?.ManagedRuleGroupStatement).length;
  const items = [
    line(ctx, 'WAF web ACL', 1, 'ACL-month', 'waf.webAcl'),
    line(
      ctx,
      `WAF rules: ${rules.length} (${managed} managed rule group${managed === 1 ? '' : 's'}, ${rules.length - managed} own rule${rules.length - managed === 1 ? '' : 's'})`,
      rules.length,
      'rule-months',
      'waf.rule',
    ),
  ];
  const raised = Object.values(
    (p.AssociationConfig?.RequestBody ?? {}) as Record<string, { DefaultSizeInspectionLimit?: string }>,
  )
    .map((c) => c.DefaultSizeInspectionLimit)
    .filter((limit) => limit !== undefined && limit !== DEFAULT_BODY_LIMIT);
  if (raised.length > 0) {
    items.push(
      zero(
        ctx,
        `WAF body inspection raised to ${raised.join(', ')}`,
        'charged for each request whose body exceeds the default 16 KB: see the per-upload figures (price missing: waf.bodyInspection16k)',
      ),
    );
  }
  return { items };
};

const kmsKey: Handler = (ctx) => {
  const description = String(ctx.resource.Properties?.Description ?? '').replace(/\s*\(.*$/, '');
  const rotation = ctx.resource.Properties?.EnableKeyRotation === true;
  const item = line(ctx, `KMS key${description ? `: ${description}` : ''}`, 1, 'key-month', 'kms.key');
  return {
    items: [
      rotation
        ? {
            ...item,
            basis: `${item.basis} (yearly rotation: each of its first two rotations adds a key-month; not counted)`,
          }
        : item,
    ],
  };
};

const secret: Handler = (ctx) => ({
  items: [line(ctx, 'Secrets Manager secret', 1, 'secret-month', 'secrets.secret')],
});

interface MetricDataQuery {
  readonly Id?: string;
  readonly MetricStat?: { Period?: number };
  readonly Expression?: string;
}

const alarm: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const queries = (p.Metrics ?? []) as MetricDataQuery[];
  if (p.ThresholdMetricId !== undefined) {
    // Anomaly detection: the metric plus the band's two bounds.
    return {
      items: [
        line(
          ctx,
          'CloudWatch anomaly-detection alarm (3 metrics)',
          3,
          'alarm metric-months',
          'cw.alarm.standard',
        ),
      ],
    };
  }
  const periods =
    queries.length > 0
      ? queries.filter((q) => q.MetricStat).map((q) => Number(q.MetricStat?.Period ?? 60))
      : [Number(p.Period ?? 60)];
  const highRes = periods.filter((s) => s < 60).length;
  const standard = periods.length - highRes;
  const items: LineItem[] = [];
  const kind = queries.length > 0 ? `metric-math alarm (${periods.length} metrics)` : 'alarm';
  if (standard > 0)
    items.push(
      line(
        ctx,
        `CloudWatch ${kind}, standard resolution`,
        standard,
        'alarm metric-months',
        'cw.alarm.standard',
      ),
    );
  if (highRes > 0)
    items.push(
      line(
        ctx,
        `CloudWatch ${kind}, high resolution`,
        highRes,
        'alarm metric-months',
        'cw.alarm.highResolution',
      ),
    );
  return { items };
};

const compositeAlarm: Handler = (ctx) => ({
  items: [line(ctx, 'CloudWatch composite alarm', 1, 'alarm-month', 'cw.alarm.composite')],
});

const dashboard: Handler = (ctx) => ({
  items: [
    line(
      ctx,
      "CloudWatch dashboard (the account's first three are free; not deducted)",
      1,
      'dashboard-month',
      'cw.dashboard',
    ),
  ],
});

const canary: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const expression = p.Schedule?.Expression;
  const runs = runsPerMonth(expression);
  if (runs === undefined) {
    return {
      items: [
        line(
          ctx,
          `Synthetics canary, schedule ${String(expression)} not evaluated`,
          0,
          'runs',
          'cw.synthetics.schedule' as PriceId,
        ),
      ],
    };
  }
  return {
    items: [
      line(
        ctx,
        `Synthetics canary, ${String(expression)} (its artifacts in S3 and its logs are usage)`,
        Math.round(runs),
        'runs',
        'cw.synthetics.run',
      ),
    ],
  };
};

const metricFilter: Handler = (ctx) => {
  const transformations = (ctx.resource.Properties?.MetricTransformations ?? []) as Array<{
    MetricName?: string;
    DefaultValue?: number;
    Dimensions?: unknown[];
  }>;
  const items = transformations.map((t) =>
    t.DefaultValue !== undefined
      ? line(
          ctx,
          `Custom metric ${t.MetricName} (metric filter with a default value publishes continuously)`,
          1,
          'metric-month',
          'cw.customMetric',
        )
      : zero(
          ctx,
          `Custom metric ${t.MetricName} (metric filter)`,
          `published only when a log event matches; then $${ctx.prices['cw.customMetric'].usd} per metric-month${t.Dimensions?.length ? ' per dimension value' : ''}`,
        ),
  );
  return { items };
};

const eventRule: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const runs = runsPerMonth(p.ScheduleExpression);
  if (runs === undefined) {
    return {
      free: 'rules are free and AWS service events on the default bus are free; targets are priced per invocation (usage)',
    };
  }
  const items = ((p.Targets ?? []) as Array<{ Arn?: unknown }>)
    .map((t) => referenced(ctx.template, t.Arn, 'AWS::Lambda::Function')[0])
    .filter((t): t is [string, CfnResource] => t !== undefined)
    .map(([id, fn]) => {
      const memoryGb = Number(fn.Properties?.MemorySize ?? 128) / 1024;
      const arm = ((fn.Properties?.Architectures ?? []) as string[]).includes('arm64');
      const seconds = ASSUMPTIONS.scheduledInvocationSeconds.value;
      return composite(
        ctx,
        `Scheduled ${id} invocations, ${String(p.ScheduleExpression)}`,
        [
          { quantity: runs / 1e6, priceId: 'lambda.requests' },
          {
            quantity: runs * seconds * memoryGb,
            priceId: arm ? 'lambda.arm64.gbSecond' : ('lambda.x86.gbSecond' as PriceId),
          },
        ],
        `${fmt(Math.round(runs))} invocations × (request + ${seconds} s × ${memoryGb * 1024} MB)`,
      );
    });
  return items.length > 0
    ? { items }
    : { free: 'a schedule with no Lambda target here; its target is priced where it runs' };
};

const bucket: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const versioned = p.VersioningConfiguration?.Status === 'Enabled';
  return {
    items: [
      zero(
        ctx,
        'S3 bucket, empty at rest',
        `storage and requests are usage${versioned ? '; versioned: deleted and overwritten objects keep costing until their noncurrent-version expiry' : ''}`,
      ),
    ],
  };
};

const userPool: Handler = (ctx) => {
  const tier = String(ctx.resource.Properties?.UserPoolTier ?? 'ESSENTIALS');
  const id = tier === 'PLUS' ? 'cognito.plus.mau' : 'cognito.essentials.mau';
  return {
    items: [
      zero(
        ctx,
        `Cognito user pool, ${tier} plan`,
        `0 MAU at idle = $0; $${ctx.prices[id].usd} per MAU${tier === 'PLUS' ? ' (no free tier)' : ' above 10,000 free'} (usage); SMS MFA messages are SNS usage`,
      ),
    ],
  };
};

const malwarePlan: Handler = (ctx) => ({
  items: [
    zero(
      ctx,
      'GuardDuty Malware Protection for S3 plan',
      `no fixed charge; $${ctx.prices['guardduty.s3.gb'].usd}/GB scanned and $${ctx.prices['guardduty.s3.objects'].usd} per 1,000 objects (usage)`,
    ),
  ],
});

/** DB instances a backup selection or restore-testing selection names. */
function selectedInstances(ctx: Context, value: unknown): CfnResource[] {
  return referenced(ctx.template, value, 'AWS::RDS::DBInstance').map(([, r]) => r);
}

const backupPlan: Handler = (ctx) => {
  const selections = Object.values(ctx.template.Resources).filter(
    (r) => r.Type === 'AWS::Backup::BackupSelection' && refOf(r.Properties?.BackupPlanId) === ctx.logicalId,
  );
  const instances = selections.flatMap((s) =>
    selectedInstances(ctx, s.Properties?.BackupSelection?.Resources),
  );
  const dbGb =
    instances.reduce((sum, i) => sum + Number(i.Properties?.AllocatedStorage ?? 0), 0) *
    ASSUMPTIONS.databaseFill.value;
  const rules = (ctx.resource.Properties?.BackupPlan?.BackupPlanRule ?? []) as Array<{
    RuleName?: string;
    ScheduleExpression?: string;
    Lifecycle?: { DeleteAfterDays?: number };
  }>;
  let points = 0;
  const described: string[] = [];
  for (const rule of rules) {
    const perWeek = cronRunsPerWeek(rule.ScheduleExpression);
    const keep = rule.Lifecycle?.DeleteAfterDays;
    if (perWeek === undefined || keep === undefined) {
      return {
        items: [
          line(
            ctx,
            `AWS Backup rule ${rule.RuleName} (schedule or retention not evaluated)`,
            0,
            'GB-months',
            'backup.schedule' as PriceId,
          ),
        ],
      };
    }
    const n = Math.round((keep * perWeek) / 7);
    points += n;
    described.push(`${rule.RuleName} ${n}`);
  }
  if (instances.length === 0 || points === 0) {
    return {
      items: [
        zero(
          ctx,
          'AWS Backup plan (no RDS instance selected here)',
          'recovery points of other resources are not modelled',
        ),
      ],
    };
  }
  const change = ASSUMPTIONS.backupDailyChange.value;
  const gbMonths = dbGb * (1 + change * (points - 1));
  return {
    items: [
      line(
        ctx,
        `AWS Backup warm storage: ${points} retained RDS recovery points (${described.join(', ')}) of ${dbGb} GB`,
        cents(gbMonths),
        'GB-months',
        'backup.rdsSnapshot',
      ),
    ],
  };
};

const restoreTestingSelection: Handler = (ctx) => {
  const p = ctx.resource.Properties ?? {};
  const plan = Object.values(ctx.template.Resources).find(
    (r) =>
      r.Type === 'AWS::Backup::RestoreTestingPlan' &&
      r.Properties?.RestoreTestingPlanName === p.RestoreTestingPlanName,
  );
  const perWeek = cronRunsPerWeek(plan?.Properties?.ScheduleExpression);
  const instances = selectedInstances(ctx, p.ProtectedResourceArns);
  const tests = perWeek === undefined ? undefined : perWeek * WEEKS_PER_MONTH;
  if (tests === undefined || instances.length === 0) {
    return {
      items: [
        line(
          ctx,
          'AWS Backup restore tests (schedule or target not evaluated)',
          0,
          'tests',
          'backup.restoreTestingJob',
        ),
      ],
    };
  }
  const hours = ASSUMPTIONS.restoreHours.value + Number(p.ValidationWindowHours ?? 0);
  const items: LineItem[] = [];
  for (const instance of instances) {
    const cls = String(instance.Properties?.DBInstanceClass);
    const gib = Number(instance.Properties?.AllocatedStorage ?? 0);
    items.push(
      line(
        ctx,
        `Restore tests: restored ${cls} for ${hours} h, ${tests.toFixed(2)} tests a month`,
        cents(tests * hours),
        'instance-hours',
        rdsInstancePriceId(cls),
      ),
      line(
        ctx,
        `Restore tests: restored ${gib} GiB gp3 storage for ${hours} h each`,
        (gib * tests * hours) / HOURS_PER_MONTH,
        'GB-months',
        'rds.storage.gp3.singleAz',
      ),
    );
  }
  items.push(
    line(ctx, 'Restore testing job charge, if any', cents(tests), 'jobs', 'backup.restoreTestingJob'),
  );
  return { items };
};

/** Lambda versions and API stages are free unless they carry an hourly feature this model does not price. */
const lambdaVersion: Handler = (ctx) =>
  ctx.resource.Properties?.ProvisionedConcurrencyConfig
    ? {
        items: [
          line(
            ctx,
            'Lambda provisioned concurrency',
            1,
            'configuration',
            'lambda.provisionedConcurrency' as PriceId,
          ),
        ],
      }
    : { free: 'free (no provisioned concurrency)' };

const apiStage: Handler = (ctx) =>
  ctx.resource.Properties?.CacheClusterEnabled === true
    ? { items: [line(ctx, 'API Gateway cache cluster', HOURS_PER_MONTH, 'hours', 'apigw.cache' as PriceId)] }
    : { free: 'free without a cache cluster; access logs are usage' };

/** Handlers by resource type: the types this model prices. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  'AWS::RDS::DBInstance': dbInstance,
  'AWS::RDS::DBProxy': dbProxy,
  'AWS::EC2::Instance': ec2Instance,
  'AWS::EC2::NatGateway': natGateway,
  'AWS::EC2::EIP': eip,
  'AWS::EC2::VPCEndpoint': vpcEndpoint,
  'AWS::WAFv2::WebACL': webAcl,
  'AWS::KMS::Key': kmsKey,
  'AWS::SecretsManager::Secret': secret,
  'AWS::CloudWatch::Alarm': alarm,
  'AWS::CloudWatch::CompositeAlarm': compositeAlarm,
  'AWS::CloudWatch::Dashboard': dashboard,
  'AWS::Synthetics::Canary': canary,
  'AWS::Logs::MetricFilter': metricFilter,
  'AWS::Events::Rule': eventRule,
  'AWS::S3::Bucket': bucket,
  'AWS::Cognito::UserPool': userPool,
  'AWS::GuardDuty::MalwareProtectionPlan': malwarePlan,
  'AWS::Backup::BackupPlan': backupPlan,
  'AWS::Backup::RestoreTestingSelection': restoreTestingSelection,
  'AWS::Lambda::Version': lambdaVersion,
  'AWS::ApiGateway::Stage': apiStage,
};

/** The types a handler prices or the free list names: everything else in a template is "not priced". */
export const KNOWN_TYPES: ReadonlySet<string> = new Set([
  ...Object.keys(HANDLERS),
  ...Object.keys(FREE_TYPES),
]);

/** Prices the fixed monthly cost of `templates` (by stack name) with `prices`. */
export function priceFixed(
  templates: Readonly<Record<string, CfnTemplate>>,
  prices: PriceTable = PRICES,
): FixedCost {
  const items: LineItem[] = [];
  const free: FreeResource[] = [];
  const notPriced: UnpricedResource[] = [];
  for (const [stack, template] of Object.entries(templates)) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const handler = HANDLERS[resource.Type];
      if (handler) {
        const result = handler({ stack, logicalId, resource, template, prices });
        if ('free' in result) free.push({ stack, logicalId, type: resource.Type, reason: result.free });
        else items.push(...result.items);
      } else if (FREE_TYPES[resource.Type] !== undefined) {
        free.push({ stack, logicalId, type: resource.Type, reason: FREE_TYPES[resource.Type] as string });
      } else {
        notPriced.push({ stack, logicalId, type: resource.Type });
      }
    }
  }
  const missing = [
    ...new Set(
      items.filter((i) => i.usd === null).flatMap((i) => i.prices.filter((id) => prices[id]?.usd == null)),
    ),
  ];
  return {
    monthlyFixedUsd: cents(items.reduce((sum, i) => sum + (i.usd ?? 0), 0)),
    lowerBound: items.some((i) => i.usd === null),
    items,
    free,
    notPriced,
    missingPrices: missing,
  };
}
