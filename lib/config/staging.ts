import type { StageConfig } from './schema';

/** Pre-production: prod's shape at a smaller size; data is retained. */
export const staging: StageConfig = {
  stage: 'staging',
  owner: 'platform-team',
  protectData: true,
  terminationProtection: false,
  network: {
    cidr: '10.20.0.0/16',
    egress: 'nat-gateway',
    maxAzs: 2,
    natInstanceType: 't4g.nano',
    flowLogRetentionDays: 90,
  },
  observability: { logRetentionDays: 90, logLevel: 'INFO', tracing: true },
  api: {
    throttle: { rateLimit: 100, burstLimit: 200 },
    corsOrigins: ['https://staging.citadel.example.com'],
    perIpRateLimit: { limit: 100, windowSeconds: 60 },
  },
};
