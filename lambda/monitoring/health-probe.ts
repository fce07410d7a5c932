/**
 * The health probe: every few minutes, reads what CloudWatch does not publish and turns it into metrics the
 * Observability stack alarms on. It runs outside the VPC (GuardDuty has no interface endpoint in Citadel's VPC)
 * and holds only read grants: `guardduty:GetMalwareProtectionPlan` on the one plan and
 * `secretsmanager:DescribeSecret` (metadata, never a value) on the rotated secrets.
 * - `MalwareProtectionPlanActive`: 1 when GuardDuty reports the uploads bucket's plan ACTIVE, else 0.
 * - `SecretRotationAgeHours` (dimension `secret`): hours since each secret was last rotated.
 * A read that fails is logged and leaves its metric out (the alarm treats a missing probe as breaching), and the
 * invocation fails afterwards so the function's error alarm names the cause.
 */
import { GetMalwareProtectionPlanCommand, GuardDutyClient } from '@aws-sdk/client-guardduty';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { PROBE_METRICS } from '../../contract/metrics';
import { observe } from '../shared/observe';
import { logger, metrics, traced } from '../shared/powertools';

/** The probe's configuration, from its environment. */
const probeEnv = z.object({
  /** The plan's ARN (`…:malware-protection-plan/<id>`): the IAM resource, and the id the API takes. */
  CITADEL_MALWARE_PLAN_ARN: z
    .string()
    .regex(/:malware-protection-plan\/[^/]+$/, 'a Malware Protection plan ARN'),
  CITADEL_MASTER_SECRET_ARN: z.string().min(1),
  /** @default no reporting secret (stages without the reporting login) */
  CITADEL_REPORTING_SECRET_ARN: z.string().min(1).optional(),
});

export interface ProbeClients {
  readonly guardDuty: Pick<GuardDutyClient, 'send'>;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
}

export interface ProbeResult {
  readonly malwareProtectionActive?: boolean;
  readonly rotationAgeHours: Record<string, number>;
  readonly failures: string[];
}

const HOUR_MS = 3600 * 1000;

/** Reads the plan status and each secret's last rotation; records what it could read. */
export async function probe(clients: ProbeClients, env: NodeJS.ProcessEnv, now: Date): Promise<ProbeResult> {
  const config = probeEnv.parse(env);
  const planId = config.CITADEL_MALWARE_PLAN_ARN.slice(config.CITADEL_MALWARE_PLAN_ARN.lastIndexOf('/') + 1);
  const rotated: Record<string, string> = {
    master: config.CITADEL_MASTER_SECRET_ARN,
    ...(config.CITADEL_REPORTING_SECRET_ARN ? { reporting: config.CITADEL_REPORTING_SECRET_ARN } : {}),
  };
  const failures: string[] = [];
  let malwareProtectionActive: boolean | undefined;
  try {
    const plan = await clients.guardDuty.send(
      new GetMalwareProtectionPlanCommand({ MalwareProtectionPlanId: planId }),
    );
    malwareProtectionActive = plan.Status === 'ACTIVE';
    if (!malwareProtectionActive) {
      logger.warn('GuardDuty Malware Protection plan is not active', {
        status: plan.Status,
        reasons: plan.StatusReasons?.map((r) => `${r.Code}: ${r.Message}`),
      });
    }
    metrics.addMetric(PROBE_METRICS.malwareProtectionActive, 'Count', malwareProtectionActive ? 1 : 0);
  } catch (error) {
    failures.push('malware protection plan');
    logger.error('could not read the Malware Protection plan', { error });
  }
  const rotationAgeHours: Record<string, number> = {};
  for (const [name, arn] of Object.entries(rotated)) {
    try {
      const secret = await clients.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
      const last = secret.LastRotatedDate ?? secret.CreatedDate;
      if (!last) throw new Error('DescribeSecret returned neither LastRotatedDate nor CreatedDate');
      const hours = Math.max(0, (now.getTime() - last.getTime()) / HOUR_MS);
      rotationAgeHours[name] = hours;
      const single = metrics.singleMetric();
      single.addDimension('secret', name);
      single.addMetric(PROBE_METRICS.rotationAgeHours, 'Count', Math.round(hours * 100) / 100);
      if (secret.RotationEnabled === false) logger.warn('rotation is disabled', { secret: name });
    } catch (error) {
      failures.push(`secret ${name}`);
      logger.error('could not describe a rotated secret', { secret: name, error });
    }
  }
  return { malwareProtectionActive, rotationAgeHours, failures };
}

const clients: ProbeClients = {
  guardDuty: traced(new GuardDutyClient({})),
  secrets: traced(new SecretsManagerClient({})),
};

export const handler = observe(async () => {
  const result = await probe(clients, process.env, new Date());
  logger.info('health probe', { ...result });
  if (result.failures.length > 0)
    throw new Error(`health probe could not read: ${result.failures.join(', ')}`);
  return result;
});
