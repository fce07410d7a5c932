import {
  aws_apigateway as apigw,
  Duration,
  aws_events as events,
  aws_iam as iam,
  type aws_lambda as lambda,
  aws_logs as logs,
  RemovalPolicy,
  type aws_sqs as sqs,
  aws_events_targets as targets,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TIERS } from '../../contract/api/admin';
import { recoverAccount } from '../../contract/api/recovery';
import { scanTimeoutSeconds } from '../../contract/api/uploads';
import { MAX_JSON_BODY_BYTES } from '../../contract/http';
import { type RouteDefinition, servesMachines } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { CONTROL_FUNCTION_ENV, type ControlNeed } from '../../lambda/admin/control-protocol';
import { acknowledge, inPacks } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelFunction, type CitadelFunctionProps } from '../constructs/citadel-function';
import { CitadelRestApi } from '../constructs/citadel-rest-api';
import { CitadelStack } from '../constructs/citadel-stack';
import { DeadLetters } from '../constructs/dead-letters';
import {
  type BodyLimits,
  CORE_RULE_SET_MAX_BODY_BYTES,
  RegionalWebAcl,
  routeRequests,
} from '../constructs/regional-web-acl';
import type { ScannedUploadBucket } from '../constructs/scanned-upload-bucket';
import type { DataStack } from './data-stack';
import type { IdentityStack } from './identity-stack';
import type { NetworkStack } from './network-stack';
import type { StorageStack } from './storage-stack';

export interface ApiStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly identity: IdentityStack;
  readonly storage: StorageStack;
  /** Version string reported by `/v1/health`. @default '0.0.0' */
  readonly version?: string;
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * Two REST APIs built from the route table, sharing one Lambda per route:
 * - the public API for people (browsers), CORS for the stage's origins, per-IP WAF limits;
 * - the machine API for client-credentials callers, every method metered by a usage-plan API key
 *   (basic / standard / premium tiers) and limited per key by WAF. Keys meter; Cognito authorizes.
 * Plus the control functions outside the VPC (API keys, Cognito app clients, MFA resets, self-service recovery:
 * APIs with no path from the VPC) and the job that disables rotated keys when their overlap window closes.
 */
export class ApiStack extends CitadelStack {
  readonly api: apigw.RestApi;
  readonly machineApi: apigw.RestApi;
  readonly webAcl: RegionalWebAcl;
  readonly machineWebAcl: RegionalWebAcl;
  readonly usagePlans: Readonly<Record<(typeof TIERS)[number], apigw.UsagePlan>>;
  /** Route handlers by operationId. */
  readonly functions: ReadonlyMap<string, CitadelFunction>;
  /** The admin API's control functions outside the VPC, by the route need they serve. */
  readonly controls = new Map<ControlNeed, CitadelFunction>();
  /** Receives GuardDuty's scan results and gives every upload its verdict. */
  readonly scanPipeline: CitadelFunction;
  private readonly props: ApiStackProps;
  /** This stack's dead-letter queues and their key. */
  deadLetters?: DeadLetters;
  /** Access logs of the public and the machine API (JSON lines, one per request). */
  readonly accessLogs: { readonly public: logs.LogGroup; readonly machine: logs.LogGroup };
  /** The scheduled jobs (key expiry, upload expiry). */
  readonly jobs: CitadelFunction[] = [];
  /** EventBridge rules whose targets have a dead-letter queue (their `InvocationsFailedToBeSentToDlq`). */
  readonly deadLetterRules: events.Rule[] = [];
  /** How long the scan Lambda may take for one object on this stage. */
  readonly scanTimeout: Duration;

  constructor(scope: Construct, props: ApiStackProps) {
    super(scope, 'Api', { config: props.config, stateful: false });
    this.props = props;
    const { config, network, identity } = props;
    const { observability, api: apiConfig } = config;
    const logRemovalPolicy = config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const accessLogs = (id: string) =>
      new logs.LogGroup(this, id, {
        encryptionKey: network.logsKey,
        retention: observability.logRetentionDays,
        removalPolicy: logRemovalPolicy,
      });

    const functions = new Map<string, CitadelFunction>();
    for (const route of routeList) {
      const fn = this.vpcFunction(pascal(route.operationId), {
        entry: route.entry,
        serviceName: `citadel-${route.operationId}`,
        description: `${route.method} ${route.path}: ${route.summary}`.slice(0, 256),
        memorySize: route.memoryMiB ?? 256,
        timeout: Duration.seconds(route.timeoutSeconds ?? 10),
      });
      this.grantNeeds(route, fn);
      functions.set(route.operationId, fn);
    }
    this.functions = functions;

    const common = {
      stageName: config.stage,
      functions,
      userPool: identity.userPool,
      throttle: apiConfig.throttle,
      adminThrottle: apiConfig.adminThrottle,
      tracing: observability.tracing,
    };
    this.accessLogs = { public: accessLogs('AccessLogs'), machine: accessLogs('MachineAccessLogs') };
    const publicApi = new CitadelRestApi(this, 'Public', {
      ...common,
      restApiName: `citadel-${config.stage}`,
      description: `Citadel API for people (${config.stage})`,
      routes: routeList,
      accessLogs: this.accessLogs.public,
      corsOrigins: apiConfig.corsOrigins,
      accountCloudWatchRole: true,
    });
    this.api = publicApi.api;

    const machineRoutes = routeList.filter(servesMachines);
    const machineApi = new CitadelRestApi(this, 'Machine', {
      ...common,
      restApiName: `citadel-${config.stage}-machine`,
      description: `Citadel API for machine clients, metered by API key (${config.stage})`,
      routes: machineRoutes,
      accessLogs: this.accessLogs.machine,
      apiKeyRequired: true,
    });
    this.machineApi = machineApi.api;
    // Execution logging needs the account's CloudWatch role, which the public API sets.
    const account = this.api.node.tryFindChild('Account');
    if (account) this.machineApi.deploymentStage.node.addDependency(account);

    this.usagePlans = Object.fromEntries(
      TIERS.map((tier) => {
        const limits = apiConfig.usagePlans[tier];
        const plan = this.machineApi.addUsagePlan(`${pascal(tier)}Plan`, {
          name: `citadel-${config.stage}-${tier}`,
          description: `Machine clients, ${tier} tier`,
          throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
          quota: { limit: limits.quotaPerDay, period: apigw.Period.DAY },
        });
        plan.addApiStage({ stage: this.machineApi.deploymentStage });
        return [tier, plan];
      }),
    ) as ApiStack['usagePlans'];
    this.grantApiKeyManagement();

    const webAclCommon = {
      resourceType: 'API_GATEWAY' as const,
      logsKey: network.logsKey,
      logRetention: observability.logRetentionDays,
      logRemovalPolicy,
    };
    this.webAcl = new RegionalWebAcl(this, 'WebAcl', {
      ...webAclCommon,
      name: `citadel-${config.stage}-api`,
      bodyLimits: bodyLimits(routeList),
      // Pages on other origins are refused here, so the public API's own errors can echo the request's Origin.
      browserOrigins: apiConfig.corsOrigins,
      rateRules: [
        { name: 'PerIpRateLimit', ...apiConfig.perIpRateLimit },
        // Account recovery presents a password and a recovery code: the sign-in tier, per address (Cognito's
        // lockout and the API's own per-user-name lockout work per account).
        {
          name: 'RecoveryRateLimit',
          ...config.identity.signInRateLimit,
          scopeDown: routeRequests(recoverAccount),
        },
      ],
    });
    this.webAcl.associate('ApiStageAssociation', this.api.deploymentStage.stageArn);
    // The usage plans meter and throttle each key (basic, standard, premium); WAF cannot tell a key's tier, so its
    // limits admit the highest tier at full rate and burst (the config schema checks that) and catch the rest:
    // one key used from many addresses beyond any tier, and any one address, whatever keys it sends.
    this.machineWebAcl = new RegionalWebAcl(this, 'MachineWebAcl', {
      ...webAclCommon,
      name: `citadel-${config.stage}-machine-api`,
      bodyLimits: bodyLimits(machineRoutes),
      rateRules: [
        { name: 'PerIpRateLimit', ...apiConfig.machinePerIpRateLimit },
        { name: 'PerApiKeyRateLimit', ...apiConfig.perApiKeyRateLimit, aggregateBy: { header: 'x-api-key' } },
      ],
    });
    this.machineWebAcl.associate('MachineStageAssociation', this.machineApi.deploymentStage.stageArn);

    this.scanTimeout = scanTimeout(config.uploads.maxUploadBytes);
    this.addKeyExpiryJob();
    this.addUploadExpiryJob();
    this.scanPipeline = this.addScanPipeline();
  }

  private vpcFunction(
    id: string,
    props: Omit<CitadelFunctionProps, 'logsKey' | 'vpc' | 'vpcSubnets' | 'securityGroups'>,
  ): CitadelFunction {
    const { config, network } = this.props;
    return new CitadelFunction(this, id, {
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logLevel: config.observability.logLevel,
      tracing: config.observability.tracing,
      ...props,
      logsKey: network.logsKey,
      vpc: network.vpc,
      vpcSubnets: network.appSubnets,
      securityGroups: [network.lambdaSecurityGroup],
      environment: {
        CITADEL_STAGE: config.stage,
        CITADEL_VERSION: this.props.version ?? '0.0.0',
        CITADEL_CORS_ORIGINS: config.api.corsOrigins.join(','),
        ...props.environment,
      },
    });
  }

  /** Turns a route's (or job's) declared needs into grants and environment: exactly those, nothing more. */
  private grantNeeds(route: Pick<RouteDefinition, 'needs'>, fn: CitadelFunction): void {
    const { data, identity, config } = this.props;
    for (const need of route.needs ?? []) {
      switch (need) {
        case 'database':
          for (const [key, value] of Object.entries(data.grantAppAccess(fn))) fn.addEnvironment(key, value);
          break;
        case 'cognito-clients':
          this.grantControl(fn, need);
          fn.addEnvironment('CITADEL_TOKEN_ENDPOINT', `${identity.domain.baseUrl()}/oauth2/token`);
          break;
        case 'cognito-mfa':
        case 'cognito-recovery':
          this.grantControl(fn, need);
          break;
        case 'uploads:write':
          this.uploadsAccess(fn).grantWrite(fn);
          break;
        case 'uploads:abort':
          this.uploadsAccess(fn).grantAbort(fn);
          break;
        case 'uploads:list-parts':
          this.uploadsAccess(fn).grantListParts(fn);
          break;
        case 'uploads:list':
          this.uploadsAccess(fn).grantList(fn);
          break;
        case 'uploads:read':
          this.uploadsAccess(fn).grantPresignedDownload(fn);
          break;
        case 'uploads:delete':
          this.uploadsAccess(fn).grantDelete(fn);
          break;
        case 'api-keys':
          this.grantControl(fn, need);
          fn.addEnvironment('CITADEL_KEY_OVERLAP_HOURS', String(config.api.keyRotationOverlapHours));
          break;
      }
    }
  }

  /** The uploads bucket, after giving `fn` its environment: bucket, key and the stage's upload limits. */
  private uploadsAccess(fn: CitadelFunction): ScannedUploadBucket {
    const { storage, config } = this.props;
    const { uploads } = storage;
    fn.addEnvironment('CITADEL_UPLOADS_BUCKET', uploads.bucket.bucketName);
    fn.addEnvironment('CITADEL_UPLOADS_KEY_ARN', uploads.key.keyArn);
    fn.addEnvironment('CITADEL_MAX_UPLOAD_BYTES', String(config.uploads.maxUploadBytes));
    fn.addEnvironment('CITADEL_ALLOWED_TYPES', config.uploads.allowedContentTypes.join(','));
    return uploads;
  }

  /** What each control function does, for its description and service name (`lambda/admin/control-protocol.ts`). */
  private static readonly CONTROLS: Record<ControlNeed, { id: string; entry: string; description: string }> =
    {
      'api-keys': {
        id: 'ApiKeyControl',
        entry: 'lambda/admin/control/api-keys.ts',
        description: 'Creates and disables usage-plan API keys for the admin API',
      },
      'cognito-clients': {
        id: 'AppClientControl',
        entry: 'lambda/admin/control/app-clients.ts',
        description: 'Creates and deletes Cognito app clients (client credentials) for the admin API',
      },
      'cognito-mfa': {
        id: 'MfaControl',
        entry: 'lambda/admin/control/mfa.ts',
        description: "Resets a user's MFA and signs the user out everywhere, for the admin API",
      },
      'cognito-recovery': {
        id: 'RecoveryControl',
        entry: 'lambda/admin/control/recovery.ts',
        description:
          'Self-service recovery: checks a password with Cognito; resets MFA, signs out everywhere, emails the user',
      },
    };

  /**
   * Lets `fn` invoke the control function for `need`, created on first use: a function outside the VPC holding
   * that one capability, because neither API Gateway's management API nor Cognito's user-pool API (for a pool
   * with a domain) can be reached from the VPC through an endpoint. VPC functions invoke it through the Lambda
   * endpoint (or NAT).
   */
  private grantControl(fn: CitadelFunction, need: ControlNeed): void {
    const control = this.controlFunction(need);
    control.grantInvoke(fn);
    const logicalId = this.getLogicalId(control.node.defaultChild as lambda.CfnFunction);
    acknowledge(
      fn.role as iam.Role,
      [`AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`],
      'grantInvoke also covers the versions and aliases of the one control function (its ARN followed by :*).',
    );
    fn.addEnvironment(CONTROL_FUNCTION_ENV[need], control.functionArn);
  }

  private controlFunction(need: ControlNeed): CitadelFunction {
    const existing = this.controls.get(need);
    if (existing) return existing;
    const { config, network, identity } = this.props;
    const spec = ApiStack.CONTROLS[need];
    const fn = new CitadelFunction(this, spec.id, {
      entry: spec.entry,
      serviceName: `citadel-${need}-control`,
      description: spec.description,
      logsKey: network.logsKey,
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logLevel: config.observability.logLevel,
      tracing: config.observability.tracing,
      timeout: Duration.seconds(15),
      environment: { CITADEL_STAGE: config.stage },
    });
    acknowledge(
      fn,
      inPacks('LambdaInsideVPC', 'NIST.800.53.R5', 'HIPAA.Security'),
      'Its AWS API has no path from the VPC (API Gateway management has no endpoint; a user pool with a domain refuses PrivateLink); it calls only that API and is invoked by the admin functions, never by clients.',
    );
    if (need === 'cognito-clients') identity.grantMachineClientAdmin(fn);
    if (need === 'cognito-mfa') identity.grantMfaReset(fn);
    if (need === 'cognito-recovery') this.configureRecoveryControl(fn);
    if (need !== 'api-keys') fn.addEnvironment('CITADEL_USER_POOL_ID', identity.userPool.userPoolId);
    if (need === 'cognito-clients')
      fn.addEnvironment('CITADEL_ACCESS_TOKEN_MINUTES', String(config.identity.tokenValidityMinutes));
    this.controls.set(need, fn);
    return fn;
  }

  /**
   * The recovery control function: the recovery app client and the Cognito calls recovery makes, and, where the
   * stage has an SES sender, sending as it (the user is emailed that a recovery code was used).
   */
  private configureRecoveryControl(fn: CitadelFunction): void {
    const { identity, config } = this.props;
    identity.grantAccountRecovery(fn);
    fn.addEnvironment('CITADEL_RECOVERY_CLIENT_ID', identity.recoveryClient.userPoolClientId);
    const ses = config.identity.ses;
    if (!ses) return;
    identity.grantSendAsSesSender(fn);
    fn.addEnvironment('CITADEL_SES_FROM_ADDRESS', ses.fromAddress);
    if (ses.fromName) fn.addEnvironment('CITADEL_SES_FROM_NAME', ses.fromName);
    if (ses.replyTo) fn.addEnvironment('CITADEL_SES_REPLY_TO', ses.replyTo);
    fn.addEnvironment('CITADEL_SES_REGION', ses.region);
    fn.addEnvironment('CITADEL_SES_CONFIGURATION_SET', ses.configurationSet);
  }

  /** Exactly the API Gateway management calls the API-key control function makes, on this API's plans and keys. */
  private grantApiKeyManagement(): void {
    const control = this.controls.get('api-keys');
    if (!control) return;
    control.addEnvironment(
      'CITADEL_USAGE_PLANS',
      this.toJsonString(Object.fromEntries(TIERS.map((t) => [t, this.usagePlans[t].usagePlanId]))),
    );
    const apiKeys = this.formatArn({ service: 'apigateway', account: '', resource: '/apikeys' });
    // API Gateway management has no L2 grant for API keys and usage-plan keys: the statements are written here.
    // CreateApiKey is POST /apikeys; UpdateApiKey PATCH and DeleteApiKey (undoing a key that could not join its
    // plan) DELETE /apikeys/{id}; CreateUsagePlanKey POST /usageplans/{id}/keys.
    control.addToRolePolicy(new iam.PolicyStatement({ actions: ['apigateway:POST'], resources: [apiKeys] }));
    control.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['apigateway:PATCH', 'apigateway:DELETE'],
        resources: [`${apiKeys}/*`],
      }),
    );
    control.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['apigateway:POST'],
        resources: TIERS.map((t) =>
          this.formatArn({
            service: 'apigateway',
            account: '',
            resource: `/usageplans/${this.usagePlans[t].usagePlanId}/keys`,
          }),
        ),
      }),
    );
    acknowledge(
      control.role as iam.Role,
      ['AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*]'],
      'Keys are created at run time, so their ids are unknown at deploy; the grant is limited to enabling/disabling and deleting keys of this region.',
    );
  }

  /** Every 15 minutes, disables rotated keys whose overlap window has closed. */
  private addKeyExpiryJob(): void {
    this.addScheduledJob({
      id: 'ExpireApiKeys',
      deadLettersId: 'KeyExpiryDeadLetters',
      entry: 'lambda/admin/expire-api-keys.ts',
      serviceName: 'citadel-expire-api-keys',
      description: 'Disables rotated API keys when their overlap window closes',
      timeout: Duration.minutes(2),
      needs: ['database', 'api-keys'],
      every: Duration.minutes(15),
    });
  }

  /** A dead-letter queue for `what`, encrypted with this stack's dead-letter key. */
  private deadLetterQueue(id: string, what: string): sqs.Queue {
    this.deadLetters ??= new DeadLetters(this, 'DeadLetters');
    return this.deadLetters.queue(id, what);
  }

  /** A job in the VPC run on a schedule, retried twice, with a dead-letter queue for the schedule and the function. */
  private addScheduledJob(job: {
    id: string;
    deadLettersId: string;
    entry: string;
    serviceName: string;
    description: string;
    timeout: Duration;
    needs: RouteDefinition['needs'];
    every: Duration;
  }): CitadelFunction {
    const deadLetters = this.deadLetterQueue(job.deadLettersId, `the ${job.serviceName} job`);
    const fn = this.vpcFunction(job.id, {
      entry: job.entry,
      serviceName: job.serviceName,
      description: job.description,
      timeout: job.timeout,
      invocation: 'async',
      deadLetterQueue: deadLetters,
    });
    this.grantNeeds({ needs: job.needs }, fn);
    const rule = new events.Rule(this, `${job.id}Schedule`, {
      description: job.description,
      schedule: events.Schedule.rate(job.every),
      targets: [new targets.LambdaFunction(fn, { deadLetterQueue: deadLetters, retryAttempts: 2 })],
    });
    this.jobs.push(fn);
    this.deadLetterRules.push(rule);
    return fn;
  }

  /**
   * GuardDuty's `Object Scan Result` events for the upload prefix → the scan Lambda (type check, verdict,
   * quarantine), and S3's `Object Created` events → the same Lambda (browser-completed uploads). It runs as the storage stack's scan role, the one principal the bucket policy lets read
   * unscanned objects; imported mutable, so its log and database grants are written here without a cycle.
   */
  private addScanPipeline(): CitadelFunction {
    const { storage } = this.props;
    const { uploads } = storage;
    const deadLetters = this.deadLetterQueue('ScanDeadLetters', 'the scan pipeline');
    const role = iam.Role.fromRoleArn(this, 'ScanRole', uploads.scanRole.roleArn, { mutable: true });
    const fn = this.vpcFunction('ScanPipeline', {
      entry: 'lambda/scan/handler.ts',
      serviceName: uploads.scanServiceName,
      description:
        'Scan verdicts: GuardDuty result + real-type check; quarantines infected and mistyped uploads',
      role,
      memorySize: 1024,
      timeout: this.scanTimeout,
      invocation: 'async',
      deadLetterQueue: deadLetters,
      environment: {
        CITADEL_UPLOADS_BUCKET: uploads.bucket.bucketName,
        CITADEL_QUARANTINE_BUCKET: uploads.quarantineBucket.bucketName,
        CITADEL_QUARANTINE_KEY_ARN: uploads.quarantineKey.keyArn,
      },
    });
    this.grantNeeds({ needs: ['database'] }, fn);
    const scanResults = new events.Rule(this, 'ScanResults', {
      description: 'GuardDuty Malware Protection scan results for Citadel uploads',
      eventPattern: uploads.scanResultEventPattern(),
      targets: [new targets.LambdaFunction(fn, { deadLetterQueue: deadLetters, retryAttempts: 8 })],
    });
    const uploadsCompleted = new events.Rule(this, 'UploadsCompleted', {
      description: 'Objects created under the upload prefix (uploads completed by browsers at S3)',
      eventPattern: uploads.objectCreatedEventPattern(),
      targets: [new targets.LambdaFunction(fn, { deadLetterQueue: deadLetters, retryAttempts: 8 })],
    });
    this.deadLetterRules.push(scanResults, uploadsCompleted);
    return fn;
  }

  /** Hourly, fails uploads left unfinished past their lifetime (and aborts what S3 still holds of them). */
  private addUploadExpiryJob(): void {
    this.addScheduledJob({
      id: 'ExpireUploads',
      deadLettersId: 'UploadExpiryDeadLetters',
      entry: 'lambda/uploads/expire-uploads.ts',
      serviceName: 'citadel-expire-uploads',
      description: 'Fails uploads not completed within their lifetime',
      timeout: Duration.minutes(5),
      // It aborts what S3 still holds of an expired upload, then lists to see whether it was completed after all.
      needs: ['database', 'uploads:abort', 'uploads:list'],
      every: Duration.hours(1),
    });
  }
}

/**
 * The web ACL body limits of an API serving `routes`: the API's own limit, and the routes the route table says
 * carry bodies over the core rule set's 8 KiB (e.g. completing an upload names every part's ETag).
 */
export function bodyLimits(routes: readonly RouteDefinition[]): BodyLimits {
  for (const r of routes) {
    if (r.maxBodyBytes !== undefined && r.maxBodyBytes > MAX_JSON_BODY_BYTES)
      throw new Error(
        `${r.operationId} declares maxBodyBytes ${r.maxBodyBytes}, over the API's ${MAX_JSON_BODY_BYTES}-byte limit.`,
      );
  }
  return {
    maxBytes: MAX_JSON_BODY_BYTES,
    largeBodyRoutes: routes
      .filter((r) => (r.maxBodyBytes ?? 0) > CORE_RULE_SET_MAX_BODY_BYTES)
      .map((r) => ({ method: r.method, path: r.path })),
  };
}

/** The scan Lambda's timeout (`scanTimeoutSeconds` in the contract: the scan-latency alarm uses the same rule). */
export function scanTimeout(maxUploadBytes: number): Duration {
  return Duration.seconds(scanTimeoutSeconds(maxUploadBytes));
}
