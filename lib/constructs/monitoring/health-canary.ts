import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ArnFormat,
  aws_apigateway as apigw,
  aws_cloudwatch as cloudwatch,
  Duration,
  aws_iam as iam,
  aws_kms as kms,
  RemovalPolicy,
  Stack,
  aws_s3 as s3,
  aws_secretsmanager as secretsmanager,
  aws_synthetics as synthetics,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { acknowledge, inPacks } from '../../compliance';
import { PROJECT_ROOT } from '../citadel-function';

/** One API the canary calls. */
export interface CanaryApi {
  /** Short name in failure messages, e.g. `public`. */
  readonly name: string;
  readonly api: apigw.RestApi;
  /** Give the canary its own key in this usage plan and send it (for an API that requires a key on every method). */
  readonly apiKeyPlan?: apigw.IUsagePlan;
}

export interface HealthCanaryProps {
  readonly stage: string;
  readonly apis: readonly CanaryApi[];
  /** @default Duration.minutes(5) */
  readonly every?: Duration;
  /** How long run artifacts (HAR files, logs, screenshots) are kept. */
  readonly artifactRetention: Duration;
  /** RETAIN the artifacts bucket and key when removed. @default false */
  readonly protectData?: boolean;
}

const CANARY_FILE = 'health-canary';

/**
 * A CloudWatch Synthetics canary that calls `GET /v1/health` on each API (see `lambda/canary/health-canary.ts` for
 * what it checks), with its artifacts in a KMS-encrypted bucket that expires them, and, for an API that requires
 * a key, a dedicated API key in that API's usage plan whose value lives only in Secrets Manager.
 */
export class HealthCanary extends Construct {
  readonly canary: synthetics.Canary;
  readonly key: kms.Key;
  readonly artifacts: s3.Bucket;
  /** The canary's API key value (generated, never in the template), where an API needs one. */
  readonly apiKeySecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: HealthCanaryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key = new kms.Key(this, 'Key', {
      description: `Citadel health canary artifacts and API key (${stack.stackName})`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy,
    });
    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'ExpireArtifacts',
          expiration: props.artifactRetention,
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
      autoDeleteObjects: false,
    });
    acknowledge(
      this.artifacts,
      [
        'AwsSolutions-S1',
        ...inPacks('S3BucketLoggingEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        ...inPacks('S3BucketReplicationEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        ...inPacks('S3DefaultEncryptionKMS', 'NIST.800.53.R5', 'HIPAA.Security'),
      ],
      'Holds only the health canary run artifacts of public /v1/health calls, written by the canary role and expired after the retention period; access logging or replication of disposable test artifacts would protect nothing.',
    );

    const keyed = props.apis.filter((a) => a.apiKeyPlan);
    if (keyed.length > 0) {
      this.apiKeySecret = new secretsmanager.Secret(this, 'ApiKeyValue', {
        description: `Value of the Citadel health canary's API key (${stack.stackName})`,
        encryptionKey: this.key,
        // API Gateway key values: 20-128 characters; letters and digits travel safely in a header.
        generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      acknowledge(
        this.apiKeySecret,
        [
          'AwsSolutions-SMG4',
          ...inPacks('SecretsManagerRotationEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        ],
        'The value is the canary’s API key, which only meters and throttles (Cognito authorizes); rotating it means replacing the key resource, which a redeploy does: the admin key-rotation flow serves client keys.',
      );
      const apiKey = new apigw.ApiKey(this, 'ApiKey', {
        description: `Citadel health canary (${stack.stackName}): GET /v1/health every few minutes`,
        enabled: true,
        // A dynamic reference: CloudFormation resolves it at deploy, the template never holds the value.
        value: this.apiKeySecret.secretValue.unsafeUnwrap(),
      });
      for (const api of keyed) {
        // Created here, not with plan.addApiKey (which would put the key in the plan's stack and make a cycle).
        new apigw.CfnUsagePlanKey(
          this,
          `ApiKeyIn${api.name.charAt(0).toUpperCase()}${api.name.slice(1)}Plan`,
          {
            keyId: apiKey.keyId,
            keyType: 'API_KEY',
            usagePlanId: (api.apiKeyPlan as apigw.IUsagePlan).usagePlanId,
          },
        );
      }
    }

    // An explicit role whose grants live in a separate policy: the default role inlines its policy, which makes a
    // cycle with the KMS-encrypted artifacts bucket (role → bucket → key → role). Same permissions as CDK's default.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Citadel health canary (${stack.stackName})`,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListAllMyBuckets'], resources: ['*'] }));
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [this.artifacts.bucketArn] }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.artifacts.arnForObjects('runs/*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'CloudWatchSynthetics' } },
      }),
    );
    const logGroups = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/lambda/cwsyn-*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroups],
      }),
    );
    acknowledge(
      role,
      [
        'AwsSolutions-IAM5[Resource::*]',
        `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.artifacts.node.defaultChild as s3.CfnBucket)}.Arn>/runs/*]`,
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/cwsyn-*]',
        'Serverless-LambdaStarPermissions',
        ...inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      ],
      'The permissions CloudWatch Synthetics documents for a canary: list buckets and put CloudWatchSynthetics metrics (no resource-level permissions), write run artifacts under runs/ of its own bucket, and write its cwsyn-* log groups, whose names Synthetics generates.',
    );

    this.canary = new synthetics.Canary(this, 'Canary', {
      role,
      canaryName: `citadel-${props.stage}-health`,
      runtime: synthetics.Runtime.SYNTHETICS_NODEJS_PUPPETEER_13_0,
      test: synthetics.Test.custom({
        code: synthetics.Code.fromAsset(bundleCanary()),
        handler: `${CANARY_FILE}.handler`,
      }),
      schedule: synthetics.Schedule.rate(props.every ?? Duration.minutes(5)),
      timeout: Duration.seconds(60),
      artifactsBucketLocation: { bucket: this.artifacts, prefix: 'runs' },
      artifactS3EncryptionMode: synthetics.ArtifactsEncryptionMode.KMS,
      artifactS3KmsKey: this.key,
      successRetentionPeriod: props.artifactRetention,
      failureRetentionPeriod: props.artifactRetention,
      provisionedResourceCleanup: true,
      environmentVariables: {
        CITADEL_STAGE: props.stage,
        CITADEL_CANARY_TARGETS: stack.toJsonString(
          props.apis.map((a) => ({
            name: a.name,
            url: a.api.url,
            ...(a.apiKeyPlan && this.apiKeySecret ? { apiKeySecretArn: this.apiKeySecret.secretArn } : {}),
          })),
        ),
        POWERTOOLS_SERVICE_NAME: 'citadel-health-canary',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.apiKeySecret?.grantRead(role);
    acknowledge(
      role,
      ['AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]'],
      'The Canary construct grants its role encrypt/decrypt on the artifacts key (grantEncryptDecrypt) so run artifacts are written SSE-KMS; the key is this canary’s own.',
    );
  }

  /** Percentage of runs that passed (Average over 5 minutes; 100 means every run passed). */
  metricSuccessPercent(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.canary.metricSuccessPercent({
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.minutes(5),
      ...props,
    });
  }
}

/**
 * Bundles `lambda/canary/health-canary.ts` into `nodejs/node_modules/health-canary.js`, the layout Synthetics
 * Node.js runtimes load, CommonJS for Node 20+. Deterministic, so the asset hash only changes with the code.
 */
const bundledDirs = new Set<string>();

function bundleCanary(): string {
  // One directory per process (parallel test workers synthesize at the same time), removed when the process ends:
  // synthesis has copied the bundle into the cloud assembly by then.
  const out = path.join(tmpdir(), `citadel-health-canary-${process.pid}`);
  // Built once per process: every canary of every stage synthesized here ships the same bundle.
  if (bundledDirs.has(out)) return out;
  bundledDirs.add(out);
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  const file = path.join(out, 'nodejs', 'node_modules', `${CANARY_FILE}.js`);
  mkdirSync(path.dirname(file), { recursive: true });
  buildSync({
    entryPoints: [path.join(PROJECT_ROOT, 'lambda/canary/health-canary.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
  });
  return out;
}
