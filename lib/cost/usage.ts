/**
 * What traffic costs, per unit, for one stage: per million API requests, per GB uploaded (at several upload
 * sizes, with the part size the API really picks), per GB-month stored, per monthly active user and per GB of
 * egress. Memory sizes, log levels, retention and plans come from the templates and the stage config; everything
 * else is an assumption from `assumptions.ts`, printed with the figures.
 */
import {
  completeBodyBytes,
  HASH_BYTES_PER_SECOND,
  largestUploadWithinBody,
  MAX_HASHED_BYTES,
  partCountFor,
  partSizeFor,
} from '../../contract/api/uploads';
import type { StageConfig } from '../config';
import { ASSUMPTIONS, type AssumptionId } from './assumptions';
import type { CfnResource, CfnTemplate } from './model';
import { PRICES, type PriceId, type PriceTable } from './prices';

export interface UsageLine {
  readonly label: string;
  /** USD for this unit of traffic; `null` when its price is missing. */
  readonly usd: number | null;
  readonly basis: string;
}

export interface UsageFigure {
  /** What one unit is, e.g. "1 million API requests". */
  readonly per: string;
  /** Sum of the lines that have a price. */
  readonly usd: number;
  /** True when a line lacks a price (the real figure is higher). */
  readonly lowerBound: boolean;
  readonly lines: readonly UsageLine[];
}

export interface UploadFigure extends UsageFigure {
  readonly sizeBytes: number;
  readonly partSizeBytes: number;
  readonly parts: number;
  /** Whether the client declared a SHA-256 (the scan then streams the whole object). */
  readonly sha256Declared: boolean;
  /** USD for the whole upload (the figure `usd` is per GB). */
  readonly usdPerUpload: number;
}

export interface Usage {
  readonly perMillionApiRequests: UsageFigure;
  readonly perMonthlyActiveUser: UsageFigure;
  readonly uploads: readonly UploadFigure[];
  readonly perGbMonthStored: UsageFigure;
  readonly perGbDeletedOrOverwritten: UsageFigure;
  readonly perGbQuarantined: UsageFigure;
  readonly perGbEgress: UsageFigure;
  /** The assumptions these figures rest on, as sentences. */
  readonly assumptions: readonly string[];
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const DAYS_PER_MONTH = 365 / 12;

/** Rounds a per-unit figure to a hundredth of a cent. */
const round4 = (usd: number): number => Math.round(usd * 10_000) / 10_000;

class Figure {
  private readonly lines: UsageLine[] = [];
  constructor(
    private readonly prices: PriceTable,
    private readonly per: string,
  ) {}

  /** Adds `quantity` units of `priceId`. */
  add(label: string, quantity: number, unit: string, priceId: PriceId): this {
    const price = this.prices[priceId]?.usd ?? null;
    this.lines.push({
      label,
      usd: price === null ? null : quantity * price,
      basis: `${fmt(quantity)} ${unit} × ${price === null ? `price missing (${priceId})` : `$${price}`}`,
    });
    return this;
  }

  /** Adds an amount already computed from other figures. */
  amount(label: string, usd: number, basis: string): this {
    this.lines.push({ label, usd, basis });
    return this;
  }

  note(label: string, basis: string): this {
    this.lines.push({ label, usd: 0, basis });
    return this;
  }

  done(scale = 1): UsageFigure {
    const lines = this.lines.map((l) => ({ ...l, usd: l.usd === null ? null : round4(l.usd / scale) }));
    return {
      per: this.per,
      // The sum of the lines as shown, so the figure and its breakdown always agree.
      usd: round4(lines.reduce((s, l) => s + (l.usd ?? 0), 0)),
      lowerBound: this.lines.some((l) => l.usd === null),
      lines,
    };
  }
}

const fmt = (n: number): string =>
  Number.isInteger(n)
    ? n.toLocaleString('en-US')
    : Math.abs(n) >= 1
      ? n.toLocaleString('en-US', { maximumFractionDigits: 3 })
      : String(Number(n.toPrecision(3)));

function resources(templates: Readonly<Record<string, CfnTemplate>>): Array<[string, CfnResource]> {
  return Object.values(templates).flatMap((t) => Object.entries(t.Resources));
}

function getAttTarget(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(getAttTarget);
  if (value === null || typeof value !== 'object') return [];
  const att = (value as Record<string, unknown>)['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return [att[0]];
  return Object.values(value as object).flatMap(getAttTarget);
}

/** Memory (MB) of the Lambda functions API Gateway methods integrate with, averaged. */
function apiFunctionMemoryMb(all: Array<[string, CfnResource]>): number {
  const byId = new Map(all);
  const targets = new Set(
    all
      .filter(
        ([, r]) => r.Type === 'AWS::ApiGateway::Method' && r.Properties?.Integration?.Type === 'AWS_PROXY',
      )
      .flatMap(([, r]) => getAttTarget(r.Properties?.Integration?.Uri))
      .filter((id) => byId.get(id)?.Type === 'AWS::Lambda::Function'),
  );
  const sizes = [...targets].map((id) => Number(byId.get(id)?.Properties?.MemorySize ?? 128));
  return sizes.length === 0 ? 128 : sizes.reduce((a, b) => a + b, 0) / sizes.length;
}

/** Memory (MB) of the function GuardDuty scan results are delivered to. */
function scanFunctionMemoryMb(all: Array<[string, CfnResource]>): number {
  const byId = new Map(all);
  const rule = all.find(
    ([, r]) =>
      r.Type === 'AWS::Events::Rule' &&
      JSON.stringify(r.Properties?.EventPattern?.source ?? []).includes('aws.guardduty'),
  );
  const fn = getAttTarget(rule?.[1].Properties?.Targets).find(
    (id) => byId.get(id)?.Type === 'AWS::Lambda::Function',
  );
  return Number((fn && byId.get(fn)?.Properties?.MemorySize) ?? 128);
}

/** The per-unit costs of `templates`, a stage synthesized from `config`. */
export function usageCosts(
  templates: Readonly<Record<string, CfnTemplate>>,
  config: StageConfig,
  prices: PriceTable = PRICES,
): Usage {
  const all = resources(templates);
  const used = new Set<AssumptionId>();
  const A = (id: AssumptionId): number => {
    used.add(id);
    return ASSUMPTIONS[id].value;
  };
  const retentionMonths = config.observability.logRetentionDays / DAYS_PER_MONTH;
  const tier =
    all.find(([, r]) => r.Type === 'AWS::Cognito::UserPool')?.[1].Properties?.UserPoolTier ?? 'ESSENTIALS';
  const mauPrice: PriceId = tier === 'PLUS' ? 'cognito.plus.mau' : 'cognito.essentials.mau';
  const tracing = all.some(
    ([, r]) => r.Type === 'AWS::ApiGateway::Stage' && r.Properties?.TracingEnabled === true,
  );
  /** WAF's default body inspection size: larger bodies cost extra where an ACL raises the limit. */
  const defaultInspection = 16 * 1024;
  const bodySurcharge = all.some(([, r]) =>
    Object.values(
      (r.Properties?.AssociationConfig?.RequestBody ?? {}) as Record<
        string,
        { DefaultSizeInspectionLimit?: string }
      >,
    ).some((c) => c.DefaultSizeInspectionLimit !== undefined && c.DefaultSizeInspectionLimit !== 'KB_16'),
  );

  // Per million API requests.
  const million = 1e6;
  const memoryMb = apiFunctionMemoryMb(all);
  const logBytes =
    config.observability.logLevel === 'DEBUG' ? A('lambdaLogBytesDebug') : A('lambdaLogBytesInfo');
  const logGb = (bytes: number): number => (million * bytes) / GIB;
  const api = new Figure(prices, '1 million API requests')
    .add('API Gateway REST calls', 1, 'million calls', 'apigw.rest')
    .add('WAF requests inspected (one web ACL per request)', 1, 'million requests', 'waf.requests')
    .add('Lambda invocations', 1, 'million invocations', 'lambda.requests')
    .add(
      `Lambda duration, ${A('apiRouteBilledMs')} ms at ${Math.round(memoryMb)} MB (mean memory of the API's functions)`,
      (million * (A('apiRouteBilledMs') / 1000) * memoryMb) / 1024,
      'GB-seconds',
      'lambda.arm64.gbSecond',
    )
    .add(
      `Cognito ${tier} monthly active users (${A('requestsPerMau')} requests per MAU${tier === 'PLUS' ? '' : '; beyond the 10,000 free'})`,
      million / A('requestsPerMau'),
      'MAUs',
      mauPrice,
    )
    .add(
      `API access logs, ${A('accessLogBytes')} B a request: ingestion`,
      logGb(A('accessLogBytes')),
      'GB',
      'cw.logs.ingest',
    )
    .add(
      `Lambda logs at ${config.observability.logLevel}, ${logBytes} B a request: ingestion`,
      logGb(logBytes),
      'GB',
      'cw.logs.ingest',
    )
    .add(
      `WAF logs, ${A('wafLogBytes')} B a request: ingestion`,
      logGb(A('wafLogBytes')),
      'GB',
      'cw.logs.ingest',
    )
    .add(
      `All those logs kept ${config.observability.logRetentionDays} days (uncompressed size; CloudWatch stores them compressed)`,
      logGb(A('accessLogBytes') + logBytes + A('wafLogBytes')) * retentionMonths,
      'GB-months',
      'cw.logs.store',
    );
  if (tracing) {
    api.add(
      `X-Ray traces, ${A('xraySampledFraction') * 100}% sampled (first 100,000 a month free, not deducted)`,
      A('xraySampledFraction'),
      'million traces',
      'xray.traces',
    );
  }
  if (bodySurcharge) {
    api.note(
      'WAF body inspection above 16 KB',
      `none here: only bodies over 16 KB pay it, i.e. the complete call of an upload of more than ${fmtBytes(largestUploadWithinBody(defaultInspection))} (priced per upload below)`,
    );
  }
  api.note('RDS Proxy, RDS, NAT', 'no per-request charge for database round trips inside the VPC');
  const perMillionApiRequests = api.done();

  // Per monthly active user.
  const perMonthlyActiveUser = new Figure(prices, '1 monthly active user')
    .add(
      `Cognito ${tier}${tier === 'PLUS' ? ' (no free tier)' : ' (beyond the first 10,000 MAUs, which are free)'}`,
      1,
      'MAU',
      mauPrice,
    )
    .done();

  // Per GB uploaded, at several sizes.
  const bucketKey = all.some(
    ([id, r]) =>
      r.Type === 'AWS::S3::Bucket' &&
      /^Uploads(Bucket)?[A-F0-9]{8}$/.test(id) &&
      JSON.stringify(r.Properties?.BucketEncryption ?? {}).includes('"BucketKeyEnabled":true'),
  );
  const scanMemoryMb = scanFunctionMemoryMb(all);
  const apiPerCall = perMillionApiRequests.usd / million;
  const sizes = [100 * MIB, GIB, config.uploads.maxUploadBytes].filter(
    (s, i, a) => s <= config.uploads.maxUploadBytes && a.indexOf(s) === i,
  );
  const uploads: UploadFigure[] = [];
  for (const size of sizes) {
    for (const sha of [false, true]) {
      if (sha && size > MAX_HASHED_BYTES) continue;
      const partSize = partSizeFor(size);
      const parts = partCountFor(size, partSize);
      const gib = size / GIB;
      const signingCalls = Math.ceil(parts / A('partUrlsPerSigningCall'));
      const apiCalls = 2 + signingCalls; // create, sign part URLs in batches, complete
      const readSeconds = (sha ? size : Math.min(size, A('scanHeadMiB') * MIB)) / HASH_BYTES_PER_SECOND;
      const scanSeconds = A('scanInvocationsPerUpload') * A('scanFixedSeconds') + readSeconds;
      const fig = new Figure(
        prices,
        `1 GB uploaded (a ${fmtBytes(size)} upload${sha ? ' with a declared SHA-256' : ''})`,
      )
        .add(
          `S3 requests: CreateMultipartUpload, ${parts} UploadPart (part size ${fmtBytes(partSize)}, partSizeFor), ListParts, Complete`,
          (parts + 3) / 1000,
          'thousand requests',
          's3.put',
        )
        .amount(
          `API calls: create, ${signingCalls} part-signing call${signingCalls === 1 ? '' : 's'}, complete`,
          apiCalls * apiPerCall,
          `${apiCalls} calls × $${round4(apiPerCall * million)} per million API requests (the figure above)`,
        )
        .add('GuardDuty Malware Protection: data scanned', gib, 'GB', 'guardduty.s3.gb')
        .add(
          'GuardDuty Malware Protection: object evaluated',
          1 / 1000,
          'thousand objects',
          'guardduty.s3.objects',
        )
        .add(
          "GuardDuty's read of the object (S3 GET, billed to the bucket owner)",
          1 / 1000,
          'thousand requests',
          's3.get',
        )
        .add('GuardDuty result tag (PutObjectTagging)', 1 / 1000, 'thousand requests', 's3.put')
        .add(
          `Scan Lambda: ${A('scanInvocationsPerUpload')} invocations`,
          A('scanInvocationsPerUpload') / million,
          'million invocations',
          'lambda.requests',
        )
        .add(
          `Scan Lambda duration at ${scanMemoryMb} MB: ${A('scanInvocationsPerUpload')} × ${A('scanFixedSeconds')} s + reading ${sha ? 'the whole object' : `${A('scanHeadMiB')} MiB`} at ${HASH_BYTES_PER_SECOND / MIB} MiB/s (HASH_BYTES_PER_SECOND)`,
          (scanSeconds * scanMemoryMb) / 1024,
          'GB-seconds',
          'lambda.arm64.gbSecond',
        )
        .add('Scan Lambda reads (S3 GET)', 1 / 1000, 'thousand requests', 's3.get');
      if (bucketKey) {
        fig.note(
          'KMS requests',
          `≈ $0: the bucket uses an S3 Bucket Key, so KMS is called per bucket-level data key, not per object or part (without it about ${parts + 3} requests: $${round4(((parts + 3) / 10_000) * (prices['kms.requests'].usd ?? 0))})`,
        );
      } else {
        fig.add(
          'KMS requests (one per part, plus reads)',
          (parts + 3) / 10_000,
          'ten-thousand requests',
          'kms.requests',
        );
      }
      const body = completeBodyBytes(parts);
      if (bodySurcharge && body > defaultInspection) {
        fig.add(
          `WAF inspection of the ${fmt(body)}-byte complete call, beyond the default 16 KB`,
          1 / million,
          'million requests',
          'waf.bodyInspection16k',
        );
      }
      fig.note('Data transfer into S3', 'free');
      const perUpload = fig.done();
      uploads.push({
        ...fig.done(gib),
        sizeBytes: size,
        partSizeBytes: partSize,
        parts,
        sha256Declared: sha,
        usdPerUpload: perUpload.usd,
      });
    }
  }

  // Storage.
  const perGbMonthStored = new Figure(prices, '1 GB-month stored')
    .add('S3 Standard (uploads bucket, SSE-KMS at no storage premium)', 1, 'GB-months', 's3.standard')
    .done();
  const perGbDeletedOrOverwritten = new Figure(prices, '1 GB deleted or overwritten')
    .add(
      `Kept as a noncurrent version for ${config.uploads.noncurrentVersionDays} days (uploads.noncurrentVersionDays)`,
      config.uploads.noncurrentVersionDays / DAYS_PER_MONTH,
      'GB-months',
      's3.standard',
    )
    .done();
  const perGbQuarantined = new Figure(prices, '1 GB quarantined (infected or mistyped)')
    .add(
      `Kept in quarantine for ${config.uploads.quarantineRetentionDays} days (uploads.quarantineRetentionDays)`,
      config.uploads.quarantineRetentionDays / DAYS_PER_MONTH,
      'GB-months',
      's3.standard',
    )
    .done();

  // Egress from the VPC (Lambdas calling AWS APIs or the internet).
  const egress = new Figure(prices, `1 GB through the VPC's egress (${config.network.egress})`);
  if (config.network.egress === 'nat-gateway')
    egress.add('NAT gateway data processing', 1, 'GB', 'vpc.natGateway.gb');
  else if (config.network.egress === 'endpoints')
    egress.add(
      'Interface endpoint data processing (no internet egress exists)',
      1,
      'GB',
      'vpc.interfaceEndpoint.gb',
    );
  else
    egress.note(
      'NAT instance',
      'no processing charge; EC2 data transfer out to the internet is not priced here',
    );
  egress.note('S3 through the gateway endpoint', 'free');
  const perGbEgress = egress.done();

  return {
    perMillionApiRequests,
    perMonthlyActiveUser,
    uploads,
    perGbMonthStored,
    perGbDeletedOrOverwritten,
    perGbQuarantined,
    perGbEgress,
    assumptions: [...used].map((id) => ASSUMPTIONS[id].text),
  };
}

function fmtBytes(bytes: number): string {
  if (bytes >= GIB && bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  return `${bytes} B`;
}
