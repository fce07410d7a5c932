import type { StageConfig } from './schema';

/** Developer sandbox: cheapest egress, everything destroyable. */
export const dev: StageConfig = {
  stage: 'dev',
  owner: 'platform-team',
  protectData: false,
  terminationProtection: false,
  network: {
    cidr: '10.10.0.0/16',
    egress: 'nat-instance',
    maxAzs: 2,
    natInstanceType: 't4g.nano',
    flowLogRetentionDays: 14,
  },
  observability: { logRetentionDays: 14, logLevel: 'DEBUG', tracing: true },
  api: {
    throttle: { rateLimit: 50, burstLimit: 100 },
    corsOrigins: ['http://localhost:5173', 'http://127.0.0.1:5173'],
    perIpRateLimit: { limit: 100, windowSeconds: 60 },
  },
};
