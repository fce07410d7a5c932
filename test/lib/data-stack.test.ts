import { beforeAll, describe, expect, it } from '@jest/globals';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { synthStage } from '../support/cdk';

type Stage = 'dev' | 'staging' | 'prod';
const data: Partial<Record<Stage, Template>> = {};
const api: Partial<Record<Stage, Template>> = {};

beforeAll(() => {
  for (const stage of ['dev', 'staging', 'prod'] as const) {
    const { templates } = synthStage(stage);
    data[stage] = templates.data;
    api[stage] = templates.api;
  }
});

const d = (stage: Stage) => data[stage] as Template;
const keyRef = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] };

/** Logical ids of IAM roles whose policies grant `action` on a resource matching `resource`. */
function rolesGranted(t: Template, action: string, resource: RegExp): string[] {
  const roles = new Set<string>();
  for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      const actions = [statement.Action].flat();
      const resources = JSON.stringify(statement.Resource);
      if (actions.includes(action) && resource.test(resources)) {
        for (const role of policy.Properties.Roles) roles.add(role.Ref);
      }
    }
  }
  return [...roles].sort();
}

describe('Data stack', () => {
  it.each(['dev', 'staging', 'prod'] as const)(
    '%s: PostgreSQL 18 encrypted with the CMK, private, IAM auth, TLS-only parameters',
    (stage) => {
      d(stage).hasResourceProperties('AWS::RDS::DBInstance', {
        Engine: 'postgres',
        EngineVersion: '18',
        StorageEncrypted: true,
        KmsKeyId: keyRef,
        PubliclyAccessible: false,
        EnableIAMDatabaseAuthentication: true,
        StorageType: 'gp3',
        CopyTagsToSnapshot: true,
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade', 'iam-db-auth-error'],
        DBInstanceClass: Match.stringLikeRegexp('^db\\.(t4g|r7g)\\.'),
        MaxAllocatedStorage: Match.anyValue(),
      });
      d(stage).hasResourceProperties('AWS::RDS::DBParameterGroup', {
        Family: 'postgres18',
        Parameters: Match.objectLike({
          'rds.force_ssl': '1',
          log_connections: '1',
          log_min_duration_statement: Match.anyValue(),
        }),
      });
      d(stage).hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    },
  );

  it('prod: Multi-AZ, deletion protection, 30 days of backups, SNAPSHOT on delete, termination protection', () => {
    d('prod').hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({ MultiAZ: true, DeletionProtection: true, BackupRetentionPeriod: 30 }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
    d('prod').hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    d('prod').hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });

  it('dev: single AZ, 7 days of backups, destroyable', () => {
    d('dev').hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({ MultiAZ: false, DeletionProtection: false, BackupRetentionPeriod: 7 }),
      DeletionPolicy: 'Delete',
    });
    d('dev').resourceCountIs('AWS::RDS::DBProxy', 0);
  });

  it.each(['staging', 'prod'] as const)(
    '%s: RDS Proxy requires TLS and authenticates end to end with IAM, holding no secret',
    (stage) => {
      d(stage).hasResourceProperties('AWS::RDS::DBProxy', {
        EngineFamily: 'POSTGRESQL',
        RequireTLS: true,
        DefaultAuthScheme: 'IAM_AUTH',
        Auth: Match.absent(),
      });
    },
  );

  it.each(['dev', 'prod'] as const)(
    '%s: handlers connect as citadel_app with an IAM token, through the proxy where there is one',
    (stage) => {
      const template = api[stage] as Template;
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            CITADEL_DB_USER: 'citadel_app',
            CITADEL_DB_NAME: 'citadel',
            CITADEL_DB_PORT: '5432',
          }),
        },
      });
      const grants = JSON.stringify(template.findResources('AWS::IAM::Policy'));
      expect(grants).toContain('"rds-db:connect"');
      expect(grants).toContain('/citadel_app');
      expect(grants).toContain(stage === 'prod' ? 'DBProxyArn' : 'DbiResourceId');
      expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toMatch(
        /PASSWORD|SecretArn/i,
      );
    },
  );

  it.each(['dev', 'staging', 'prod'] as const)(
    '%s: only the migration trigger and the rotation Lambdas can read the master secret',
    (stage) => {
      const masterSecret = /"PostgresSecretAttachment[0-9A-F]+"/;
      expect(
        rolesGranted(d(stage), 'secretsmanager:GetSecretValue', masterSecret).map((r) =>
          r.replace(/Role[0-9A-F]+$/, ''),
        ),
      ).toEqual(
        stage === 'dev'
          ? ['MasterRotation', 'Migrations']
          : ['MasterRotation', 'Migrations', 'ReportingRotation'],
      );
      expect(rolesGranted(api[stage] as Template, 'secretsmanager:GetSecretValue', /.*/)).toEqual([]);
      expect(rolesGranted(api[stage] as Template, 'kms:Decrypt', /DataKey/)).toEqual([]);
    },
  );

  it.each(['dev', 'staging', 'prod'] as const)(
    '%s: secrets live on the CMK and rotate at least every 30 days',
    (stage) => {
      d(stage).allResourcesProperties('AWS::SecretsManager::Secret', { KmsKeyId: keyRef });
      const schedules = Object.values(d(stage).findResources('AWS::SecretsManager::RotationSchedule'));
      expect(schedules).toHaveLength(stage === 'dev' ? 1 : 2);
      for (const s of schedules) {
        const days = Number(/^rate\((\d+) days\)$/.exec(s.Properties.RotationRules.ScheduleExpression)?.[1]);
        expect(days).toBeGreaterThan(0);
        expect(days).toBeLessThanOrEqual(30);
        expect(JSON.stringify(s.Properties.RotationLambdaARN)).toMatch(/(Master|Reporting)Rotation/);
        expect(s.Properties.HostedRotationLambda).toBeUndefined();
      }
    },
  );

  it('rotates the master single-user and the reporting login with alternating users', () => {
    d('prod').hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('master password'),
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'single-user' }) },
      VpcConfig: Match.anyValue(),
    });
    d('prod').hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROTATION_STRATEGY: 'alternating-users' }) },
    });
    const secrets = JSON.stringify(d('prod').findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toMatch(
      /\\"username\\":\\"citadel_reporting\\",\\"dbname\\":\\"citadel\\",\\"masterarn\\"/,
    );
    expect(secrets).toMatch(/\\"username\\":\\"citadel_admin\\"/);
  });

  it.each(['dev', 'prod'] as const)(
    '%s: a deploy-time trigger applies the migrations whenever they change',
    (stage) => {
      d(stage).hasResourceProperties('Custom::Trigger', {
        ExecuteOnHandlerChange: true,
        InvocationType: 'RequestResponse',
      });
      d(stage).hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('Applies migrations'),
        Timeout: 300,
        Environment: {
          Variables: Match.objectLike({
            CITADEL_MASTER_SECRET_ARN: Match.anyValue(),
            CITADEL_DB_NAME: 'citadel',
          }),
        },
      });
    },
  );

  it.each(['dev', 'staging', 'prod'] as const)(
    '%s: AWS Backup keeps dailies 30 days and weeklies 12 weeks in a CMK vault',
    (stage) => {
      d(stage).hasResourceProperties('AWS::Backup::BackupVault', { EncryptionKeyArn: keyRef });
      d(stage).hasResourceProperties('AWS::Backup::BackupPlan', {
        BackupPlan: {
          BackupPlanName: Match.anyValue(),
          BackupPlanRule: Match.arrayWith([
            Match.objectLike({
              RuleName: 'Daily',
              Lifecycle: { DeleteAfterDays: 30 },
              ScheduleExpression: 'cron(0 4 * * ? *)',
            }),
            Match.objectLike({
              RuleName: 'Weekly',
              Lifecycle: { DeleteAfterDays: 84 },
              ScheduleExpression: 'cron(0 5 ? * SUN *)',
            }),
          ]),
        },
      });
      d(stage).hasResourceProperties('AWS::Backup::BackupSelection', {
        BackupSelection: Match.objectLike({
          Resources: [Match.objectLike({ 'Fn::Join': Match.anyValue() })],
        }),
      });
    },
  );

  it('prod restores the latest recovery point weekly into the private subnets and validates it', () => {
    d('prod').hasResourceProperties('AWS::Backup::RestoreTestingPlan', {
      ScheduleExpression: 'cron(0 6 ? * MON *)',
      RecoveryPointSelection: Match.objectLike({
        Algorithm: 'LATEST_WITHIN_WINDOW',
        RecoveryPointTypes: ['SNAPSHOT'],
      }),
    });
    d('prod').hasResourceProperties('AWS::Backup::RestoreTestingSelection', {
      ProtectedResourceType: 'RDS',
      RestoreMetadataOverrides: Match.objectLike({ publiclyaccessible: 'false' }),
      ValidationWindowHours: Match.anyValue(),
    });
    d('prod').hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.backup'],
        'detail-type': ['Restore Job State Change'],
        detail: { status: ['COMPLETED'], restoreTestingPlanArn: [Match.anyValue()] },
      },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    d('prod').hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Validates AWS Backup restore tests of the database',
      DeadLetterConfig: Match.anyValue(),
      Environment: { Variables: Match.objectLike({ CITADEL_DB_USER: 'citadel_app' }) },
    });
    d('dev').resourceCountIs('AWS::Backup::RestoreTestingPlan', 0);
  });

  it.each(['dev', 'prod'] as const)(
    '%s: the database admits PostgreSQL from the Lambda group only',
    (stage) => {
      const ingress = Object.values(d(stage).findResources('AWS::EC2::SecurityGroupIngress')).map(
        (r) => r.Properties,
      );
      expect(ingress.length).toBeGreaterThan(0);
      for (const rule of ingress) {
        expect(rule.CidrIp).toBeUndefined();
        expect(rule.IpProtocol).toBe('tcp');
      }
      expect(
        ingress.some(
          (r) =>
            r.FromPort === 5432 && JSON.stringify(r.SourceSecurityGroupId).includes('LambdaSecurityGroup'),
        ),
      ).toBe(true);
    },
  );
});
