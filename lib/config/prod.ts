import type { StageConfig } from './schema';
import { UPLOAD_TYPES } from './upload-types';

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
  alerting: {
    emails: ['oncall@citadel.example.com'],
    smsNumbers: [],
    canary: true,
    wafBlockedPercent: 10,
    runbookUrl: 'https://github.com/example/citadel/blob/main/docs/runbooks.md',
  },
  database: {
    instanceType: 'r7g.large',
    allocatedStorageGiB: 100,
    maxAllocatedStorageGiB: 1000,
    multiAz: true,
    backupRetentionDays: 30,
    deletionProtection: true,
    proxy: true,
    insights: 'advanced',
    enhancedMonitoringSeconds: 15,
    logMinDurationMs: 500,
    rotationDays: 30,
    reportingUser: true,
    awsBackup: { vaultLock: 'compliance' },
    restoreTesting: true,
  },
  identity: {
    selfSignUp: false,
    mfaSecondFactors: { sms: true, email: true },
    // PLACEHOLDERS: the platform team replaces these with its verified SES identity, region and configuration set
    // (README, "Stage configuration"); example.com can never be verified, so nothing is sent until they do.
    ses: {
      identity: 'citadel.example.com',
      fromAddress: 'no-reply@citadel.example.com',
      fromName: 'Citadel',
      region: 'eu-west-1',
      configurationSet: 'citadel-prod',
    },
    featurePlan: 'plus',
    threatProtection: 'enforced',
    domainPrefix: 'citadel-prod',
    callbackUrls: ['https://app.citadel.example.com/auth/callback'],
    logoutUrls: ['https://app.citadel.example.com/'],
    tokenValidityMinutes: 15,
    refreshTokenValidityDays: 30,
    signInRateLimit: { limit: 10, windowSeconds: 600 },
    clientCredentialsRateLimit: { limit: 100, windowSeconds: 300 },
  },
  uploads: {
    maxUploadBytes: 5 * 1024 ** 3,
    allowedContentTypes: UPLOAD_TYPES,
    quarantineRetentionDays: 90,
    noncurrentVersionDays: 30,
  },
  api: {
    throttle: { rateLimit: 500, burstLimit: 1000 },
    corsOrigins: ['https://app.citadel.example.com'],
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
