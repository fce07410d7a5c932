/**
 * Deploy order, from the synthesized templates of every stage: rotation schedules after their secret's
 * attachment and after the migration; the migration after the database and never racing a rotation; associations
 * after what they associate; roles granted before AWS uses them at creation. Each rule is also shown to catch the
 * defect it exists for, on a copy of the templates with that defect put back.
 */
import { describe, expect, it } from '@jest/globals';
import { deployOrderProblems } from '../support/wiring/deploy-order';
import { ALL_STAGES, type CfnResource, type StageTemplates, stageTemplates } from '../support/wiring/stages';

/** A deep copy of `stage` whose Data stack resources `edit` may change. */
function withData(
  stage: StageTemplates,
  edit: (resources: Record<string, CfnResource>) => void,
): StageTemplates {
  const copy = structuredClone(stage) as StageTemplates;
  const data = copy.templates[copy.stackNames.Data as string];
  edit(data?.Resources as Record<string, CfnResource>);
  return copy;
}
const ofType = (resources: Record<string, CfnResource>, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);
const dependsOn = (r: CfnResource): string[] => [r.DependsOn ?? []].flat();

describe.each(ALL_STAGES)('deploy order (%s)', (stage) => {
  it('holds every rule', () => {
    expect(deployOrderProblems(stageTemplates(stage))).toEqual([]);
  });

  it('has the resources the rules are about', () => {
    const { templates, stackNames, config } = stageTemplates(stage);
    const data = templates[stackNames.Data as string]?.Resources ?? {};
    expect(ofType(data, 'Custom::Trigger')).toHaveLength(1);
    expect(ofType(data, 'AWS::SecretsManager::RotationSchedule')).toHaveLength(
      config.database.reportingUser ? 2 : 1,
    );
  });

  it('catches a rotation schedule that does not wait for the migration', () => {
    const broken = withData(stageTemplates(stage), (resources) => {
      for (const [, schedule] of ofType(resources, 'AWS::SecretsManager::RotationSchedule')) {
        (schedule as { DependsOn?: string[] }).DependsOn = dependsOn(schedule).filter(
          (d) => d !== 'MigrateOnDeploy',
        );
      }
    });
    expect(deployOrderProblems(broken)).toContainEqual(
      expect.stringMatching(/does not wait for .*MigrateOnDeploy/),
    );
  });

  it('catches a rotation schedule on the secret instead of its attachment', () => {
    const broken = withData(stageTemplates(stage), (resources) => {
      const [[, schedule]] = ofType(resources, 'AWS::SecretsManager::RotationSchedule') as [
        [string, CfnResource],
      ];
      const { Ref } = (schedule.Properties as Record<string, unknown>).SecretId as { Ref: string };
      const attachment = resources[Ref] as CfnResource;
      (schedule.Properties as Record<string, unknown>).SecretId = attachment.Properties?.SecretId;
    });
    expect(deployOrderProblems(broken)).toContainEqual(expect.stringMatching(/not a secret attachment/));
  });

  it('catches a migration that waits for a rotation schedule (the race)', () => {
    const broken = withData(stageTemplates(stage), (resources) => {
      const [[scheduleId, schedule]] = ofType(resources, 'AWS::SecretsManager::RotationSchedule') as [
        [string, CfnResource],
      ];
      (schedule as { DependsOn?: string[] }).DependsOn = dependsOn(schedule).filter(
        (d) => d !== 'MigrateOnDeploy',
      );
      const trigger = resources.MigrateOnDeploy as { DependsOn?: string[] };
      trigger.DependsOn = [...dependsOn(trigger as CfnResource), scheduleId];
    });
    expect(deployOrderProblems(broken)).toContainEqual(expect.stringMatching(/races the rotation/));
  });

  it('catches a migration that can run before the rules that let it into the database', () => {
    const broken = withData(stageTemplates(stage), (resources) => {
      const trigger = resources.MigrateOnDeploy as { DependsOn?: string[] };
      trigger.DependsOn = dependsOn(trigger as CfnResource).filter(
        (d) => !d.startsWith('DatabaseSecurityGroup'),
      );
    });
    expect(deployOrderProblems(broken)).toContainEqual(
      expect.stringMatching(/MigrateOnDeploy can run before .*DatabaseSecurityGroup.*5432/),
    );
  });

  it('catches an association that names its target by a literal', () => {
    const broken = withData(stageTemplates(stage), (resources) => {
      const [[, attachment]] = ofType(resources, 'AWS::SecretsManager::SecretTargetAttachment') as [
        [string, CfnResource],
      ];
      (attachment.Properties as Record<string, unknown>).TargetId = 'citadel-postgres';
    });
    expect(deployOrderProblems(broken)).toContainEqual(
      expect.stringMatching(/names its TargetId by a literal/),
    );
  });
});

describe('roles granted before AWS uses them at creation', () => {
  it('catches a GuardDuty plan created before its role’s policy', () => {
    const stage = stageTemplates('prod');
    const copy = structuredClone(stage) as StageTemplates;
    const storage = copy.templates[copy.stackNames.Storage as string]?.Resources as Record<
      string,
      CfnResource
    >;
    const [[, plan]] = ofType(storage, 'AWS::GuardDuty::MalwareProtectionPlan') as [[string, CfnResource]];
    const {
      'Fn::GetAtt': [roleId],
    } = (plan.Properties as Record<string, unknown>).Role as { 'Fn::GetAtt': [string] };
    const role = storage[roleId] as CfnResource;
    // The policy attached inline after the role exists, rather than as a managed policy the role is created with.
    (role.Properties as Record<string, unknown>).ManagedPolicyArns = [];
    storage.LatePolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: { Roles: [{ Ref: roleId }], PolicyDocument: { Statement: [] }, PolicyName: 'late' },
    };
    expect(deployOrderProblems(copy)).toContainEqual(
      expect.stringMatching(/MalwareProtectionPlan.* before .*LatePolicy/),
    );
  });

  it('catches an RDS Proxy target registered before the proxy role may connect', () => {
    const stage = stageTemplates('prod');
    const copy = structuredClone(stage) as StageTemplates;
    const data = copy.templates[copy.stackNames.Data as string]?.Resources as Record<string, CfnResource>;
    for (const [, group] of ofType(data, 'AWS::RDS::DBProxyTargetGroup')) {
      (group as { DependsOn?: string[] }).DependsOn = dependsOn(group).filter(
        (d) => !d.startsWith('ProxyRole'),
      );
    }
    expect(deployOrderProblems(copy)).toContainEqual(
      expect.stringMatching(/ProxyTargetGroup.* before .*ProxyRole/),
    );
  });
});
