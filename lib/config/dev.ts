import type { StageConfig } from './schema';
import { UPLOAD_TYPES } from './upload-types';

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
  database: {
    instanceType: 't4g.micro',
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 50,
    multiAz: false,
    backupRetentionDays: 7,
    deletionProtection: false,
    proxy: false,
    insights: 'off',
    enhancedMonitoringSeconds: 0,
    logMinDurationMs: 250,
    rotationDays: 30,
    reportingUser: false,
    awsBackup: false,
    restoreTesting: false,
  },
  identity: {
    selfSignUp: true,
    mfaSecondFactors: { sms: false, email: false },
    featurePlan: 'essentials',
    threatProtection: 'off',
    domainPrefix: 'citadel-dev',
    callbackUrls: ['http://localhost:5173/auth/callback'],
    logoutUrls: ['http://localhost:5173/'],
    tokenValidityMinutes: 60,
    refreshTokenValidityDays: 7,
    signInRateLimit: { limit: 10, windowSeconds: 600 },
    clientCredentialsRateLimit: { limit: 100, windowSeconds: 300 },
  },
  uploads: {
    maxUploadBytes: 5 * 1024 ** 3,
    allowedContentTypes: UPLOAD_TYPES,
    quarantineRetentionDays: 7,
    noncurrentVersionDays: 7,
  },
  api: {
    throttle: { rateLimit: 50, burstLimit: 100 },
    corsOrigins: ['http://localhost:5173', 'http://127.0.0.1:5173'],
    perIpRateLimit: { limit: 100, windowSeconds: 60 },
    // The premium tier may send 20 × 60 + 40 = 1,240 a minute; 1,500 leaves room for WAF's estimate.
    machinePerIpRateLimit: { limit: 1500, windowSeconds: 60 },
    perApiKeyRateLimit: { limit: 1500, windowSeconds: 60 },
    usagePlans: {
      basic: { rateLimit: 1, burstLimit: 2, quotaPerDay: 480 },
      standard: { rateLimit: 5, burstLimit: 10, quotaPerDay: 5000 },
      premium: { rateLimit: 20, burstLimit: 40, quotaPerDay: 50000 },
    },
    adminThrottle: { rateLimit: 2, burstLimit: 5 },
    keyRotationOverlapHours: 24,
  },
};
