import type { StageConfig } from './schema';

/** Production: no internet egress, data retained and snapshotted, a year of logs. */
export const prod: StageConfig = {
  stage: 'prod',
  owner: 'platform-team',
  protectData: true,
  terminationProtection: true,
  network: {
    cidr: '10.30.0.0/16',
    egress: 'endpoints',
    maxAzs: 2,
    natInstanceType: 't4g.nano',
    flowLogRetentionDays: 365,
  },
  observability: { logRetentionDays: 365, logLevel: 'INFO', tracing: true },
  api: {
    throttle: { rateLimit: 500, burstLimit: 1000 },
    corsOrigins: ['https://app.citadel.example.com'],
    perIpRateLimit: { limit: 100, windowSeconds: 60 },
  },
};
