/**
 * Resolves a stage's synthesized CloudFormation templates to concrete values, as CloudFormation would in a fake
 * account, so offline suites (IAM simulation, network reachability, deploy order) can reason about real strings.
 *
 * - Environment: account `111122223333`, region `eu-west-1`, partition `aws` (override with {@link ResolverOptions}).
 * - Intrinsics: `Ref` (parameters, pseudo parameters, resources), `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`,
 *   `Fn::Split`, `Fn::ImportValue` (through the other stacks' `Outputs[].Export.Name`), `Fn::If` / `Conditions`
 *   (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`), `Fn::FindInMap`, `Fn::GetAZs`, `Fn::Base64`, and
 *   `AWS::NoValue`.
 * - Physical ids: every resource type Citadel uses gets a deterministic physical id (derived from a hash of stack
 *   and logical id) and the attributes AWS documents for `Ref` and `Fn::GetAtt` (see {@link TYPES}). Names
 *   CloudFormation generates follow its `<stack>-<logicalId>-<suffix>` pattern (lower-case for buckets, cut to
 *   the service's length limit from the middle, keeping the stack-name prefix policies match on).
 * - Anything it cannot resolve (an unknown resource type or attribute, a missing export, a cycle) throws an
 *   {@link UnresolvableError} naming the stack and the path inside the template: never a silent placeholder.
 *
 * Parameters resolve to their `Default`; SSM-typed parameters (`AWS::SSM::Parameter::Value<…>`) cannot be looked
 * up offline and resolve to a deterministic stand-in of the right shape (an AMI id for image parameters).
 */
import { createHash } from 'node:crypto';
import type { CfnResource, CfnTemplate } from './stages';

export interface ResolverOptions {
  /** @default '111122223333' */
  readonly account?: string;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** Values for template parameters, by stack name then parameter name (win over `Default`). */
  readonly parameters?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The fake environment every wiring suite uses unless it says otherwise. */
export const FAKE_ENV = { account: '111122223333', region: 'eu-west-1', partition: 'aws' } as const;

export class UnresolvableError extends Error {
  override readonly name = 'UnresolvableError';
}

/** A resource of the stage: where it is and what it is. */
export interface ResourceHandle {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly resource: CfnResource;
}

/** What a resource type resolves to: its `Ref` value and its `Fn::GetAtt` attributes. */
interface TypeRule {
  ref(r: Ctx): string;
  attributes?: Record<string, (r: Ctx) => unknown>;
}

/** What a type rule may use: the resource, its (lazily resolved) properties and deterministic ids. */
interface Ctx {
  readonly stack: string;
  readonly logicalId: string;
  readonly env: Required<Omit<ResolverOptions, 'parameters'>>;
  /** A resolved property, or `undefined` when absent. */
  prop(name: string): unknown;
  /** A resolved string property, or `undefined`. */
  str(name: string): string | undefined;
  /** Deterministic lower-case hex of `length` characters, distinct per resource and `salt`. */
  hex(length: number, salt?: string): string;
  /** Deterministic upper-case alphanumerics. */
  alnum(length: number, salt?: string): string;
  /** A name CloudFormation generates: `<stack>-<logicalId>-<SUFFIX>`, at most `max` characters. */
  generated(max: number, options?: { lowercase?: boolean }): string;
  uuid(salt?: string): string;
  /** `Ref` of this resource (for attributes that repeat it). */
  ref(): string;
}

const arn = (c: Ctx, service: string, resource: string, { region = true, account = true } = {}): string =>
  `arn:${c.env.partition}:${service}:${region ? c.env.region : ''}:${account ? c.env.account : ''}:${resource}`;

/** Physical ids and attributes AWS documents per resource type (CloudFormation resource reference, "Return values"). */
const TYPES: Record<string, TypeRule> = {
  // Storage
  'AWS::S3::Bucket': {
    ref: (c) => c.str('BucketName') ?? c.generated(63, { lowercase: true }),
    attributes: {
      Arn: (c) => `arn:${c.env.partition}:s3:::${c.ref()}`,
      DomainName: (c) => `${c.ref()}.s3.amazonaws.com`,
      RegionalDomainName: (c) => `${c.ref()}.s3.${c.env.region}.amazonaws.com`,
      DualStackDomainName: (c) => `${c.ref()}.s3.dualstack.${c.env.region}.amazonaws.com`,
      WebsiteURL: (c) => `http://${c.ref()}.s3-website-${c.env.region}.amazonaws.com`,
    },
  },
  'AWS::S3::BucketPolicy': { ref: (c) => c.generated(128) },
  // IAM
  'AWS::IAM::Role': {
    ref: (c) => c.str('RoleName') ?? c.generated(64),
    attributes: {
      Arn: (c) => `arn:${c.env.partition}:iam::${c.env.account}:role${c.str('Path') ?? '/'}${c.ref()}`,
      RoleId: (c) => `AROA${c.alnum(17)}`,
    },
  },
  'AWS::IAM::Policy': { ref: (c) => `${c.logicalId}-${c.alnum(12)}` },
  'AWS::IAM::ManagedPolicy': {
    ref: (c) =>
      `arn:${c.env.partition}:iam::${c.env.account}:policy${c.str('Path') ?? '/'}${c.str('ManagedPolicyName') ?? c.generated(128)}`,
    attributes: { PolicyArn: (c) => c.ref(), PolicyId: (c) => `ANPA${c.alnum(17)}` },
  },
  'AWS::IAM::InstanceProfile': {
    ref: (c) => c.str('InstanceProfileName') ?? c.generated(128),
    attributes: {
      Arn: (c) =>
        `arn:${c.env.partition}:iam::${c.env.account}:instance-profile${c.str('Path') ?? '/'}${c.ref()}`,
    },
  },
  // KMS
  'AWS::KMS::Key': {
    ref: (c) => c.uuid(),
    attributes: { Arn: (c) => arn(c, 'kms', `key/${c.ref()}`), KeyId: (c) => c.ref() },
  },
  'AWS::KMS::Alias': { ref: (c) => c.str('AliasName') ?? `alias/${c.logicalId}` },
  // SQS
  'AWS::SQS::Queue': {
    ref: (c) => `https://sqs.${c.env.region}.amazonaws.com/${c.env.account}/${queueName(c)}`,
    attributes: {
      Arn: (c) => arn(c, 'sqs', queueName(c)),
      QueueName: (c) => queueName(c),
      QueueUrl: (c) => c.ref(),
    },
  },
  'AWS::SQS::QueuePolicy': { ref: (c) => c.generated(128) },
  // Secrets Manager: Ref of a secret, its attachment and its rotation schedule is the secret's ARN.
  'AWS::SecretsManager::Secret': {
    ref: (c) =>
      arn(
        c,
        'secretsmanager',
        `secret:${c.str('Name') ?? `${c.logicalId}-${c.alnum(12)}`}-${c.alnum(6, 'arn')}`,
      ),
    attributes: { Id: (c) => c.ref() },
  },
  'AWS::SecretsManager::SecretTargetAttachment': { ref: (c) => c.str('SecretId') ?? missing(c, 'SecretId') },
  'AWS::SecretsManager::RotationSchedule': { ref: (c) => c.str('SecretId') ?? missing(c, 'SecretId') },
  'AWS::SecretsManager::ResourcePolicy': { ref: (c) => c.str('SecretId') ?? missing(c, 'SecretId') },
  // Lambda
  'AWS::Lambda::Function': {
    ref: (c) => c.str('FunctionName') ?? c.generated(64),
    attributes: { Arn: (c) => arn(c, 'lambda', `function:${c.ref()}`) },
  },
  'AWS::Lambda::Version': {
    // Ref is the version's ARN (function ARN and version number); the first published version is 1.
    ref: (c) => `${functionArn(c, c.str('FunctionName') ?? missing(c, 'FunctionName'))}:1`,
    attributes: { Version: () => '1', FunctionArn: (c) => c.ref() },
  },
  'AWS::Lambda::Permission': { ref: (c) => c.generated(128) },
  // Logs
  'AWS::Logs::LogGroup': {
    ref: (c) => c.str('LogGroupName') ?? c.generated(512),
    attributes: { Arn: (c) => arn(c, 'logs', `log-group:${c.ref()}:*`) },
  },
  // RDS
  'AWS::RDS::DBInstance': {
    ref: (c) => (c.str('DBInstanceIdentifier') ?? c.generated(63, { lowercase: true })).toLowerCase(),
    attributes: {
      'Endpoint.Address': (c) =>
        `${c.ref()}.${c.alnum(12, 'zone').toLowerCase()}.${c.env.region}.rds.amazonaws.com`,
      'Endpoint.Port': (c) => String(c.prop('Port') ?? 5432),
      'Endpoint.HostedZoneId': (c) => `Z${c.alnum(13, 'hz')}`,
      DbiResourceId: (c) => `db-${c.alnum(26, 'dbi')}`,
      DBInstanceArn: (c) => arn(c, 'rds', `db:${c.ref()}`),
    },
  },
  'AWS::RDS::DBProxy': {
    ref: (c) => c.str('DBProxyName') ?? c.generated(63),
    attributes: {
      DBProxyArn: (c) => arn(c, 'rds', `db-proxy:prx-${c.hex(17)}`),
      Endpoint: (c) =>
        `${c.ref().toLowerCase()}.proxy-${c.alnum(12, 'zone').toLowerCase()}.${c.env.region}.rds.amazonaws.com`,
      VpcId: (c) => `vpc-${c.hex(17, 'vpc')}`,
    },
  },
  'AWS::RDS::DBProxyTargetGroup': {
    ref: (c) => arn(c, 'rds', `target-group:prx-tg-${c.hex(17)}`),
    attributes: { TargetGroupArn: (c) => c.ref() },
  },
  'AWS::RDS::DBSubnetGroup': {
    ref: (c) => c.str('DBSubnetGroupName') ?? c.generated(255, { lowercase: true }),
  },
  'AWS::RDS::DBParameterGroup': {
    ref: (c) => c.str('DBParameterGroupName') ?? c.generated(255, { lowercase: true }),
  },
  // Cognito
  'AWS::Cognito::UserPool': {
    ref: (c) => `${c.env.region}_${c.alnum(9)}`,
    attributes: {
      Arn: (c) => arn(c, 'cognito-idp', `userpool/${c.ref()}`),
      ProviderName: (c) => `cognito-idp.${c.env.region}.amazonaws.com/${c.ref()}`,
      ProviderURL: (c) => `https://cognito-idp.${c.env.region}.amazonaws.com/${c.ref()}`,
      UserPoolId: (c) => c.ref(),
    },
  },
  'AWS::Cognito::UserPoolClient': {
    ref: (c) => c.alnum(26).toLowerCase(),
    attributes: {
      ClientId: (c) => c.ref(),
      Name: (c) => c.str('ClientName') ?? c.logicalId,
      ClientSecret: (c) => c.alnum(51, 'secret').toLowerCase(),
    },
  },
  'AWS::Cognito::UserPoolDomain': {
    ref: (c) => c.str('Domain') ?? missing(c, 'Domain'),
    attributes: { CloudFrontDistribution: (c) => `d${c.alnum(13).toLowerCase()}.cloudfront.net` },
  },
  'AWS::Cognito::UserPoolGroup': { ref: (c) => c.str('GroupName') ?? c.generated(128) },
  'AWS::Cognito::UserPoolResourceServer': { ref: (c) => c.str('Identifier') ?? missing(c, 'Identifier') },
  'AWS::Cognito::UserPoolRiskConfigurationAttachment': { ref: (c) => c.generated(128) },
  'AWS::Cognito::ManagedLoginBranding': {
    ref: (c) => c.uuid(),
    attributes: { ManagedLoginBrandingId: (c) => c.ref() },
  },
  // API Gateway
  'AWS::ApiGateway::RestApi': {
    ref: (c) => c.alnum(10).toLowerCase(),
    attributes: { RestApiId: (c) => c.ref(), RootResourceId: (c) => c.alnum(10, 'root').toLowerCase() },
  },
  'AWS::ApiGateway::Resource': {
    ref: (c) => c.alnum(6).toLowerCase(),
    attributes: { ResourceId: (c) => c.ref() },
  },
  'AWS::ApiGateway::Method': { ref: (c) => c.generated(128) },
  'AWS::ApiGateway::Deployment': {
    ref: (c) => c.alnum(6).toLowerCase(),
    attributes: { DeploymentId: (c) => c.ref() },
  },
  'AWS::ApiGateway::Stage': { ref: (c) => c.str('StageName') ?? missing(c, 'StageName') },
  'AWS::ApiGateway::Account': { ref: (c) => c.generated(128) },
  'AWS::ApiGateway::GatewayResponse': { ref: (c) => c.generated(128) },
  'AWS::ApiGateway::RequestValidator': {
    ref: (c) => c.alnum(6).toLowerCase(),
    attributes: { RequestValidatorId: (c) => c.ref() },
  },
  'AWS::ApiGateway::Model': { ref: (c) => c.str('Name') ?? c.logicalId },
  'AWS::ApiGateway::Authorizer': {
    ref: (c) => c.alnum(6).toLowerCase(),
    attributes: { AuthorizerId: (c) => c.ref() },
  },
  'AWS::ApiGateway::UsagePlan': { ref: (c) => c.alnum(6).toLowerCase(), attributes: { Id: (c) => c.ref() } },
  'AWS::ApiGateway::UsagePlanKey': { ref: (c) => c.alnum(10).toLowerCase() },
  'AWS::ApiGateway::ApiKey': {
    ref: (c) => c.alnum(10).toLowerCase(),
    attributes: { APIKeyId: (c) => c.ref() },
  },
  // WAF
  'AWS::WAFv2::WebACL': {
    // Ref is `name|id|scope`.
    ref: (c) => `${webAclName(c)}|${c.uuid()}|${c.str('Scope') ?? 'REGIONAL'}`,
    attributes: {
      Arn: (c) =>
        arn(
          c,
          'wafv2',
          `${(c.str('Scope') ?? 'REGIONAL').toLowerCase()}/webacl/${webAclName(c)}/${c.uuid()}`,
        ),
      Id: (c) => c.uuid(),
      LabelNamespace: (c) => `awswaf:${c.env.account}:webacl:${webAclName(c)}:`,
    },
  },
  'AWS::WAFv2::WebACLAssociation': { ref: (c) => c.generated(128) },
  'AWS::WAFv2::LoggingConfiguration': { ref: (c) => c.str('ResourceArn') ?? missing(c, 'ResourceArn') },
  // EC2 and VPC
  'AWS::EC2::VPC': {
    ref: (c) => `vpc-${c.hex(17)}`,
    attributes: {
      VpcId: (c) => c.ref(),
      CidrBlock: (c) => c.str('CidrBlock') ?? missing(c, 'CidrBlock'),
      CidrBlockAssociations: (c) => [`vpc-cidr-assoc-${c.hex(17, 'cidr')}`],
      DefaultNetworkAcl: (c) => `acl-${c.hex(17, 'acl')}`,
      DefaultSecurityGroup: (c) => `sg-${c.hex(17, 'default-sg')}`,
      Ipv6CidrBlocks: () => [],
    },
  },
  'AWS::EC2::Subnet': {
    ref: (c) => `subnet-${c.hex(17)}`,
    attributes: {
      SubnetId: (c) => c.ref(),
      CidrBlock: (c) => c.str('CidrBlock') ?? missing(c, 'CidrBlock'),
      AvailabilityZone: (c) => c.str('AvailabilityZone') ?? `${c.env.region}a`,
      AvailabilityZoneId: () => 'euw1-az1',
      VpcId: (c) => c.str('VpcId') ?? missing(c, 'VpcId'),
      NetworkAclAssociationId: (c) => `aclassoc-${c.hex(17, 'acl')}`,
      Ipv6CidrBlocks: () => [],
    },
  },
  'AWS::EC2::SecurityGroup': {
    ref: (c) => `sg-${c.hex(17)}`,
    attributes: { GroupId: (c) => c.ref(), VpcId: (c) => c.str('VpcId') ?? missing(c, 'VpcId') },
  },
  'AWS::EC2::SecurityGroupIngress': { ref: (c) => `sgr-${c.hex(17)}` },
  'AWS::EC2::SecurityGroupEgress': { ref: (c) => `sgr-${c.hex(17)}` },
  'AWS::EC2::RouteTable': { ref: (c) => `rtb-${c.hex(17)}`, attributes: { RouteTableId: (c) => c.ref() } },
  'AWS::EC2::SubnetRouteTableAssociation': { ref: (c) => `rtbassoc-${c.hex(17)}` },
  'AWS::EC2::Route': { ref: (c) => c.generated(128) },
  'AWS::EC2::InternetGateway': {
    ref: (c) => `igw-${c.hex(17)}`,
    attributes: { InternetGatewayId: (c) => c.ref() },
  },
  'AWS::EC2::VPCGatewayAttachment': { ref: (c) => c.generated(128) },
  'AWS::EC2::NatGateway': { ref: (c) => `nat-${c.hex(17)}`, attributes: { NatGatewayId: (c) => c.ref() } },
  'AWS::EC2::EIP': {
    ref: (c) => `203.0.113.${Number.parseInt(c.hex(2), 16) % 250}`,
    attributes: { AllocationId: (c) => `eipalloc-${c.hex(17)}`, PublicIp: (c) => c.ref() },
  },
  'AWS::EC2::VPCEndpoint': {
    ref: (c) => `vpce-${c.hex(17)}`,
    attributes: {
      Id: (c) => c.ref(),
      CreationTimestamp: () => '2026-01-01T00:00:00.000Z',
      DnsEntries: (c) => [`Z${c.alnum(13)}:${c.ref()}.${c.str('ServiceName') ?? 'service'}`],
      NetworkInterfaceIds: (c) => [`eni-${c.hex(17, 'eni')}`],
    },
  },
  'AWS::EC2::FlowLog': { ref: (c) => `fl-${c.hex(17)}`, attributes: { Id: (c) => c.ref() } },
  'AWS::EC2::Instance': {
    ref: (c) => `i-${c.hex(17)}`,
    attributes: {
      InstanceId: (c) => c.ref(),
      AvailabilityZone: (c) => c.str('AvailabilityZone') ?? `${c.env.region}a`,
      PrivateIp: (c) => `10.0.0.${Number.parseInt(c.hex(2), 16) % 250}`,
      PrivateDnsName: (c) => `ip-10-0-0-1.${c.env.region}.compute.internal`,
      PublicIp: (c) => `198.51.100.${Number.parseInt(c.hex(2), 16) % 250}`,
      PublicDnsName: (c) => `ec2-198-51-100-1.${c.env.region}.compute.amazonaws.com`,
    },
  },
  'AWS::EC2::LaunchTemplate': {
    ref: (c) => `lt-${c.hex(17)}`,
    attributes: {
      LaunchTemplateId: (c) => c.ref(),
      LatestVersionNumber: () => '1',
      DefaultVersionNumber: () => '1',
    },
  },
  // Events
  'AWS::Events::Rule': {
    ref: (c) => c.str('Name') ?? c.generated(64),
    attributes: {
      Arn: (c) =>
        arn(c, 'events', `rule/${c.str('EventBusName') ? `${c.str('EventBusName')}/` : ''}${c.ref()}`),
    },
  },
  // GuardDuty
  'AWS::GuardDuty::MalwareProtectionPlan': {
    ref: (c) => c.hex(20),
    attributes: {
      Arn: (c) => arn(c, 'guardduty', `malware-protection-plan/${c.ref()}`),
      MalwareProtectionPlanId: (c) => c.ref(),
      CreatedAt: () => '2026-01-01T00:00:00.000Z',
      Status: () => 'ACTIVE',
    },
  },
  // Backup
  'AWS::Backup::BackupVault': {
    ref: (c) => c.str('BackupVaultName') ?? missing(c, 'BackupVaultName'),
    attributes: {
      BackupVaultName: (c) => c.ref(),
      BackupVaultArn: (c) => arn(c, 'backup', `backup-vault:${c.ref()}`),
    },
  },
  'AWS::Backup::BackupPlan': {
    ref: (c) => c.uuid(),
    attributes: {
      BackupPlanId: (c) => c.ref(),
      BackupPlanArn: (c) => arn(c, 'backup', `backup-plan:${c.ref()}`),
      VersionId: (c) => c.alnum(32, 'version'),
    },
  },
  'AWS::Backup::BackupSelection': {
    ref: (c) => c.uuid(),
    attributes: {
      Id: (c) => c.ref(),
      SelectionId: (c) => c.ref(),
      BackupPlanId: (c) => c.str('BackupPlanId'),
    },
  },
  'AWS::Backup::RestoreTestingPlan': {
    ref: (c) => c.str('RestoreTestingPlanName') ?? missing(c, 'RestoreTestingPlanName'),
    attributes: {
      RestoreTestingPlanArn: (c) =>
        arn(c, 'backup', `restore-testing-plan:${c.ref()}-${c.alnum(6).toLowerCase()}`),
    },
  },
  'AWS::Backup::RestoreTestingSelection': {
    ref: (c) => `${c.str('RestoreTestingPlanName')}|${c.str('RestoreTestingSelectionName')}`,
  },
  // On-call (the Observability stack)
  'AWS::SNS::Topic': {
    ref: (c) => arn(c, 'sns', c.str('TopicName') ?? c.generated(256)),
    attributes: { TopicArn: (c) => c.ref(), TopicName: (c) => c.ref().slice(c.ref().lastIndexOf(':') + 1) },
  },
  'AWS::SNS::TopicPolicy': { ref: (c) => c.generated(128) },
  'AWS::SNS::Subscription': {
    ref: (c) => `${c.str('TopicArn') ?? missing(c, 'TopicArn')}:${c.uuid()}`,
    attributes: { Arn: (c) => c.ref() },
  },
  'AWS::CloudWatch::Alarm': {
    ref: (c) => c.str('AlarmName') ?? c.generated(255),
    attributes: { Arn: (c) => arn(c, 'cloudwatch', `alarm:${c.ref()}`) },
  },
  'AWS::CloudWatch::CompositeAlarm': {
    ref: (c) => c.str('AlarmName') ?? c.generated(255),
    attributes: { Arn: (c) => arn(c, 'cloudwatch', `alarm:${c.ref()}`) },
  },
  'AWS::CloudWatch::Dashboard': { ref: (c) => c.str('DashboardName') ?? c.generated(255) },
  'AWS::Logs::MetricFilter': { ref: (c) => c.str('FilterName') ?? c.generated(512) },
  'AWS::Synthetics::Canary': {
    ref: (c) => c.str('Name') ?? missing(c, 'Name'),
    attributes: { Id: (c) => c.uuid(), State: () => 'RUNNING' },
  },
  'AWS::Chatbot::SlackChannelConfiguration': {
    ref: (c) =>
      arn(c, 'chatbot', `chat-configuration/slack-channel/${c.str('ConfigurationName')}`, { region: false }),
    attributes: { Arn: (c) => c.ref() },
  },
  // Custom resources: a generated physical id; their attributes come from the provider at deploy time.
  'AWS::CloudFormation::CustomResource': { ref: (c) => c.generated(128) },
  'AWS::CDK::Metadata': { ref: (c) => c.generated(128) },
};

/** `Custom::<Name>` types are custom resources too. */
const ruleFor = (type: string): TypeRule | undefined =>
  TYPES[type] ?? (type.startsWith('Custom::') ? TYPES['AWS::CloudFormation::CustomResource'] : undefined);

function queueName(c: Ctx): string {
  const given = c.str('QueueName');
  if (given) return given;
  const name = c.generated(c.prop('FifoQueue') === true ? 75 : 80);
  return c.prop('FifoQueue') === true ? `${name}.fifo` : name;
}

function webAclName(c: Ctx): string {
  return c.str('Name') ?? c.generated(128);
}

function functionArn(c: Ctx, nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : arn(c, 'lambda', `function:${nameOrArn}`);
}

function missing(c: Ctx, property: string): never {
  throw new UnresolvableError(
    `${c.stack}/${c.logicalId}: property ${property} is required to name this resource`,
  );
}

const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::Region',
  'AWS::Partition',
  'AWS::URLSuffix',
  'AWS::StackName',
  'AWS::StackId',
  'AWS::NoValue',
  'AWS::NotificationARNs',
]);

/** Returned for `AWS::NoValue`: removed from the enclosing object or list. */
const NO_VALUE = Symbol('AWS::NoValue');

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * The resolver of one stage: templates by stack name, resolved lazily and cached. Every function takes the
 * stack the value appears in, because `Ref` and `Fn::GetAtt` are local to a template.
 */
export class StageResolver {
  readonly env: Required<Omit<ResolverOptions, 'parameters'>>;
  private readonly parameters: NonNullable<ResolverOptions['parameters']>;
  private readonly cache = new Map<string, unknown>();
  private readonly inProgress = new Set<string>();
  private exportsByName: Map<string, { stack: string; value: unknown }> | undefined;

  constructor(
    readonly templates: Readonly<Record<string, CfnTemplate>>,
    options: ResolverOptions = {},
  ) {
    this.env = {
      account: options.account ?? FAKE_ENV.account,
      region: options.region ?? FAKE_ENV.region,
      partition: options.partition ?? FAKE_ENV.partition,
    };
    this.parameters = options.parameters ?? {};
  }

  /** The template of `stack`, or an error naming the stacks there are. */
  template(stack: string): CfnTemplate {
    const template = this.templates[stack];
    if (!template) {
      throw new UnresolvableError(
        `no stack ${stack} in this stage (stacks: ${Object.keys(this.templates).join(', ')})`,
      );
    }
    return template;
  }

  /** Every resource of the stage (that exists under its `Condition`), optionally of one type. */
  resources(type?: string): ResourceHandle[] {
    const found: ResourceHandle[] = [];
    for (const [stack, template] of Object.entries(this.templates)) {
      for (const [logicalId, resource] of Object.entries(template.Resources)) {
        if (type !== undefined && resource.Type !== type) continue;
        if (resource.Condition !== undefined && !this.condition(stack, resource.Condition)) continue;
        found.push({ stack, logicalId, type: resource.Type, resource });
      }
    }
    return found;
  }

  /** The resource `logicalId` of `stack`; throws if it does not exist (or its condition is false). */
  resource(stack: string, logicalId: string): ResourceHandle {
    const resource = this.template(stack).Resources[logicalId];
    if (!resource) throw new UnresolvableError(`${stack}: no resource ${logicalId}`);
    if (resource.Condition !== undefined && !this.condition(stack, resource.Condition)) {
      throw new UnresolvableError(
        `${stack}/${logicalId} is not created (condition ${resource.Condition} is false)`,
      );
    }
    return { stack, logicalId, type: resource.Type, resource };
  }

  /** Resolves every intrinsic in `value` as CloudFormation would in `stack`. */
  resolve(stack: string, value: unknown, path = ''): unknown {
    const resolved = this.resolveValue(stack, value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** {@link resolve}, requiring a string. */
  str(stack: string, value: unknown, path = ''): string {
    const resolved = this.resolve(stack, value, path);
    if (typeof resolved !== 'string') {
      throw new UnresolvableError(`${stack}${path}: expected a string, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  /** A resource's resolved properties (`{}` when it has none). */
  // biome-ignore lint/suspicious/noExplicitAny: resource properties are arbitrary JSON; each suite narrows them.
  properties(stack: string, logicalId: string): Record<string, any> {
    const key = `props:${stack}/${logicalId}`;
    if (!this.cache.has(key)) {
      const { resource } = this.resource(stack, logicalId);
      this.cache.set(
        key,
        this.resolve(stack, resource.Properties ?? {}, `/Resources/${logicalId}/Properties`),
      );
    }
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    return this.cache.get(key) as Record<string, any>;
  }

  /** One resolved property of a resource (`undefined` when absent), without resolving its other properties. */
  property(stack: string, logicalId: string, name: string): unknown {
    return this.memo(`prop:${stack}/${logicalId}.${name}`, () => {
      const { resource } = this.resource(stack, logicalId);
      return this.resolve(stack, resource.Properties?.[name], `/Resources/${logicalId}/Properties/${name}`);
    });
  }

  /** `{ "Ref": logicalId }` in `stack`. */
  ref(stack: string, logicalId: string): string {
    return this.memo(`ref:${stack}/${logicalId}`, () => {
      const { type } = this.resource(stack, logicalId);
      const rule = ruleFor(type);
      if (!rule) throw new UnresolvableError(`${stack}/${logicalId}: no physical id rule for ${type}`);
      return rule.ref(this.ctx(stack, logicalId));
    }) as string;
  }

  /** `{ "Fn::GetAtt": [logicalId, attribute] }` in `stack`. */
  getAtt(stack: string, logicalId: string, attribute: string): unknown {
    return this.memo(`att:${stack}/${logicalId}.${attribute}`, () => {
      const { type } = this.resource(stack, logicalId);
      const getter = ruleFor(type)?.attributes?.[attribute];
      if (!getter) {
        throw new UnresolvableError(
          `${stack}/${logicalId}: attribute ${attribute} of ${type} is not known here`,
        );
      }
      return getter(this.ctx(stack, logicalId));
    });
  }

  /** The value a stack exports under `name` (for `Fn::ImportValue`). */
  exportValue(name: string): unknown {
    if (!this.exportsByName) {
      const exports = new Map<string, { stack: string; value: unknown }>();
      for (const [stack, template] of Object.entries(this.templates)) {
        for (const [outputId, output] of Object.entries(template.Outputs ?? {})) {
          if (!output.Export) continue;
          const exportName = this.str(stack, output.Export.Name, `/Outputs/${outputId}/Export/Name`);
          if (exports.has(exportName)) throw new UnresolvableError(`export ${exportName} is defined twice`);
          exports.set(exportName, { stack, value: output.Value });
        }
      }
      this.exportsByName = exports;
    }
    const found = this.exportsByName.get(name);
    if (!found) throw new UnresolvableError(`no stack of this stage exports ${name}`);
    return this.memo(`export:${name}`, () => this.resolve(found.stack, found.value, `/Outputs(${name})`));
  }

  /** Whether condition `name` of `stack` holds. */
  condition(stack: string, name: string): boolean {
    return this.memo(`cond:${stack}/${name}`, () => {
      const expression = this.template(stack).Conditions?.[name];
      if (expression === undefined) throw new UnresolvableError(`${stack}: no condition ${name}`);
      const value = this.resolve(stack, expression, `/Conditions/${name}`);
      if (typeof value !== 'boolean') {
        throw new UnresolvableError(
          `${stack}: condition ${name} is not a boolean (${JSON.stringify(value)})`,
        );
      }
      return value;
    }) as boolean;
  }

  /** The resource `Ref` of which equals `value`, among resources of `type`; undefined if none. */
  findByRef(type: string, value: string): ResourceHandle | undefined {
    const matches = this.resources(type).filter((r) => this.ref(r.stack, r.logicalId) === value);
    if (matches.length > 1)
      throw new UnresolvableError(`${matches.length} resources of ${type} have Ref ${value}`);
    return matches[0];
  }

  /** The resource of `type` whose attribute `attribute` equals `value`; undefined if none. */
  findByAtt(type: string, attribute: string, value: string): ResourceHandle | undefined {
    const matches = this.resources(type).filter(
      (r) => this.getAtt(r.stack, r.logicalId, attribute) === value,
    );
    if (matches.length > 1) {
      throw new UnresolvableError(`${matches.length} resources of ${type} have ${attribute} ${value}`);
    }
    return matches[0];
  }

  private memo(key: string, compute: () => unknown): unknown {
    if (this.cache.has(key)) return this.cache.get(key);
    if (this.inProgress.has(key)) throw new UnresolvableError(`circular reference while resolving ${key}`);
    this.inProgress.add(key);
    try {
      const value = compute();
      this.cache.set(key, value);
      return value;
    } finally {
      this.inProgress.delete(key);
    }
  }

  private ctx(stack: string, logicalId: string): Ctx {
    const digest = (salt: string) => createHash('sha256').update(`${stack}/${logicalId}/${salt}`).digest();
    const self = this;
    const c: Ctx = {
      stack,
      logicalId,
      env: this.env,
      prop(name) {
        return self.property(stack, logicalId, name);
      },
      str(name) {
        const value = c.prop(name);
        if (value === undefined) return undefined;
        if (typeof value !== 'string') {
          throw new UnresolvableError(`${stack}/${logicalId}: property ${name} is not a string`);
        }
        return value;
      },
      hex: (length, salt = '') => digest(`hex${salt}`).toString('hex').slice(0, length),
      alnum: (length, salt = '') =>
        [...digest(`alnum${salt}`)]
          .slice(0, length)
          .map((b) => ALNUM[b % ALNUM.length])
          .join(''),
      uuid: (salt = '') => {
        const h = digest(`uuid${salt}`).toString('hex');
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
      },
      generated(max, options = {}) {
        const suffix = c.alnum(12, 'name');
        let base = `${stack}-${logicalId}`;
        // CloudFormation keeps the stack-name prefix and the unique suffix when it must shorten a name.
        if (base.length + 1 + suffix.length > max) base = base.slice(0, max - 1 - suffix.length);
        const name = `${base}-${suffix}`;
        return options.lowercase ? name.toLowerCase() : name;
      },
      ref: () => self.ref(stack, logicalId),
    };
    return c;
  }

  private pseudo(stack: string, name: string): unknown {
    switch (name) {
      case 'AWS::AccountId':
        return this.env.account;
      case 'AWS::Region':
        return this.env.region;
      case 'AWS::Partition':
        return this.env.partition;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stack;
      case 'AWS::StackId': {
        const id = createHash('sha256').update(stack).digest('hex');
        return `arn:${this.env.partition}:cloudformation:${this.env.region}:${this.env.account}:stack/${stack}/${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
      }
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
      default:
        throw new UnresolvableError(`${stack}: unknown pseudo parameter ${name}`);
    }
  }

  private parameter(stack: string, name: string): string {
    const given = this.parameters[stack]?.[name];
    if (given !== undefined) return given;
    const declared = this.template(stack).Parameters?.[name] as
      | { Type?: string; Default?: unknown }
      | undefined;
    if (!declared) throw new UnresolvableError(`${stack}: no parameter or resource named ${name}`);
    const type = declared.Type ?? 'String';
    if (type.startsWith('AWS::SSM::Parameter::Value<')) {
      // The value lives in SSM Parameter Store; offline it can only be a stand-in of the right shape.
      const h = createHash('sha256').update(`${stack}/${name}`).digest('hex');
      return type.includes('AWS::EC2::Image::Id') ? `ami-${h.slice(0, 17)}` : `ssm-${h.slice(0, 12)}`;
    }
    if (declared.Default === undefined) {
      throw new UnresolvableError(`${stack}: parameter ${name} has no Default and no value was given`);
    }
    return String(declared.Default);
  }

  private refValue(stack: string, name: string): unknown {
    if (PSEUDO.has(name)) return this.pseudo(stack, name);
    if (this.template(stack).Resources[name]) return this.ref(stack, name);
    return this.parameter(stack, name);
  }

  private resolveValue(stack: string, value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value.map((v, i) => this.resolveValue(stack, v, `${path}/${i}`)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0] as [string, unknown];
      if (key === 'Ref' || key.startsWith('Fn::') || key === 'Condition') {
        return this.intrinsic(stack, key, arg, `${path}/${key}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of entries) {
      const resolved = this.resolveValue(stack, v, `${path}/${key}`);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private list(stack: string, value: unknown, path: string): unknown[] {
    const resolved = this.resolveValue(stack, value, path);
    if (!Array.isArray(resolved)) {
      throw new UnresolvableError(`${stack}${path}: expected a list, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  private string(stack: string, value: unknown, path: string): string {
    const resolved = this.resolveValue(stack, value, path);
    if (typeof resolved === 'number') return String(resolved);
    if (typeof resolved !== 'string') {
      throw new UnresolvableError(`${stack}${path}: expected a string, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  private intrinsic(stack: string, fn: string, arg: unknown, path: string): unknown {
    const fail = (why: string): never => {
      throw new UnresolvableError(`${stack}${path}: ${why}`);
    };
    switch (fn) {
      case 'Ref':
        if (typeof arg !== 'string') fail('Ref takes a name');
        return this.refValue(stack, arg as string);
      case 'Fn::GetAtt': {
        const [logicalId, ...attribute] = Array.isArray(arg)
          ? [arg[0], this.string(stack, arg[1], `${path}/1`)]
          : String(arg).split('.');
        if (typeof logicalId !== 'string' || attribute.length === 0)
          fail('Fn::GetAtt takes [logicalId, attribute]');
        return this.getAtt(stack, logicalId as string, attribute.join('.'));
      }
      case 'Fn::Join': {
        if (!Array.isArray(arg) || arg.length !== 2) fail('Fn::Join takes [delimiter, list]');
        const [delimiter, items] = arg as [unknown, unknown];
        return this.list(stack, items, `${path}/1`)
          .map((item, i) => {
            if (typeof item !== 'string' && typeof item !== 'number') {
              fail(`Fn::Join item ${i} is not a string: ${JSON.stringify(item)}`);
            }
            return String(item);
          })
          .join(this.string(stack, delimiter, `${path}/0`));
      }
      case 'Fn::Select': {
        if (!Array.isArray(arg) || arg.length !== 2) fail('Fn::Select takes [index, list]');
        const index = Number(this.resolveValue(stack, (arg as unknown[])[0], `${path}/0`));
        const items = this.list(stack, (arg as unknown[])[1], `${path}/1`);
        if (!Number.isInteger(index) || index < 0 || index >= items.length) {
          fail(`Fn::Select index ${index} is outside a list of ${items.length}`);
        }
        return items[index];
      }
      case 'Fn::Split': {
        if (!Array.isArray(arg) || arg.length !== 2) fail('Fn::Split takes [delimiter, string]');
        const delimiter = this.string(stack, (arg as unknown[])[0], `${path}/0`);
        return this.string(stack, (arg as unknown[])[1], `${path}/1`).split(delimiter);
      }
      case 'Fn::Sub':
        return this.sub(stack, arg, path);
      case 'Fn::ImportValue':
        return this.exportValue(this.string(stack, arg, path));
      case 'Fn::GetAZs': {
        const region = this.string(stack, arg, path) || this.env.region;
        return ['a', 'b', 'c'].map((zone) => `${region}${zone}`);
      }
      case 'Fn::Base64':
        return Buffer.from(this.string(stack, arg, path)).toString('base64');
      case 'Fn::If': {
        if (!Array.isArray(arg) || arg.length !== 3) fail('Fn::If takes [condition, then, else]');
        const [name, whenTrue, whenFalse] = arg as [string, unknown, unknown];
        return this.condition(stack, name)
          ? this.resolveValue(stack, whenTrue, `${path}/1`)
          : this.resolveValue(stack, whenFalse, `${path}/2`);
      }
      case 'Fn::Equals': {
        if (!Array.isArray(arg) || arg.length !== 2) fail('Fn::Equals takes two values');
        const [a, b] = (arg as unknown[]).map((v, i) => this.resolveValue(stack, v, `${path}/${i}`));
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not': {
        const [inner] = this.list(stack, arg, path);
        if (typeof inner !== 'boolean') fail('Fn::Not takes one condition');
        return !inner;
      }
      case 'Fn::And':
      case 'Fn::Or': {
        const values = this.list(stack, arg, path);
        if (values.some((v) => typeof v !== 'boolean')) fail(`${fn} takes conditions`);
        return fn === 'Fn::And' ? values.every(Boolean) : values.some(Boolean);
      }
      case 'Condition':
        return this.condition(stack, this.string(stack, arg, path));
      case 'Fn::FindInMap': {
        const [map, top, second] = this.list(stack, arg, path).map(String) as [string, string, string];
        const value = (
          this.template(stack).Mappings?.[map] as Record<string, Record<string, unknown>> | undefined
        )?.[top]?.[second];
        if (value === undefined) fail(`no mapping ${map}/${top}/${second}`);
        return this.resolveValue(stack, value, `/Mappings/${map}/${top}/${second}`);
      }
      default:
        return fail(`${fn} is not supported`);
    }
  }

  private sub(stack: string, arg: unknown, path: string): string {
    const [text, variables] = Array.isArray(arg)
      ? (arg as [unknown, Record<string, unknown>?])
      : [arg, undefined];
    if (typeof text !== 'string') throw new UnresolvableError(`${stack}${path}: Fn::Sub takes a string`);
    const vars = Object.fromEntries(
      Object.entries(variables ?? {}).map(([k, v]) => [k, this.resolveValue(stack, v, `${path}/1/${k}`)]),
    );
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_match, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      const value =
        name in vars
          ? vars[name]
          : name.includes('.') && !PSEUDO.has(name)
            ? this.getAtt(stack, name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1))
            : this.refValue(stack, name);
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new UnresolvableError(
          `${stack}${path}: \${${name}} is not a string (${JSON.stringify(value)})`,
        );
      }
      return String(value);
    });
  }
}
