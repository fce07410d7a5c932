import * as z from 'zod';
import { canonicalMediaType, MEDIA_TYPE_PATTERN } from '../../contract/media-types';
import {
  MAX_BROWSER_ORIGINS,
  WAF_MAX_CUSTOM_RESPONSE_HEADERS,
  WAF_RATE_LIMIT_FLOOR,
  WAF_RATE_WINDOWS,
} from './waf-limits';

/** The stages Citadel knows. Each has exactly one config object in this folder. */
export const STAGES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGES)[number];

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const logRetentionDays = z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
  message: `must be one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
});

const rateRule = z.strictObject({
  limit: z
    .number()
    .int()
    .min(
      WAF_RATE_LIMIT_FLOOR,
      `WAF rate-based rules need a limit of at least ${WAF_RATE_LIMIT_FLOOR} requests`,
    ),
  windowSeconds: z.number().refine((w) => (WAF_RATE_WINDOWS as readonly number[]).includes(w), {
    message: `WAF evaluates rate rules over ${WAF_RATE_WINDOWS.join(', ')} seconds only`,
  }),
});

const httpsOrigin = z
  .string()
  .regex(
    /^(https:\/\/[a-z0-9.-]+(:\d+)?|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?)$/,
    'CORS origins must be https://host[:port] (http only for localhost), with no path or trailing slash',
  );

/** E.164: a plus sign, the country code and the subscriber number, 15 digits at most (SNS SMS needs it). */
const e164 = z
  .string()
  .regex(
    /^\+[1-9]\d{6,14}$/,
    'SMS numbers must be E.164: "+" then country code and number, digits only, e.g. "+447700900123"',
  );

/** Who is told what, and the health checks that watch the stage from outside. */
const alerting = z.strictObject({
  /** Addresses subscribed to both topics (each confirms its subscription by email). @default none */
  emails: z
    .array(z.email('alert emails must be addresses like oncall@example.com'))
    .max(20)
    .refine((a) => new Set(a).size === a.length, 'list each alert email once'),
  /** E.164 numbers subscribed to the critical topic only (pages); the account must be out of the SNS SMS sandbox. */
  smsNumbers: z
    .array(e164)
    .max(10)
    .refine((a) => new Set(a).size === a.length, 'list each SMS number once'),
  /**
   * Slack channel through AWS Chatbot (Amazon Q Developer in chat applications). The workspace must have been
   * authorized once in the Chatbot console; both ids are in the channel's Slack URL.
   * @default - no Slack notifications
   */
  slack: z
    .strictObject({
      workspaceId: z
        .string()
        .regex(/^T[A-Z0-9]{8,20}$/, 'the Slack workspace (team) id starts with T, e.g. T07EA123LEP'),
      channelId: z
        .string()
        .regex(
          /^[CG][A-Z0-9]{8,20}$/,
          'the Slack channel id starts with C (or G, private), e.g. C07EZ1ABC23',
        ),
    })
    .optional(),
  /** Runs the CloudWatch Synthetics canary on both APIs' /v1/health every 5 minutes. */
  canary: z.boolean(),
  /** The WAF alarm fires when more than this share of a web ACL's requests is blocked (percent). */
  wafBlockedPercent: z.number().gt(0).max(100),
  /** Where the runbooks are read by people (the dashboard links each section): docs/runbooks.md in your repository. */
  runbookUrl: z.url().refine((u) => u.startsWith('https://'), 'the runbook URL must be https'),
});

export const stageConfigSchema = z
  .strictObject({
    stage: z.enum(STAGES),
    /** Value of the `Owner` tag: the team that answers for this deployment. */
    owner: z.string().min(1).max(128),
    /** Pinned deploy target; omit for environment-agnostic (offline) synthesis. */
    env: z
      .strictObject({
        account: z.string().regex(/^\d{12}$/, 'account must be a 12-digit AWS account id'),
        region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'region must look like eu-west-1'),
      })
      .optional(),
    /** Prod-like data protection: RETAIN/SNAPSHOT removal policies, termination protection. */
    protectData: z.boolean(),
    terminationProtection: z.boolean(),
    network: z.strictObject({
      cidr: z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-4])$/, 'cidr must be an IPv4 /16–/24 block'),
      /** `nat-instance` is cheapest, `endpoints` has no internet egress at all, `nat-gateway` is managed. */
      egress: z.enum(['nat-instance', 'endpoints', 'nat-gateway']),
      maxAzs: z.number().int().min(2).max(3),
      natInstanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'e.g. t4g.nano'),
      flowLogRetentionDays: logRetentionDays,
    }),
    observability: z.strictObject({
      logRetentionDays,
      logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']),
      tracing: z.boolean(),
    }),
    alerting,
    database: z.strictObject({
      /** Graviton classes only: t4g for small stages, m7g/r7g/m8g/r8g for production. */
      instanceType: z
        .string()
        .regex(
          /^(t4g|m6g|m7g|m8g|r6g|r7g|r8g)\.(micro|small|medium|large|xlarge|\d+xlarge)$/,
          'use a Graviton class, e.g. t4g.micro or r7g.large',
        ),
      allocatedStorageGiB: z.number().int().min(20).max(65536),
      /** Storage autoscaling ceiling. */
      maxAllocatedStorageGiB: z.number().int().max(65536),
      multiAz: z.boolean(),
      /** Automated backup retention (the AWS Backup plan keeps its own daily and weekly copies). */
      backupRetentionDays: z.number().int().min(1).max(35),
      deletionProtection: z.boolean(),
      /** RDS Proxy with end-to-end IAM in front of the instance. */
      proxy: z.boolean(),
      /** Database Insights: standard (7 days of Performance Insights) or advanced (15 months, extra cost). */
      insights: z.enum(['off', 'standard', 'advanced']),
      /** Enhanced monitoring granularity; 0 turns it off. */
      enhancedMonitoringSeconds: z.union([
        z.literal(0),
        z.literal(1),
        z.literal(5),
        z.literal(10),
        z.literal(15),
        z.literal(30),
        z.literal(60),
      ]),
      /** Statements slower than this are logged. */
      logMinDurationMs: z.number().int().min(0),
      /** Days between password rotations (master and reporting). */
      rotationDays: z.number().int().min(1).max(30, 'rotate at least every 30 days'),
      /** Create the read-only reporting login for BI tools that cannot use IAM. */
      reportingUser: z.boolean(),
      /**
       * AWS Backup: daily (30 days) and weekly (12 weeks) recovery points in a vault with Vault Lock —
       * `governance` (principals with the right IAM permission can still remove the lock) or `compliance` (no
       * one can, once its 3-day grace time has passed). `false` keeps only RDS automated backups: for a
       * disposable stage, whose vault and its recovery points would otherwise outlive `cdk destroy`.
       */
      awsBackup: z.union([
        z.literal(false),
        z.strictObject({ vaultLock: z.enum(['governance', 'compliance']) }),
      ]),
      /** AWS Backup restore testing: restore the latest recovery point weekly and validate it. */
      restoreTesting: z.boolean(),
    }),
    identity: z.strictObject({
      /** Anyone may create an account (email verified, MFA enrolled at first sign-in). */
      selfSignUp: z.boolean(),
      /**
       * TOTP is always on; these add SMS and email as second factors. SMS needs the account out of the
       * SNS SMS sandbox; email needs the Essentials or Plus plan and an SES sender (`ses`).
       */
      mfaSecondFactors: z.strictObject({ sms: z.boolean(), email: z.boolean() }),
      /**
       * The SES sender Cognito and Citadel send mail through: invitations, verification and password-reset codes,
       * email MFA codes, threat-protection notices and recovery-code notices. Staging and prod must have one
       * (Cognito's own sender allows about 50 messages a day); dev may use Cognito's. The identity and the
       * configuration set are created and verified outside Citadel, in the SES account and region given here.
       * @default Cognito's own sender (dev only)
       */
      ses: z
        .strictObject({
          /** The verified SES identity: a domain (`example.com`) or an email address. */
          identity: z
            .string()
            .min(3)
            .max(253)
            .regex(
              /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^[^@\s]+@[^@\s]+$/i,
              'an SES identity: a domain like example.com or an email address',
            ),
          /** The From address: the identity itself, or an address of the identity's domain. */
          fromAddress: z.email(),
          fromName: z.string().min(1).max(64).optional(),
          replyTo: z.email().optional(),
          /** Region of the verified identity (required: an environment-agnostic synth knows no region). */
          region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'region must look like eu-west-1'),
          /** SES configuration set every message is sent with (event publishing, suppression, IP pool). */
          configurationSet: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/, 'an SES configuration set name: 1–64 letters, digits, _ and -'),
        })
        .refine(
          (s) =>
            s.identity.includes('@')
              ? s.fromAddress.toLowerCase() === s.identity.toLowerCase()
              : s.fromAddress.toLowerCase().endsWith(`@${s.identity.toLowerCase()}`),
          {
            message:
              'fromAddress must be the identity (an address identity) or an address of the identity (a domain identity): SES sends only from verified identities',
            path: ['fromAddress'],
          },
        )
        .optional(),
      featurePlan: z.enum(['essentials', 'plus']),
      /** Cognito threat protection: needs the Plus plan. */
      threatProtection: z.enum(['off', 'audit', 'enforced']),
      /** Managed-login domain prefix; the account id is appended at deploy so it is unique. */
      domainPrefix: z
        .string()
        .regex(/^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$/, 'lower-case letters, digits and hyphens')
        .refine(
          (p) => !/aws|amazon|cognito/.test(p),
          'Cognito reserves the words aws, amazon and cognito in domain prefixes',
        ),
      callbackUrls: z.array(z.url()).min(1),
      logoutUrls: z.array(z.url()).min(1),
      /** Access and ID token lifetime; revoked JWTs still pass offline checks, so keep it short. */
      tokenValidityMinutes: z
        .number()
        .int()
        .min(5)
        .max(60, 'access and ID tokens must live 60 minutes or less'),
      refreshTokenValidityDays: z.number().int().min(1).max(3650),
      /**
       * Requests that present a password, an MFA code or a recovery code, per client IP, on the user pool's web
       * ACL (the seeds' "5 failed sign-ins per 15 minutes", at WAF's floor). Token refreshes are not counted.
       */
      signInRateLimit: rateRule,
      /**
       * Client-credentials token requests (machine clients) per client IP on the user pool's web ACL: their own
       * rule, at a higher rate than sign-ins (a machine client asks once per token lifetime).
       */
      clientCredentialsRateLimit: rateRule,
    }),
    uploads: z.strictObject({
      /**
       * Largest declared size accepted (bytes). Every object must pass GuardDuty's malware scan before anyone may
       * read it, and GuardDuty Malware Protection for S3 scans objects up to 100 GB (GuardDuty user guide, "Quotas in
       * Malware Protection for S3"): a larger upload could never become downloadable. (S3 itself would take 5 TiB.)
       */
      maxUploadBytes: z
        .number()
        .int()
        .min(1)
        .max(
          100 * 1000 ** 3,
          'GuardDuty Malware Protection for S3 scans objects up to 100 GB; a larger upload could never be scanned clean',
        ),
      /** Declared content types accepted; the real type is checked from the bytes after the scan. */
      allowedContentTypes: z
        .array(
          z
            .string()
            .regex(MEDIA_TYPE_PATTERN, 'a media type like image/png')
            // Declarations are compared by their canonical name: an alias listed here would never match.
            .refine((t) => canonicalMediaType(t) === t, {
              error: (issue) => `${issue.input} is an alias: list ${canonicalMediaType(String(issue.input))}`,
            }),
        )
        .min(1),
      /** How long quarantined (infected or mistyped) objects are kept. */
      quarantineRetentionDays: z.number().int().min(1).max(3650),
      /** Overwritten or deleted versions of uploads are kept this long. */
      noncurrentVersionDays: z.number().int().min(1).max(3650),
    }),
    api: z.strictObject({
      /** Stage-wide steady-state requests per second and burst. */
      throttle: z.strictObject({ rateLimit: z.number().positive(), burstLimit: z.number().int().positive() }),
      /**
       * Browser origins (exact). At most 2: WAF answers a page on each listed origin with its own copy of every
       * refusal, within its 100 custom response headers per web ACL (`MAX_BROWSER_ORIGINS`).
       */
      corsOrigins: z
        .array(httpsOrigin)
        .max(
          MAX_BROWSER_ORIGINS,
          `at most ${MAX_BROWSER_ORIGINS} origins: WAF answers each with its own copy of every refusal (${WAF_MAX_CUSTOM_RESPONSE_HEADERS} response headers per web ACL)`,
        ),
      /** Per-IP limit on the public API's web ACL (the seeds' "100 per minute"). */
      perIpRateLimit: rateRule,
      /**
       * Per-IP limit on the machine API's web ACL, whatever the key: at least what the highest usage-plan tier
       * may send in one window (rate × window + burst), so one client at its tier's full rate passes.
       */
      machinePerIpRateLimit: rateRule,
      /**
       * Per-`x-api-key` limit on the machine API's web ACL: a backstop behind the usage plans (which meter and
       * throttle each key), at least what the highest tier may send in one window.
       */
      perApiKeyRateLimit: rateRule,
      /** Usage-plan tiers for machine clients: steady rate, burst and daily quota per key. */
      usagePlans: z.record(
        z.enum(['basic', 'standard', 'premium']),
        z.strictObject({
          rateLimit: z.number().positive(),
          burstLimit: z.number().int().positive(),
          quotaPerDay: z.number().int().positive(),
        }),
      ),
      /** Tighter method throttling on admin routes. */
      adminThrottle: z.strictObject({
        rateLimit: z.number().positive(),
        burstLimit: z.number().int().positive(),
      }),
      /** How long a rotated API key keeps working next to its successor. */
      keyRotationOverlapHours: z.number().int().min(1).max(168),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.stage === 'prod' && !c.protectData) {
      ctx.addIssue({
        code: 'custom',
        path: ['protectData'],
        message: 'prod must protect its data (RETAIN/SNAPSHOT)',
      });
    }
    if (c.stage === 'prod' && c.network.egress !== 'endpoints') {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'egress'],
        message: "prod must use egress 'endpoints' (no internet egress at all)",
      });
    }
    if (c.database.maxAllocatedStorageGiB < c.database.allocatedStorageGiB) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'maxAllocatedStorageGiB'],
        message: 'must be at least allocatedStorageGiB',
      });
    }
    if (
      c.stage === 'prod' &&
      (!c.database.multiAz || !c.database.deletionProtection || c.database.backupRetentionDays < 30)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['database'],
        message: 'prod needs multiAz, deletionProtection and backupRetentionDays >= 30',
      });
    }
    if (c.protectData && c.database.awsBackup === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'awsBackup'],
        message:
          "a stage that protects its data needs AWS Backup: set awsBackup: { vaultLock: 'governance' } or 'compliance'",
      });
    }
    if (
      c.stage === 'prod' &&
      (c.database.awsBackup === false || c.database.awsBackup.vaultLock !== 'compliance')
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'awsBackup', 'vaultLock'],
        message: "prod's recovery points must be immutable: set awsBackup: { vaultLock: 'compliance' }",
      });
    }
    if (c.database.restoreTesting && c.database.awsBackup === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'restoreTesting'],
        message: 'restore tests restore AWS Backup recovery points: turn awsBackup on, or restoreTesting off',
      });
    }
    if (c.database.insights !== 'off' && c.database.instanceType.startsWith('t4g.micro')) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'insights'],
        message:
          'Performance Insights is not available on db.t4g.micro; use t4g.medium or larger, or insights: off',
      });
    }
    if (c.identity.mfaSecondFactors.email && !c.identity.ses) {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'ses'],
        message:
          'email MFA needs an SES sender: set identity.ses (a verified identity, from-address, region and configuration set), or turn mfaSecondFactors.email off',
      });
    }
    if (c.stage !== 'dev' && !c.identity.ses) {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'ses'],
        message: `${c.stage} is a protected stage and must not rely on Cognito's default email (about 50 messages a day stalls invitations, password resets and notices): set identity.ses to a verified SES identity, from-address, region and configuration set`,
      });
    }
    if (c.identity.threatProtection !== 'off' && c.identity.featurePlan !== 'plus') {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'threatProtection'],
        message: "threat protection needs featurePlan 'plus'",
      });
    }
    if (c.stage === 'prod' && c.identity.threatProtection !== 'enforced') {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'threatProtection'],
        message: 'prod must enforce threat protection',
      });
    }
    for (const field of ['machinePerIpRateLimit', 'perApiKeyRateLimit'] as const) {
      const { limit, windowSeconds } = c.api[field];
      for (const [tier, plan] of Object.entries(c.api.usagePlans)) {
        const needed = Math.ceil(plan.rateLimit * windowSeconds + plan.burstLimit);
        if (limit < needed) {
          ctx.addIssue({
            code: 'custom',
            path: ['api', field, 'limit'],
            message: `the ${tier} tier may send ${needed} requests per ${windowSeconds} s (${plan.rateLimit} rps × ${windowSeconds} s + burst ${plan.burstLimit}); a lower WAF limit throttles its keys below their usage plan: use at least ${needed}`,
          });
        }
      }
    }
    const perSecond = (r: { limit: number; windowSeconds: number }) => r.limit / r.windowSeconds;
    if (perSecond(c.identity.clientCredentialsRateLimit) <= perSecond(c.identity.signInRateLimit)) {
      ctx.addIssue({
        code: 'custom',
        path: ['identity', 'clientCredentialsRateLimit'],
        message: 'must allow a higher rate than signInRateLimit: machine clients are not password guessers',
      });
    }
    if (
      c.stage === 'prod' &&
      c.alerting.emails.length + c.alerting.smsNumbers.length === 0 &&
      !c.alerting.slack
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerting'],
        message:
          'prod pages someone: list at least one alerting.emails address, alerting.smsNumbers number or an alerting.slack channel',
      });
    }
    if (c.stage !== 'dev' && !c.alerting.canary) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerting', 'canary'],
        message: 'staging and prod run the health canary: set alerting.canary to true',
      });
    }
    if (c.stage !== 'dev' && c.api.corsOrigins.some((o) => o.startsWith('http://'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'corsOrigins'],
        message: 'only dev may allow plain-http localhost origins',
      });
    }
  });

export type StageConfig = z.infer<typeof stageConfigSchema>;
