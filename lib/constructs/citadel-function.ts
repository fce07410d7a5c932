import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Duration,
  type aws_ec2 as ec2,
  aws_iam as iam,
  type aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  RemovalPolicy,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { LAMBDA_CA_BUNDLE } from '../../lambda/shared/db/tls';
import { acknowledge, inPacks } from '../compliance';
import { HOUSE_BUNDLING, HOUSE_RUNTIME } from './bundling';

/** Repository root: entries in the route table are relative to it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CitadelFunctionProps {
  /** Handler module, relative to the repository root (e.g. `lambda/health/get-health.ts`) or absolute. */
  readonly entry: string;
  /** Exported handler name. @default 'handler' */
  readonly handler?: string;
  /** Powertools service name (logs `service`, metrics dimension). */
  readonly serviceName: string;
  /** @default - none */
  readonly description?: string;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /**
   * Merged with the house environment: the caller's keys win, except the switches that keep events and
   * traced responses out of logs and traces. @default {}
   */
  readonly environment?: Record<string, string>;
  /** Key that encrypts the function's log group. */
  readonly logsKey: kms.IKey;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the log group on stack deletion. @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Active X-Ray tracing. @default true */
  readonly tracing?: boolean;
  /** Place the function in this VPC. @default - not in a VPC */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - a new security group */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How the function is invoked. Synchronous callers (API Gateway, triggers) receive failures
   * themselves; asynchronous ones (EventBridge, schedules) need a dead-letter queue.
   * @default 'sync'
   */
  readonly invocation?: 'sync' | 'async';
  /**
   * Run as this role instead of a new one: for a role another construct owns because a resource policy
   * names it (pass it imported with `mutable: true` from another stack). The house grants (log group,
   * tracing) are added to it; a VPC function's role must already carry the VPC access policy.
   * @default - a new role for this function only
   */
  readonly role?: iam.IRole;
  /** Required for `invocation: 'async'`. @default - none */
  readonly deadLetterQueue?: sqs.IQueue;
  /** @default 2 (Lambda's default for async invocations) */
  readonly retryAttempts?: number;
  /**
   * Repository directories copied next to the bundle (e.g. `migrations`), readable at run time from
   * `import.meta.dirname`. They are part of the asset, so changing them changes the code hash.
   * @default []
   */
  readonly copyDirectories?: readonly string[];
}

/**
 * `NodejsFunction` with the house defaults: arm64, the newest Node.js runtime, ESM minified bundles with
 * source maps, explicit memory and timeout, an explicit KMS-encrypted log group with retention, JSON
 * logs and the Powertools environment.
 */
export class CitadelFunction extends NodejsFunction {
  /** Configured memory (MiB): the memory alarm compares each invocation's peak use with it. */
  readonly memorySizeMiB: number;
  /** Powertools service name: the `service` dimension of the function's own metrics. */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: CitadelFunctionProps) {
    const invocation = props.invocation ?? 'sync';
    if (invocation === 'async' && !props.deadLetterQueue) {
      throw new Error(
        `CitadelFunction ${id}: asynchronously invoked functions need a deadLetterQueue so no event is lost.`,
      );
    }
    if (invocation === 'sync' && props.deadLetterQueue) {
      throw new Error(
        `CitadelFunction ${id}: a deadLetterQueue only receives asynchronous invocations; drop it or set invocation: 'async'.`,
      );
    }
    // An explicit role: write access to this function's own log group only, no AWSLambdaBasicExecutionRole.
    const ownRole = props.role === undefined;
    const role =
      props.role ??
      new iam.Role(scope, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${id}`,
        managedPolicies: props.vpc
          ? [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')]
          : [],
      });
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      encryptionKey: props.logsKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const logLevel = props.logLevel ?? 'INFO';
    const tracing = props.tracing ?? true;
    const entry = path.isAbsolute(props.entry) ? props.entry : path.join(PROJECT_ROOT, props.entry);
    super(scope, id, {
      entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      role,
      runtime: HOUSE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: props.copyDirectories?.length
        ? {
            ...HOUSE_BUNDLING,
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: (inputDir: string, outputDir: string) =>
                (props.copyDirectories ?? []).map((dir) => {
                  if (!/^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/i.test(dir))
                    throw new Error(`copyDirectories: invalid path ${dir}`);
                  return `cp -R "${inputDir}/${dir}" "${outputDir}/${path.basename(dir)}"`;
                }),
            },
          }
        : HOUSE_BUNDLING,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
      // INFO, not WARN: Lambda emits `platform.report` (duration, peak memory) at INFO, and the memory alarm's
      // metric filter reads it (Lambda developer guide, "Log-level filtering", system log level event mapping).
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.securityGroups,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.retryAttempts,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
        POWERTOOLS_LOG_LEVEL: logLevel,
        POWERTOOLS_TRACE_ENABLED: String(tracing),
        ...props.environment,
        // Whole events and traced responses can carry tokens and presigned URLs: never record them.
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
      },
    });
    this.memorySizeMiB = props.memorySize ?? 256;
    this.serviceName = props.serviceName;
    logGroup.grantWrite(role);
    // Lambda sends failed asynchronous events to the dead-letter queue with this role; CDK grants only
    // sqs:SendMessage, and a KMS-encrypted queue also needs the key (else the dead letter is dropped).
    props.deadLetterQueue?.encryptionMasterKey?.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
    this.acknowledgeHouseFindings(role, props, invocation, ownRole);
  }

  /**
   * For a function that connects to an RDS DB instance itself, not through RDS Proxy: the instance's certificate
   * chains to an RDS CA, which Node trusts only when `NODE_EXTRA_CA_CERTS` names the Amazon CA bundle the Lambda
   * Node.js runtime ships (Lambda developer guide, "Building Lambda functions with Node.js", CA certificate
   * loading). Only such functions load it: Node then reads every certificate of the file into its trust store at
   * process start, which costs each cold start; RDS Proxy's ACM certificate chains to the roots Node ships.
   */
  trustRdsCertificates(): this {
    this.addEnvironment('NODE_EXTRA_CA_CERTS', LAMBDA_CA_BUNDLE);
    return this;
  }

  /** The findings every house function raises by design, each with its reason. */
  private acknowledgeHouseFindings(
    role: iam.IRole,
    props: CitadelFunctionProps,
    invocation: 'sync' | 'async',
    ownRole: boolean,
  ): void {
    acknowledge(
      role,
      inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      'The inline policy is what L2 grant* methods generate: scoped to this one role and to the exact resources it uses.',
    );
    if (props.vpc && ownRole) {
      acknowledge(
        role,
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        ],
        'The AWS-maintained policy Lambda documents for VPC attachment (ENI create/describe/delete); EC2 supports no resource scoping for these calls.',
      );
    }
    if (props.tracing ?? true) {
      acknowledge(
        role,
        ['AwsSolutions-IAM5[Resource::*]'],
        'Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
      );
    }
    if (props.reservedConcurrentExecutions === undefined) {
      acknowledge(
        this,
        inPacks('LambdaConcurrency', 'NIST.800.53.R5', 'HIPAA.Security'),
        'Reserved concurrency would carve capacity from the shared pool and fails deploys in low-limit accounts; load is capped upstream by API Gateway throttling and WAF rate rules.',
      );
    }
    if (invocation === 'sync') {
      acknowledge(
        this,
        inPacks('LambdaDLQ', 'NIST.800.53.R5', 'HIPAA.Security', 'Serverless'),
        'Invoked synchronously: the caller receives every failure, and a dead-letter queue only ever receives asynchronous events.',
      );
    }
  }
}
