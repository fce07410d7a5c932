/**
 * The health probe (`lambda/monitoring/health-probe.ts`) against mocked GuardDuty and Secrets Manager: what it
 * reports for an active plan and fresh secrets, an inactive plan, an overdue secret, and reads that fail.
 */
import { GetMalwareProtectionPlanCommand, GuardDutyClient } from '@aws-sdk/client-guardduty';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { probe } from '../../../lambda/monitoring/health-probe';
import { metrics } from '../../../lambda/shared/powertools';

const guardDuty = mockClient(GuardDutyClient);
const secrets = mockClient(SecretsManagerClient);
const clients = { guardDuty: new GuardDutyClient({}), secrets: new SecretsManagerClient({}) };
const ENV = {
  CITADEL_MALWARE_PLAN_ARN: 'arn:aws:guardduty:eu-west-1:123456789012:malware-protection-plan/plan-123',
  CITADEL_MASTER_SECRET_ARN: 'arn:master',
  CITADEL_REPORTING_SECRET_ARN: 'arn:reporting',
};
const NOW = new Date('2026-03-01T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600 * 1000);

afterEach(() => {
  guardDuty.reset();
  secrets.reset();
  jest.restoreAllMocks();
});

describe('health probe', () => {
  it('reports an active plan and the hours since each secret was rotated', async () => {
    const recorded = jest.spyOn(metrics, 'addMetric');
    guardDuty
      .on(GetMalwareProtectionPlanCommand, { MalwareProtectionPlanId: 'plan-123' })
      .resolves({ Status: 'ACTIVE' });
    secrets.on(DescribeSecretCommand, { SecretId: 'arn:master' }).resolves({ LastRotatedDate: hoursAgo(48) });
    secrets.on(DescribeSecretCommand, { SecretId: 'arn:reporting' }).resolves({ CreatedDate: hoursAgo(2) });
    const result = await probe(clients, ENV, NOW);
    expect(result).toEqual({
      malwareProtectionActive: true,
      rotationAgeHours: { master: 48, reporting: 2 },
      failures: [],
    });
    expect(recorded).toHaveBeenCalledWith('MalwareProtectionPlanActive', 'Count', 1);
  });

  it('reports a plan that is not ACTIVE as 0, and an overdue secret by its age', async () => {
    const recorded = jest.spyOn(metrics, 'addMetric');
    guardDuty.on(GetMalwareProtectionPlanCommand).resolves({
      Status: 'ERROR',
      StatusReasons: [{ Code: 'AccessDenied', Message: 'role cannot read the bucket' }],
    });
    secrets
      .on(DescribeSecretCommand)
      .resolves({ LastRotatedDate: hoursAgo(31 * 24 + 5), RotationEnabled: false });
    const result = await probe(clients, ENV, NOW);
    expect(result.malwareProtectionActive).toBe(false);
    expect(result.rotationAgeHours.master).toBe(31 * 24 + 5);
    expect(recorded).toHaveBeenCalledWith('MalwareProtectionPlanActive', 'Count', 0);
  });

  it('leaves out what it could not read, and names it (the alarms treat a missing probe as breaching)', async () => {
    const recorded = jest.spyOn(metrics, 'addMetric');
    guardDuty.on(GetMalwareProtectionPlanCommand).rejects(new Error('AccessDeniedException'));
    secrets.on(DescribeSecretCommand, { SecretId: 'arn:master' }).rejects(new Error('ResourceNotFound'));
    secrets
      .on(DescribeSecretCommand, { SecretId: 'arn:reporting' })
      .resolves({ LastRotatedDate: hoursAgo(1) });
    const result = await probe(clients, ENV, NOW);
    expect(result.malwareProtectionActive).toBeUndefined();
    expect(result.failures).toEqual(['malware protection plan', 'secret master']);
    expect(result.rotationAgeHours).toEqual({ reporting: 1 });
    expect(recorded).not.toHaveBeenCalledWith('MalwareProtectionPlanActive', 'Count', expect.anything());
  });

  it('refuses a configuration it cannot use', async () => {
    await expect(probe(clients, { ...ENV, CITADEL_MALWARE_PLAN_ARN: 'plan-123' }, NOW)).rejects.toThrow(
      /a Malware Protection plan ARN/,
    );
    await expect(probe(clients, { CITADEL_MASTER_SECRET_ARN: 'arn:master' }, NOW)).rejects.toThrow(
      /CITADEL_MALWARE_PLAN_ARN/,
    );
  });
});

describe('metric names the alarms read', () => {
  it('list every Step the rotation Lambda reports (an alarm summing steps would miss a new one)', async () => {
    const { ROTATION_STEPS } = await import('../../../lambda/rotation/steps');
    const { ROTATION_STEP_VALUES, ROTATION_METRICS } = await import('../../../contract/metrics');
    const { METRIC_FAILED } = await import('../../../lambda/rotation/handler');
    expect([...ROTATION_STEP_VALUES]).toEqual([...ROTATION_STEPS, 'invalid']);
    expect(METRIC_FAILED).toBe(ROTATION_METRICS.failed);
  });
});
