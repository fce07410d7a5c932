/**
 * Every number the cost model uses that is not a price: what it assumes about the templates' defaults and about
 * traffic. Each carries the sentence `npm run cost` prints, so no assumption is silent.
 */
export interface Assumption {
  readonly value: number;
  readonly text: string;
}

const a = (value: number, text: string): Assumption => ({ value, text });

export const ASSUMPTIONS = {
  rootVolumeGiB: a(
    8,
    'An EC2 root volume with no VolumeSize takes its AMI default: 8 GiB for the Amazon Linux 2023 AMI the NAT instance boots.',
  ),
  detailedMonitoringMetrics: a(
    7,
    'EC2 detailed monitoring is billed as custom metrics: 7 per instance, as in the CloudWatch pricing page example (not verified here).',
  ),
  enhancedMonitoringKiB: a(
    10,
    'RDS Enhanced Monitoring writes one RDSOSMetrics log event per interval, assumed 10 KiB (OS metrics and process list), kept 30 days.',
  ),
  scheduledInvocationSeconds: a(
    1,
    'A scheduled sweep (key expiry, upload expiry) runs 1 s per invocation at its function memory.',
  ),
  apiRouteBilledMs: a(
    60,
    'An API route Lambda bills 60 ms per request on average, cold starts aside (no documented benchmark figure; bench:db compares overheads, not durations).',
  ),
  requestsPerMau: a(
    1000,
    'Each monthly active user makes 1,000 API requests a month, so 1 million requests bring 1,000 MAUs.',
  ),
  accessLogBytes: a(
    700,
    'An API Gateway access-log line is about 700 bytes (the JSON format in the template).',
  ),
  wafLogBytes: a(
    1500,
    'A WAF log record is about 1,500 bytes; every request is logged (no logging filter in the templates).',
  ),
  lambdaLogBytesInfo: a(800, 'A handler logs about 800 bytes per request at INFO (Powertools JSON lines).'),
  lambdaLogBytesDebug: a(3000, 'A handler logs about 3,000 bytes per request at DEBUG.'),
  xraySampledFraction: a(
    0.05,
    "X-Ray records 5% of requests (the default sampling rule's fixed rate; its 1 request/s reservoir is ignored).",
  ),
  backupDailyChange: a(
    0.02,
    'AWS Backup RDS snapshots are incremental: the first is the full database, every later retained point adds 2% of it.',
  ),
  databaseFill: a(
    1,
    'The database fills its allocated storage (an upper bound for backups and restore tests at a given allocation).',
  ),
  restoreHours: a(
    1,
    'A restore test keeps the restored instance for 1 hour of restore plus its validation window, as a Single-AZ instance of the same class.',
  ),
  scanFixedSeconds: a(
    2,
    'The scan-result Lambda spends 2 s per object (database, tagging, moves) besides reading it.',
  ),
  scanHeadMiB: a(
    16,
    'The real-type check reads the first 16 MiB of each object (docs/decisions.md, Uploads).',
  ),
  scanInvocationsPerUpload: a(
    2,
    'The scan pipeline runs twice per upload: on S3 Object Created and on the GuardDuty scan result.',
  ),
  partUrlsPerSigningCall: a(32, 'Clients sign part URLs in batches of 32 (docs/decisions.md, Uploads).'),
} as const;

export type AssumptionId = keyof typeof ASSUMPTIONS;
