import type { StageConfig } from './schema';
import { UPLOAD_TYPES } from './upload-types';

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
  alerting: {
    emails: ['oncall-staging@citadel.example.com'],
    smsNumbers: [],
    canary: true,
    wafBlockedPercent: 10,
    runbookUrl: 'https://github.com/example/citadel/blob/main/docs/runbooks.md',
  },
  database: {
    instanceType: 't4g.medium',
    allocatedStorageGiB: 50,
    maxAllocatedStorageGiB: 200,
    multiAz: false,
    backupRetentionDays: 14,
    deletionProtection: true,
    proxy: true,
    insights: 'standard',
    enhancedMonitoringSeconds: 60,
    logMinDurationMs: 500,
    rotationDays: 30,
    reportingUser: true,
    awsBackup: { vaultLock: 'governance' },
    restoreTesting: false,
  },
  identity: {
    selfSignUp: false,
    mfaSecondFactors: { sms: true, email: true },
    // PLACEHOLDERS: the platform team replaces these with its verified SES identity, region and configuration set
    // (README, "Stage configuration"); example.com can never be verified, so nothing is sent until they do.
    ses: {
      identity: 'staging.citadel.example.com',
      fromAddress: 'no-reply@staging.citadel.example.com',
      fromName: 'Citadel',
      region: 'eu-west-1',
      configurationSet: 'citadel-staging',
    },
    featurePlan: 'plus',
    threatProtection: 'audit',
    domainPrefix: 'citadel-staging',
    callbackUrls: ['https://staging.citadel.example.com/auth/callback'],
    logoutUrls: ['https://staging.citadel.example.com/'],
    tokenValidityMinutes: 30,
    refreshTokenValidityDays: 7,
    signInRateLimit: { limit: 10, windowSeconds: 600 },
    clientCredentialsRateLimit: { limit: 100, windowSeconds: 300 },
  },
  uploads: {
    maxUploadBytes: 5 * 1024 ** 3,
    allowedContentTypes: UPLOAD_TYPES,
    quarantineRetentionDays: 30,
    noncurrentVersionDays: 30,
  },
  api: {
    throttle: { rateLimit: 100, burstLimit: 200 },
    corsOrigins: ['https://staging.citadel.example.com'],
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
