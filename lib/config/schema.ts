import * as z from 'zod';

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

/** WAF rate-based rules evaluate over one of these windows (seconds); the limit floor is 10. */
const WAF_WINDOWS = [60, 120, 300, 600] as const;

const rateRule = z.strictObject({
  limit: z.number().int().min(10, 'WAF rate-based rules need a limit of at least 10 requests'),
  windowSeconds: z.number().refine((w) => (WAF_WINDOWS as readonly number[]).includes(w), {
    message: `WAF evaluates rate rules over ${WAF_WINDOWS.join(', ')} seconds only`,
  }),
});

const httpsOrigin = z
  .string()
  .regex(
    /^(https:\/\/[a-z0-9.-]+(:\d+)?|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?)$/,
    'CORS origins must be https://host[:port] (http only for localhost), with no path or trailing slash',
  );

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
    api: z.strictObject({
      /** Stage-wide steady-state requests per second and burst. */
      throttle: z.strictObject({ rateLimit: z.number().positive(), burstLimit: z.number().int().positive() }),
      corsOrigins: z.array(httpsOrigin).max(20),
      /** Per-IP limit on the API's web ACL (the seeds' "100 per minute"). */
      perIpRateLimit: rateRule,
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
    if (c.stage !== 'dev' && c.api.corsOrigins.some((o) => o.startsWith('http://'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'corsOrigins'],
        message: 'only dev may allow plain-http localhost origins',
      });
    }
  });

export type StageConfig = z.infer<typeof stageConfigSchema>;
