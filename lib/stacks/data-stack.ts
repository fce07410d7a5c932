import {
  ArnFormat,
  aws_backup as backup,
  CfnOutput,
  type CfnResource,
  Duration,
  aws_ec2 as ec2,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_logs as logs,
  RemovalPolicy,
  aws_rds as rds,
  type aws_secretsmanager as secretsmanager,
  aws_events_targets as targets,
  triggers,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { acknowledge, inPacks } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelFunction, type CitadelFunctionProps } from '../constructs/citadel-function';
import { CitadelStack } from '../constructs/citadel-stack';
import { DeadLetters } from '../constructs/dead-letters';
import type { NetworkStack } from './network-stack';

export interface DataStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
}

/** Names inside PostgreSQL (created by migrations/0001). */
export const DB = {
  name: 'citadel',
  masterUser: 'citadel_admin',
  appUser: 'citadel_app',
  reportingUser: 'citadel_reporting',
  port: 5432,
} as const;

/**
 * When the database is busy with something other than traffic (UTC): RDS's automated backups and weekly
 * maintenance, and AWS Backup's jobs, which start after both with at least an hour's gap (the deploy-order suite
 * checks the gap on the synthesized schedules).
 */
export const BACKUP_SCHEDULE = {
  automatedBackupWindow: '02:00-03:00',
  maintenanceWindow: 'sun:03:30-sun:04:30',
  daily: 'cron(0 5 ? * MON-SAT *)',
  weekly: 'cron(0 5 ? * SUN *)',
} as const;

/** Characters our rotation never puts in a password (they break URLs and shell quoting). */
const EXCLUDED_PASSWORD_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/**
 * The data tier: a customer-managed key, RDS PostgreSQL with IAM authentication in isolated subnets,
 * RDS Proxy with end-to-end IAM (per stage), master and reporting secrets rotated by our own Lambda,
 * AWS Backup (daily + weekly, restore testing in prod) and the deploy-time migration trigger.
 */
export class DataStack extends CitadelStack {
  readonly key: kms.Key;
  readonly instance: rds.DatabaseInstance;
  readonly proxy?: rds.DatabaseProxy;
  readonly masterSecret: secretsmanager.ISecret;
  readonly reportingSecret?: rds.DatabaseSecret;
  /** The reporting secret attached to the instance: what its rotation schedule hangs on. */
  private readonly reportingAttachment?: secretsmanager.ISecret;
  /** AWS Backup's vault, where the stage uses AWS Backup (`database.awsBackup`). */
  readonly backupVault?: backup.BackupVault;
  /** The instance's group: admits the Lambdas and the proxy. */
  readonly databaseSecurityGroup: ec2.SecurityGroup;
  readonly migrations: CitadelFunction;
  readonly rotations: readonly CitadelFunction[];
  /** This stack's dead-letter queues and their key (restore validation, where restore tests run). */
  deadLetters?: DeadLetters;
  /** The weekly restore test and the function that validates each restore (where restore tests run). */
  restoreTesting?: { readonly plan: backup.CfnRestoreTestingPlan; readonly validation: CitadelFunction };
  /** EventBridge rules whose targets have a dead-letter queue (their `InvocationsFailedToBeSentToDlq`). */
  readonly deadLetterRules: events.Rule[] = [];
  private readonly network: NetworkStack;

  constructor(scope: Construct, props: DataStackProps) {
    super(scope, 'Data', { config: props.config, stateful: true });
    const { config, network } = props;
    const db = config.database;
    this.network = network;

    this.key = new kms.Key(this, 'DataKey', {
      description: `Citadel data (${config.stage}): database storage, Performance Insights, secrets, backups`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
    });

    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: network.vpc,
      description: 'Citadel PostgreSQL: from Citadel Lambdas and RDS Proxy only',
      allowAllOutbound: false,
    });

    // The identifier names the log groups RDS writes to, which outlive the stack where data is protected.
    const instanceIdentifier = `citadel-${config.stage}-postgres-${this.deploymentSuffix}`;
    // RDS writes to /aws/rds/instance/<id>/<log>; creating the groups first gives them retention and the CMK.
    const logExports = ['postgresql', 'upgrade', 'iam-db-auth-error'];
    const logGroups = logExports.map(
      (name) =>
        new logs.LogGroup(this, `RdsLogs-${name}`, {
          logGroupName: `/aws/rds/instance/${instanceIdentifier}/${name}`,
          encryptionKey: network.logsKey,
          retention: config.observability.logRetentionDays,
          removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        }),
    );

    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17_9 });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `Citadel ${config.stage}: TLS only, slow-statement and connection logging`,
      parameters: DataStack.parameters(config),
    });

    this.instance = new rds.DatabaseInstance(this, 'Postgres', {
      instanceIdentifier,
      engine,
      instanceType: new ec2.InstanceType(db.instanceType),
      vpc: network.vpc,
      vpcSubnets: network.dataSubnets,
      securityGroups: [this.databaseSecurityGroup],
      publiclyAccessible: false,
      port: DB.port,
      databaseName: DB.name,
      credentials: rds.Credentials.fromGeneratedSecret(DB.masterUser, {
        encryptionKey: this.key,
        excludeCharacters: EXCLUDED_PASSWORD_CHARACTERS,
      }),
      iamAuthentication: true,
      parameterGroup,
      storageType: rds.StorageType.GP3,
      allocatedStorage: db.allocatedStorageGiB,
      maxAllocatedStorage: db.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: this.key,
      multiAz: db.multiAz,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      backupRetention: Duration.days(db.backupRetentionDays),
      preferredBackupWindow: BACKUP_SCHEDULE.automatedBackupWindow,
      preferredMaintenanceWindow: BACKUP_SCHEDULE.maintenanceWindow,
      copyTagsToSnapshot: true,
      deleteAutomatedBackups: !config.protectData,
      deletionProtection: db.deletionProtection,
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      cloudwatchLogsExports: logExports,
      monitoringInterval:
        db.enhancedMonitoringSeconds > 0 ? Duration.seconds(db.enhancedMonitoringSeconds) : undefined,
      ...(db.insights === 'off'
        ? {}
        : {
            enablePerformanceInsights: true,
            performanceInsightEncryptionKey: this.key,
            databaseInsightsMode:
              db.insights === 'advanced'
                ? rds.DatabaseInsightsMode.ADVANCED
                : rds.DatabaseInsightsMode.STANDARD,
            performanceInsightRetention:
              db.insights === 'advanced'
                ? rds.PerformanceInsightRetention.MONTHS_15
                : rds.PerformanceInsightRetention.DEFAULT,
          }),
    });
    for (const group of logGroups) this.instance.node.addDependency(group);
    new CfnOutput(this, 'DatabaseInstanceId', {
      description:
        'The RDS instance identifier (runbooks: aws rds describe-db-instances --db-instance-identifier …)',
      value: this.instance.instanceIdentifier,
    });
    this.masterSecret = this.instance.secret as secretsmanager.ISecret;

    // Migrations and rotation always go straight to the instance; application traffic uses the proxy where there is one.
    this.instance.connections.allowFrom(
      network.lambdaSecurityGroup,
      ec2.Port.tcp(DB.port),
      'PostgreSQL from Citadel Lambdas',
    );
    if (db.proxy) {
      const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
        vpc: network.vpc,
        description: 'Citadel RDS Proxy: from Citadel Lambdas, to PostgreSQL',
        allowAllOutbound: false,
      });
      // End-to-end IAM: the proxy logs in to the database with an IAM token too, as its own role, so that role
      // needs rds-db:connect on the instance's user (RDS user guide, "Configuring IAM authentication for RDS
      // Proxy", end-to-end IAM): `dbuser:<DbiResourceId>/<user>`. Clients need it on the proxy's
      // `dbuser:prx-<id>/<user>` (`grantAppAccess`).
      const proxyRole = new iam.Role(this, 'ProxyRole', {
        assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
        description: 'RDS Proxy of the Citadel database: connects to PostgreSQL as the app role with IAM',
      });
      this.instance.grantConnect(proxyRole, DB.appUser);
      acknowledge(
        proxyRole,
        inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
        'The inline policy is what grantConnect generates: rds-db:connect as the app role on this one instance.',
      );
      this.proxy = new rds.DatabaseProxy(this, 'Proxy', {
        role: proxyRole,
        proxyTarget: rds.ProxyTarget.fromInstance(this.instance),
        vpc: network.vpc,
        vpcSubnets: network.dataSubnets,
        securityGroups: [proxySecurityGroup],
        // End-to-end IAM: clients authenticate with IAM tokens and so does the proxy to the database.
        defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
        iamAuth: true,
        requireTLS: true,
        idleClientTimeout: Duration.minutes(15),
        debugLogging: false,
      });
      // The proxy logs in as soon as its target is registered: register it after the role may connect.
      this.proxy.node.findChild('ProxyTargetGroup').node.addDependency(proxyRole);
    }

    if (this.proxy) {
      this.proxy.connections.allowFrom(
        network.lambdaSecurityGroup,
        ec2.Port.tcp(DB.port),
        'PostgreSQL (IAM) from Citadel Lambdas',
      );
      this.proxy.connections.allowTo(this.instance, ec2.Port.tcp(DB.port), 'RDS Proxy to PostgreSQL');
      // The proxy's target binding also opens the instance's port, given as a token nag cannot resolve.
      for (const rule of this.databaseSecurityGroup.node.children) {
        if (!rule.node.id.includes('{IndirectPort}')) continue;
        acknowledge(
          rule,
          [
            ...inPacks('EC2RestrictedCommonPorts', 'NIST.800.53.R5', 'HIPAA.Security'),
            ...inPacks('EC2RestrictedSSH', 'NIST.800.53.R5', 'HIPAA.Security'),
          ],
          'Added by RDS Proxy target binding: ingress from the proxy security group on the database port (5432, a token at synth), never SSH or a common port.',
        );
      }
    }

    if (db.reportingUser) {
      this.reportingSecret = new rds.DatabaseSecret(this, 'ReportingSecret', {
        username: DB.reportingUser,
        dbname: DB.name,
        encryptionKey: this.key,
        masterSecret: this.masterSecret,
        excludeCharacters: EXCLUDED_PASSWORD_CHARACTERS,
      });
      this.reportingAttachment = this.reportingSecret.attach(this.instance);
    }

    // Migrations first: they create the reporting login, and Secrets Manager rotates a secret at once when its
    // schedule is created, so the schedules wait for the migration (and the migration never races a rotation).
    const migrated = this.addMigrationTrigger();
    this.migrations = migrated.handler;
    this.rotations = this.addRotation(config, migrated.trigger);
    if (db.awsBackup !== false) this.backupVault = this.addBackups(config, db.awsBackup.vaultLock);
    else this.acknowledgeNoBackupPlan(config);
    this.acknowledgeFindings(config);
  }

  /** Parameter group settings; also started on the test PostgreSQL to prove the server accepts them. */
  static parameters(config: StageConfig): Record<string, string> {
    return {
      'rds.force_ssl': '1',
      ssl_min_protocol_version: 'TLSv1.2',
      password_encryption: 'scram-sha-256',
      log_min_duration_statement: String(config.database.logMinDurationMs),
      log_connections: '1',
      log_disconnections: '1',
      log_lock_waits: '1',
      log_temp_files: '10240',
      log_autovacuum_min_duration: '10000',
      log_statement: 'ddl',
      idle_session_timeout: '3600000',
      shared_preload_libraries: 'pg_stat_statements',
    };
  }

  /** Grants `fn` IAM access as the app role (through the proxy where there is one) and returns its env. */
  grantAppAccess(fn: CitadelFunction): Record<string, string> {
    if (this.proxy) this.proxy.grantConnect(fn, DB.appUser);
    else {
      this.instance.grantConnect(fn, DB.appUser);
      fn.trustRdsCertificates();
    }
    return {
      CITADEL_DB_HOST: this.proxy ? this.proxy.endpoint : this.instance.dbInstanceEndpointAddress,
      CITADEL_DB_PORT: String(DB.port),
      CITADEL_DB_NAME: DB.name,
      CITADEL_DB_USER: DB.appUser,
    };
  }

  private vpcFunction(
    id: string,
    props: Omit<CitadelFunctionProps, 'logsKey' | 'vpc' | 'vpcSubnets' | 'securityGroups'>,
  ) {
    const { config } = this;
    // Rotations, migrations and restore validation log in to an instance itself, never through RDS Proxy.
    return new CitadelFunction(this, id, {
      ...props,
      logsKey: this.network.logsKey,
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logLevel: config.observability.logLevel,
      tracing: config.observability.tracing,
      vpc: this.network.vpc,
      vpcSubnets: this.network.appSubnets,
      securityGroups: [this.network.lambdaSecurityGroup],
    }).trustRdsCertificates();
  }

  /**
   * Our own rotation Lambda: single-user for the master, alternating users for reporting. Each schedule is added
   * to the secret's attachment (so the secret already names the instance when the first rotation runs) and waits
   * for the migration trigger (which creates the reporting login): Secrets Manager rotates once, immediately,
   * when a schedule is created, and a first rotation that fails leaves AWSPENDING behind and blocks later ones.
   */
  private addRotation(config: StageConfig, migrated: triggers.Trigger): CitadelFunction[] {
    const every = Duration.days(config.database.rotationDays);
    const master = this.vpcFunction('MasterRotation', {
      entry: 'lambda/rotation/handler.ts',
      serviceName: 'citadel-rotation-master',
      description: 'Rotates the RDS master password (single user)',
      timeout: Duration.seconds(60),
      environment: { ROTATION_STRATEGY: 'single-user' },
    });
    // `instance.secret` is the master secret's attachment to the instance.
    this.masterSecret
      .addRotationSchedule('MasterRotationSchedule', { rotationLambda: master, automaticallyAfter: every })
      .node.addDependency(migrated);
    const functions = [master];
    if (this.reportingAttachment) {
      const reporting = this.vpcFunction('ReportingRotation', {
        entry: 'lambda/rotation/handler.ts',
        serviceName: 'citadel-rotation-reporting',
        description: 'Rotates the read-only reporting login (alternating users)',
        timeout: Duration.seconds(60),
        environment: { ROTATION_STRATEGY: 'alternating-users' },
      });
      this.reportingAttachment
        .addRotationSchedule('ReportingRotationSchedule', {
          rotationLambda: reporting,
          automaticallyAfter: every,
        })
        .node.addDependency(migrated);
      // Alternating users: the master creates and alters the reporting logins.
      this.masterSecret.grantRead(reporting);
      functions.push(reporting);
    }
    return functions;
  }

  /**
   * Applies migrations as the master user on every deploy whose migrations (hence bundle) changed, after the
   * instance, its security group rules and the secrets' attachments exist — but not after the rotation schedules,
   * which wait for it (so the dependencies name the CloudFormation resources, not whole construct subtrees).
   */
  private addMigrationTrigger(): { handler: CitadelFunction; trigger: triggers.Trigger } {
    const fn = this.vpcFunction('Migrations', {
      entry: 'lambda/migrate/handler.ts',
      serviceName: 'citadel-migrations',
      description: 'Applies migrations/*.sql as the master user (deploy-time trigger)',
      timeout: Duration.minutes(5),
      memorySize: 512,
      copyDirectories: ['migrations'],
      environment: {
        CITADEL_MASTER_SECRET_ARN: this.masterSecret.secretArn,
        CITADEL_DB_NAME: DB.name,
        ...(this.reportingSecret ? { CITADEL_REPORTING_SECRET_ARN: this.reportingSecret.secretArn } : {}),
      },
    });
    this.masterSecret.grantRead(fn);
    this.reportingSecret?.grantRead(fn);
    const resourceOf = (construct: { node: Construct['node'] }) => construct.node.defaultChild as CfnResource;
    const trigger = new triggers.Trigger(this, 'MigrateOnDeploy', {
      handler: fn,
      executeAfter: [
        resourceOf(this.instance),
        resourceOf(this.masterSecret),
        ...(this.reportingAttachment ? [resourceOf(this.reportingAttachment)] : []),
      ],
      executeOnHandlerChange: true,
      timeout: Duration.minutes(10),
    });
    trigger.node.addDependency(this.databaseSecurityGroup);
    return { handler: fn, trigger };
  }

  /**
   * Daily (30 days) and weekly (12 weeks) recovery points in a CMK-encrypted, locked vault; restore tests in prod.
   *
   * The jobs start at 05:00 UTC, clear of the instance's automated backup window (02:00–03:00) and Sunday
   * maintenance window (03:30–04:30) with an hour to spare (`BACKUP_SCHEDULE`); the daily rule skips Sunday, the
   * weekly one's day, so no two jobs compete for the instance. The vault is retained where data is protected, so its
   * name carries the stack's deployment suffix: a re-created stack must not collide with the vault it left.
   */
  private addBackups(config: StageConfig, vaultLock: 'governance' | 'compliance'): backup.BackupVault {
    const daily = Duration.days(30);
    const vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: `citadel-${config.stage}-${this.deploymentSuffix}`,
      encryptionKey: this.key,
      removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      // No recovery point may be deleted before the shortest rule's retention. Compliance mode becomes
      // immutable after its 3-day grace time (AWS Backup developer guide, "AWS Backup Vault Lock").
      lockConfiguration: {
        minRetention: daily,
        ...(vaultLock === 'compliance' ? { changeableFor: Duration.days(3) } : {}),
      },
    });
    const plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'Daily',
          scheduleExpression: events.Schedule.expression(BACKUP_SCHEDULE.daily),
          startWindow: Duration.hours(1),
          completionWindow: Duration.hours(4),
          deleteAfter: daily,
        }),
        new backup.BackupPlanRule({
          ruleName: 'Weekly',
          scheduleExpression: events.Schedule.expression(BACKUP_SCHEDULE.weekly),
          startWindow: Duration.hours(1),
          completionWindow: Duration.hours(6),
          deleteAfter: Duration.days(84),
        }),
      ],
    });
    const selection = plan.addSelection('Database', {
      resources: [backup.BackupResource.fromRdsDatabaseInstance(this.instance)],
    });
    acknowledge(
      selection.node.findChild('Role'),
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      ],
      'The AWS-maintained policy AWS Backup documents for backup jobs of the selected resources.',
    );

    if (config.database.restoreTesting) {
      const restoreRole = new iam.Role(this, 'RestoreTestingRole', {
        assumedBy: new iam.ServicePrincipal('backup.amazonaws.com'),
        description: 'AWS Backup restore testing of the Citadel database',
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSBackupServiceRolePolicyForRestores'),
        ],
      });
      this.key.grantDecrypt(restoreRole);
      acknowledge(
        restoreRole,
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]',
        ],
        'The AWS-maintained policy AWS Backup documents for restore jobs; restores create and tag RDS instances it cannot know in advance.',
      );
      acknowledge(
        restoreRole,
        inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
        'The inline policy only lets the restore job decrypt recovery points with the data key (a grant*).',
      );
      const testing = new backup.CfnRestoreTestingPlan(this, 'RestoreTesting', {
        restoreTestingPlanName: `citadel_${config.stage}_weekly`,
        scheduleExpression: 'cron(0 6 ? * MON *)',
        startWindowHours: 4,
        recoveryPointSelection: {
          algorithm: 'LATEST_WITHIN_WINDOW',
          includeVaults: [vault.backupVaultArn],
          recoveryPointTypes: ['SNAPSHOT'],
          selectionWindowDays: 7,
        },
      });
      const restoreSelection = new backup.CfnRestoreTestingSelection(this, 'RestoreTestingSelection', {
        restoreTestingPlanName: testing.restoreTestingPlanName,
        restoreTestingSelectionName: 'citadel_database',
        protectedResourceType: 'RDS',
        iamRoleArn: restoreRole.roleArn,
        protectedResourceArns: [this.instance.instanceArn],
        // Restore into the isolated data subnets behind the database security group (without them AWS Backup
        // infers the default VPC, which this account may not have). Only network keys are overridden: AWS Backup
        // infers the rest from the recovery point (IAM authentication on, not public, single-AZ for a test), and the
        // validator checks exactly those on the restored instance, so a wrong inference fails the test loudly.
        restoreMetadataOverrides: {
          dbsubnetgroupname: (
            this.instance.node.findChild('SubnetGroup').node.defaultChild as rds.CfnDBSubnetGroup
          ).ref,
          vpcsecuritygroupids: JSON.stringify([this.databaseSecurityGroup.securityGroupId]),
        },
        validationWindowHours: 4,
      });
      restoreSelection.addResourceDependency(testing);
      this.addRestoreValidation(testing);
    }
    return vault;
  }

  /** Validates each restore test: private, encrypted with the data key, schema and audit trail readable. */
  private addRestoreValidation(testing: backup.CfnRestoreTestingPlan): void {
    this.deadLetters = new DeadLetters(this, 'DeadLetters');
    const deadLetters = this.deadLetters.queue('RestoreValidationDeadLetters', 'the restore validation');
    const fn = this.vpcFunction('RestoreValidation', {
      entry: 'lambda/restore-validation/handler.ts',
      serviceName: 'citadel-restore-validation',
      description: 'Validates AWS Backup restore tests of the database',
      timeout: Duration.minutes(2),
      invocation: 'async',
      deadLetterQueue: deadLetters,
      environment: {
        CITADEL_DATA_KEY_ARN: this.key.keyArn,
        CITADEL_DB_NAME: DB.name,
        CITADEL_DB_USER: DB.appUser,
      },
    });
    // It logs in as the app role with an IAM token, like the handlers; the restored instance's resource id
    // is only known at restore time, so the grant names the user on any instance of this account.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['rds-db:connect'],
        resources: [
          this.formatArn({
            service: 'rds-db',
            resource: 'dbuser',
            resourceName: `*/${DB.appUser}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    // Restored instances get names AWS Backup chooses, so the read is scoped to this account's instances.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['rds:DescribeDBInstances'],
        resources: [
          this.formatArn({
            service: 'rds',
            resource: 'db',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    // PutRestoreValidationResult has no resource type to scope to.
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['backup:PutRestoreValidationResult'], resources: ['*'] }),
    );
    acknowledge(
      fn.role as iam.Role,
      [
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:db:*]',
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds-db:<AWS::Region>:<AWS::AccountId>:dbuser:*/${DB.appUser}]`,
      ],
      'Restored instances are named by AWS Backup at restore time: describing them is read-only, and connecting is only as the least-privileged app role, in this account and region.',
    );
    const completed = new events.Rule(this, 'RestoreTestCompleted', {
      description: 'A restore test of the Citadel database completed: validate it',
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Restore Job State Change'],
        detail: { status: ['COMPLETED'], restoreTestingPlanArn: [testing.attrRestoreTestingPlanArn] },
      },
      targets: [
        new targets.LambdaFunction(fn, {
          deadLetterQueue: deadLetters,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
    this.deadLetterRules.push(completed);
    this.restoreTesting = { plan: testing, validation: fn };
  }

  /** A stage without AWS Backup (a disposable one) relies on RDS automated backups; say so to the gates. */
  private acknowledgeNoBackupPlan(config: StageConfig): void {
    acknowledge(
      this.instance,
      inPacks('RDSInBackupPlan', 'NIST.800.53.R5', 'HIPAA.Security'),
      `Stage ${config.stage} is disposable: RDS automated backups (${config.database.backupRetentionDays} days, point-in-time restore) cover it, and an AWS Backup vault holding recovery points would make cdk destroy fail. Stages that protect data must use AWS Backup (enforced by the stage config schema).`,
    );
  }

  private acknowledgeFindings(config: StageConfig): void {
    const db = config.database;
    acknowledge(
      this.instance,
      ['AwsSolutions-RDS11'],
      'The default port is kept: the database is reachable only from the Lambda security group in isolated subnets, over TLS with IAM tokens; a non-default port adds no protection.',
    );
    if (!db.multiAz) {
      acknowledge(
        this.instance,
        ['AwsSolutions-RDS3', ...inPacks('RDSMultiAZSupport', 'NIST.800.53.R5', 'HIPAA.Security')],
        `Stage ${config.stage} runs a single AZ to save cost; prod is Multi-AZ (enforced by the stage config schema).`,
      );
    }
    if (!db.deletionProtection) {
      acknowledge(
        this.instance,
        [
          'AwsSolutions-RDS10',
          ...inPacks('RDSInstanceDeletionProtectionEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        ],
        `Stage ${config.stage} is disposable (cdk destroy must work); prod has deletion protection (enforced by the stage config schema).`,
      );
    }
    if (db.enhancedMonitoringSeconds === 0) {
      acknowledge(
        this.instance,
        inPacks('RDSEnhancedMonitoringEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        `Enhanced monitoring is off in ${config.stage} to save cost; staging and prod enable it.`,
      );
    }
    const monitoringRole = this.instance.node.tryFindChild('MonitoringRole');
    if (monitoringRole) {
      acknowledge(
        monitoringRole,
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
        ],
        'The AWS-maintained policy RDS documents for enhanced monitoring, which writes to the RDSOSMetrics log group.',
      );
    }
  }
}
