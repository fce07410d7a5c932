import { beforeAll, describe, expect, it } from '@jest/globals';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { BACKUP_SCHEDULE } from '../../lib/stacks/data-stack';
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
    '%s: PostgreSQL 17 encrypted with the CMK, private, IAM auth, TLS-only parameters',
    (stage) => {
      d(stage).hasResourceProperties('AWS::RDS::DBInstance', {
        Engine: 'postgres',
        EngineVersion: '17.9',
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
        Family: 'postgres17',
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
      // No function is handed a password or a secret (descriptions may mention passwords: account recovery does).
      const environments = Object.values(template.findResources('AWS::Lambda::Function')).map(
        (f) => f.Properties.Environment,
      );
      expect(JSON.stringify(environments)).not.toMatch(/PASSWORD|SecretArn/i);
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

  it.each(['staging', 'prod'] as const)(
    '%s: AWS Backup keeps dailies 30 days and weeklies 12 weeks in a CMK vault, locked, named per deployment',
    (stage) => {
      d(stage).hasResourceProperties('AWS::Backup::BackupVault', {
        EncryptionKeyArn: keyRef,
        BackupVaultName: {
          'Fn::Join': ['', [`citadel-${stage}-`, Match.objectLike({ 'Fn::Select': Match.anyValue() })]],
        },
        LockConfiguration:
          stage === 'prod'
            ? { MinRetentionDays: 30, ChangeableForDays: 3 }
            : Match.objectEquals({ MinRetentionDays: 30 }),
      });
      d(stage).hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Retain' });
      d(stage).hasResourceProperties('AWS::Backup::BackupPlan', {
        BackupPlan: {
          BackupPlanName: Match.anyValue(),
          BackupPlanRule: Match.arrayWith([
            Match.objectLike({
              RuleName: 'Daily',
              Lifecycle: { DeleteAfterDays: 30 },
              ScheduleExpression: BACKUP_SCHEDULE.daily,
            }),
            Match.objectLike({
              RuleName: 'Weekly',
              Lifecycle: { DeleteAfterDays: 84 },
              ScheduleExpression: BACKUP_SCHEDULE.weekly,
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

  it('dev has no AWS Backup vault to outlive cdk destroy: RDS automated backups only', () => {
    for (const type of [
      'AWS::Backup::BackupVault',
      'AWS::Backup::BackupPlan',
      'AWS::Backup::BackupSelection',
    ])
      d('dev').resourceCountIs(type, 0);
    d('dev').hasResourceProperties('AWS::RDS::DBInstance', { BackupRetentionPeriod: 7 });
  });

  it.each(['staging', 'prod'] as const)(
    '%s: AWS Backup jobs start clear of the RDS backup and maintenance windows',
    (stage) => {
      const rules = Object.values(d(stage).findResources('AWS::Backup::BackupPlan'))[0]?.Properties.BackupPlan
        .BackupPlanRule as Array<{
        RuleName: string;
        ScheduleExpression: string;
        StartWindowMinutes: number;
      }>;
      const [instance] = Object.values(d(stage).findResources('AWS::RDS::DBInstance'));
      const busy = rdsBusyWindows(
        instance?.Properties.PreferredBackupWindow,
        instance?.Properties.PreferredMaintenanceWindow,
      );
      expect(rules).toHaveLength(2);
      for (const rule of rules) {
        for (const job of backupJobWindows(rule.ScheduleExpression, rule.StartWindowMinutes)) {
          for (const window of busy)
            expect({ rule: rule.RuleName, overlaps: overlaps(job, window) }).toEqual({
              rule: rule.RuleName,
              overlaps: false,
            });
        }
      }
      // Every day of the week gets exactly one job: the daily rule skips the weekly rule's day.
      const days = rules.flatMap((r) =>
        backupJobWindows(r.ScheduleExpression, r.StartWindowMinutes).map((w) => Math.floor(w[0] / DAY)),
      );
      expect(days.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    },
  );

  it('the window check catches a job that starts inside the maintenance window', () => {
    const busy = rdsBusyWindows('02:00-03:00', 'sun:03:30-sun:04:30');
    const job = backupJobWindows('cron(0 4 ? * SUN *)', 60)[0] as [number, number];
    expect(busy.some((w) => overlaps(job, w))).toBe(true);
    const daily = backupJobWindows('cron(0 4 * * ? *)', 60);
    expect(daily).toHaveLength(7);
    expect(daily.some((j) => busy.some((w) => overlaps(j, w)))).toBe(true);
  });

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
      // Only keys AWS Backup lets restore tests override for RDS instances, and only the network ones.
      RestoreMetadataOverrides: Match.objectEquals({
        dbsubnetgroupname: Match.objectLike({ Ref: Match.anyValue() }),
        vpcsecuritygroupids: Match.anyValue(),
      }),
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

  it.each(['dev', 'staging', 'prod'] as const)(
    '%s: functions that log in to the instance itself load the runtime RDS CAs; proxied and other functions none',
    (stage) => {
      const proxied = stage !== 'dev';
      expect(caBundleProblems(d(stage).toJSON(), api[stage]?.toJSON(), proxied)).toEqual([]);
      // The check sees the defect: an instance-connecting function without the bundle, a proxied one with it.
      const data = structuredClone(d(stage).toJSON());
      const rotation = houseFunctions(data).find(([, env]) => env.ROTATION_STRATEGY) as [string, Env];
      delete rotation[1].NODE_EXTRA_CA_CERTS;
      expect(caBundleProblems(data, api[stage]?.toJSON(), proxied)).toEqual([
        `${rotation[0]} connects to the instance without NODE_EXTRA_CA_CERTS`,
      ]);
      const apiJson = structuredClone((api[stage] as Template).toJSON());
      const route = houseFunctions(apiJson).find(([, env]) => env.CITADEL_DB_HOST) as [string, Env];
      if (proxied) route[1].NODE_EXTRA_CA_CERTS = '/var/runtime/ca-cert.pem';
      else delete route[1].NODE_EXTRA_CA_CERTS;
      expect(caBundleProblems(d(stage).toJSON(), apiJson, proxied)).toHaveLength(1);
    },
  );
});

type Env = Record<string, unknown>;

/** The house functions of a template (those with a Powertools service name) and their environments. */
function houseFunctions(template: Record<string, unknown>): Array<[string, Env]> {
  const resources = (template.Resources ?? {}) as Record<
    string,
    { Type: string; Properties: { Environment?: { Variables?: Env } } }
  >;
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]): [string, Env] => [id, r.Properties.Environment?.Variables ?? {}])
    .filter(([, env]) => env.POWERTOOLS_SERVICE_NAME !== undefined);
}

/**
 * Where the RDS CA bundle is loaded wrongly: every Data stack function (rotations, migrations, restore validation)
 * and, without a proxy, every route function with a database connects to an instance and needs it; nothing else
 * may pay for loading it at each cold start.
 */
function caBundleProblems(data: Env, api: Env | undefined, proxied: boolean): string[] {
  const problems: string[] = [];
  const check = (id: string, env: Env, needs: boolean) => {
    const has = env.NODE_EXTRA_CA_CERTS === '/var/runtime/ca-cert.pem';
    if (needs && !has) problems.push(`${id} connects to the instance without NODE_EXTRA_CA_CERTS`);
    if (!needs && env.NODE_EXTRA_CA_CERTS !== undefined)
      problems.push(`${id} loads CA certificates it never needs`);
  };
  const dataFunctions = houseFunctions(data);
  expect(dataFunctions.length).toBeGreaterThanOrEqual(2);
  for (const [id, env] of dataFunctions) check(id, env, true);
  const apiFunctions = houseFunctions(api ?? {});
  expect(apiFunctions.some(([, env]) => env.CITADEL_DB_HOST)).toBe(true);
  for (const [id, env] of apiFunctions) check(id, env, !proxied && env.CITADEL_DB_HOST !== undefined);
  return problems;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** [start, end) in ms from Sunday 00:00 UTC of one week. */
type Window = [number, number];

const overlaps = (a: Window, b: Window): boolean => a[0] < b[1] && b[0] < a[1];

/**
 * The weekly windows the instance is busy: each day's automated backup window and the weekly maintenance window,
 * each widened by an hour before it (Citadel's margin: a job should be running, not queued, when RDS starts).
 */
function rdsBusyWindows(backupWindow: string, maintenanceWindow: string): Window[] {
  const hm = (t: string) => {
    const [h, m] = t.split(':').map(Number);
    return ((h as number) * 60 + (m as number)) * MINUTE;
  };
  const [bs, be] = backupWindow.split('-') as [string, string];
  const daily = WEEKDAYS.map((_, day): Window => [day * DAY + hm(bs) - 60 * MINUTE, day * DAY + hm(be)]);
  const [ms, me] = maintenanceWindow.split('-').map((part) => {
    const [day, h, m] = part.split(':') as [string, string, string];
    return WEEKDAYS.indexOf(day.toUpperCase()) * DAY + hm(`${h}:${m}`);
  }) as [number, number];
  return [...daily, [ms - 60 * MINUTE, me]];
}

/** The start windows of an AWS Backup cron schedule over one week (minutes and hours fixed; day fields as used here). */
function backupJobWindows(expression: string, startWindowMinutes: number): Window[] {
  const [minute, hour, dayOfMonth, , dayOfWeek] = expression
    .replace(/^cron\(|\)$/g, '')
    .split(' ') as string[];
  const start = (Number(hour) * 60 + Number(minute)) * MINUTE;
  let days: number[];
  if (dayOfWeek === '?' || (dayOfWeek === '*' && dayOfMonth === '?')) days = [0, 1, 2, 3, 4, 5, 6];
  else if (dayOfMonth === '*' || dayOfMonth === '?') {
    days = dayOfWeek?.includes('-')
      ? (() => {
          const [from, to] = dayOfWeek.split('-').map((d) => WEEKDAYS.indexOf(d)) as [number, number];
          return Array.from({ length: to - from + 1 }, (_, i) => from + i);
        })()
      : (dayOfWeek ?? '').split(',').map((d) => WEEKDAYS.indexOf(d));
  } else throw new Error(`unsupported schedule ${expression}`);
  return days.map((day) => [day * DAY + start, day * DAY + start + startWindowMinutes * MINUTE]);
}
