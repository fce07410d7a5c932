/**
 * The IAM wiring checks of one stage, built from its templates and `lib/wiring/aws-calls.ts`:
 * - `call`: every declared call of every function, as the function's role session, with the request context AWS
 *   sets, and the KMS requests AWS services make with the caller's credentials on its behalf;
 * - `edge`: service-to-service requests (EventBridge, API Gateway, Secrets Manager, Lambda, GuardDuty, RDS Proxy,
 *   Cognito, AWS Backup, CloudWatch Logs, S3 server access logging, VPC flow logs, RDS monitoring), found in the
 *   templates, each with its service principal or the role the service assumes;
 * - `deny`: requests that must be refused, with whether an explicit deny or the lack of an allow refuses them.
 * Each check names the result it expects; {@link evaluate} runs them through the simulator.
 */
import {
  type AuthRequest,
  type AwsCall,
  callName,
  callsOf,
  declaredFunctions,
  type FunctionDeclaration,
  SAMPLE_UPLOAD_KEY,
  type Target,
} from '../../../lib/wiring/aws-calls';
import {
  awsManagedPolicies,
  type EvaluationResult,
  type NamedPolicy,
  type PolicyDocument,
  type SimOutcome,
  type SimRequest,
  StageIam,
  sessionOf,
  simulate,
} from './iam';
import { type ResourceHandle, StageResolver, UnresolvableError } from './resolve';
import type { StageTemplates } from './stages';

export type CheckKind = 'call' | 'edge' | 'deny';

export interface WiringCheck {
  /** Stable across template mutations: who, what, on which resource. */
  readonly id: string;
  readonly kind: CheckKind;
  /** The declaration a `call` belongs to. */
  readonly function?: string;
  readonly why: string;
  readonly expect: EvaluationResult;
  readonly request: SimRequest;
}

/** A declared function and the function the templates deploy for it. */
export interface DeployedFunction {
  readonly declaration: FunctionDeclaration;
  readonly handle: ResourceHandle;
  readonly arn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly session: string;
  readonly environment: Readonly<Record<string, string>>;
}

export interface StageChecks {
  readonly checks: readonly WiringCheck[];
  readonly functions: readonly DeployedFunction[];
  /** Template functions no declaration matches, and declarations no template function matches. */
  readonly undeclared: readonly string[];
  readonly undeployed: readonly string[];
  readonly resolver: StageResolver;
  readonly iam: StageIam;
}

/** A principal of the account that is none of Citadel's (an analyst, an administrator), for denies. */
const OUTSIDER = 'citadel-wiring-test-analyst';
/** Another account, for confused-deputy denies. */
const OTHER_ACCOUNT = '444455556666';
/** Ids of things made at run time. */
const SAMPLE = {
  eni: 'eni-0a1b2c3d4e5f60718',
  apiKey: 'k3y1d2e3f4',
  restoredInstance: 'awsbackup-restore-test-0a1b2c3d',
  restoredResourceId: 'db-RESTOREDBYAWSBACKUPRESTORE',
  secretVersion: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
  logStream: '2026/12/06/[$LATEST]0123456789abcdef0123456789abcdef',
} as const;
const SCAN_TAG = 'GuardDutyMalwareScanStatus';

/** Builds every check of a stage. */
export function wiringChecks(
  stage: Pick<StageTemplates, 'templates' | 'config' | 'stackNames'>,
): StageChecks {
  return new Builder(stage).build();
}

/** Runs the checks; a result per check, in order. */
export async function evaluate(
  checks: readonly WiringCheck[],
): Promise<Array<{ check: WiringCheck } & SimOutcome>> {
  const results: Array<{ check: WiringCheck } & SimOutcome> = [];
  for (const check of checks) {
    try {
      results.push({ check, ...(await simulate(check.request)) });
    } catch (error) {
      throw new Error(`${check.id}: ${(error as Error).message}`);
    }
  }
  return results;
}

/**
 * Grants no simulated request of a function uses: `<function>: <action> (<policy>#<statement>)` for each action of
 * each Allow statement of the function role's own policies (AWS managed policies are not ours to narrow) that
 * allowed no call or edge made with the role. Together with the bundle check (declared calls = the calls the code
 * makes), this closes the loop: the role grants what the code does, and nothing else.
 */
export function unusedGrants(
  built: StageChecks,
  results: ReadonlyArray<{ check: WiringCheck } & SimOutcome>,
): string[] {
  const unused: string[] = [];
  for (const fn of built.functions) {
    const allowed = results.filter((r) => r.check.request.principal === fn.session && r.result === 'Allowed');
    for (const policy of built.iam.identityPolicies(fn.roleArn)) {
      if (awsManagedPolicies().has(policy.name)) continue;
      const statements = [policy.document.Statement].flat() as Array<{
        Effect: string;
        Action?: string | string[];
      }>;
      statements.forEach((statement, i) => {
        if (statement.Effect !== 'Allow') return;
        for (const action of [statement.Action ?? []].flat()) {
          const pattern = new RegExp(
            `^${action.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`,
            'i',
          );
          const used = allowed.some(
            (r) =>
              pattern.test(r.check.request.action) &&
              r.allowedBy.some((a) => a.policy === policy.name && a.statement === i + 1),
          );
          if (!used) unused.push(`${fn.declaration.id}: ${action} (${policy.name}#${i + 1})`);
        }
      });
    }
  }
  return unused;
}

/** One line per check whose result differs from what it expects. */
export const mismatches = (
  results: ReadonlyArray<{ check: WiringCheck; result: EvaluationResult }>,
): string[] =>
  results
    .filter((r) => r.result !== r.check.expect)
    .map((r) => `${r.check.id}: expected ${r.check.expect}, got ${r.result}`);

interface Resolved {
  /** The resource ARN of the request. */
  readonly arn: string;
  readonly label: string;
  readonly resourcePolicy?: PolicyDocument;
  readonly context?: Record<string, string | readonly string[]>;
  /** The KMS key that encrypts it, the service that calls KMS, and the encryption context it sends. */
  readonly kms?: {
    readonly keyArn: string;
    readonly service: string;
    readonly context: Record<string, string>;
  };
}

class Builder {
  private readonly resolver: StageResolver;
  private readonly iam: StageIam;
  private readonly account: string;
  private readonly region: string;
  private readonly checks: WiringCheck[] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly stage: Pick<StageTemplates, 'templates' | 'config' | 'stackNames'>) {
    this.resolver = new StageResolver(stage.templates);
    this.iam = new StageIam(this.resolver);
    this.account = this.resolver.env.account;
    this.region = this.resolver.env.region;
  }

  build(): StageChecks {
    const { functions, undeclared, undeployed } = this.deployedFunctions();
    for (const fn of functions) this.functionCalls(fn);
    this.eventBridgeEdges();
    this.alertEdges();
    this.deadLetterEdges(functions);
    this.apiGatewayEdges();
    this.rotationEdges();
    this.lambdaTrustEdges(functions);
    this.guardDutyEdges();
    this.rdsProxyEdges(functions);
    this.cognitoSmsEdges();
    this.backupEdges();
    this.logsKeyEdges();
    this.accessLogEdges();
    this.flowLogEdges();
    this.monitoringEdges();
    this.apiGatewayLoggingEdges();
    this.breakGlass();
    this.denies(functions);
    return { checks: this.checks, functions, undeclared, undeployed, resolver: this.resolver, iam: this.iam };
  }

  // Functions ------------------------------------------------------------------------------------------------

  private deployedFunctions(): Pick<StageChecks, 'functions' | 'undeclared' | 'undeployed'> {
    const templateFunctions = this.resolver.resources('AWS::Lambda::Function');
    const matched = new Set<string>();
    const functions: DeployedFunction[] = [];
    const undeployed: string[] = [];
    for (const declaration of declaredFunctions(this.stage.config)) {
      const stack = this.stage.stackNames[declaration.stack];
      const pattern = new RegExp(`^${declaration.id}[0-9A-F]{8}$`);
      const found = templateFunctions.filter((f) => f.stack === stack && pattern.test(f.logicalId));
      if (found.length !== 1) {
        undeployed.push(`${declaration.stack}/${declaration.id} (${found.length} template functions match)`);
        continue;
      }
      const handle = found[0] as ResourceHandle;
      matched.add(`${handle.stack}/${handle.logicalId}`);
      const props = this.resolver.properties(handle.stack, handle.logicalId);
      const name = this.resolver.ref(handle.stack, handle.logicalId);
      const roleArn = String(props.Role);
      functions.push({
        declaration,
        handle,
        name,
        arn: this.resolver.getAtt(handle.stack, handle.logicalId, 'Arn') as string,
        roleArn,
        // Lambda names the execution role's session after the function.
        session: sessionOf(roleArn, name),
        environment: (props.Environment?.Variables ?? {}) as Record<string, string>,
      });
    }
    const undeclared = templateFunctions
      .map((f) => `${f.stack}/${f.logicalId}`)
      .filter((id) => !matched.has(id));
    return { functions, undeclared, undeployed };
  }

  private functionCalls(fn: DeployedFunction): void {
    const identity = this.iam.identityPolicies(fn.roleArn);
    for (const call of callsOf(fn.declaration, this.stage.config)) {
      for (const request of call.requests) {
        for (const target of this.target(fn, request.target)) {
          this.push({
            id: `call ${fn.declaration.id} · ${callName(call)} · ${request.action} ${target.label}`,
            kind: 'call',
            function: fn.declaration.id,
            why: call.why,
            expect: 'Allowed',
            request: {
              principal: fn.session,
              action: request.action,
              resource: target.arn,
              resourceAccount: this.account,
              context: {
                ...this.sessionContext(fn.roleArn, request.action),
                ...target.context,
                ...request.context,
              },
              identityPolicies: identity,
              resourcePolicy: target.resourcePolicy,
            },
          });
          this.kmsCalls(fn, call, request, target, identity);
        }
      }
    }
  }

  private kmsCalls(
    fn: DeployedFunction,
    call: AwsCall,
    request: AuthRequest,
    target: Resolved,
    identity: NamedPolicy[],
  ) {
    if (!request.kms) return;
    if (!target.kms) {
      throw new UnresolvableError(
        `${fn.declaration.id} ${callName(call)}: declared KMS use, but ${target.label} is not encrypted with a KMS key`,
      );
    }
    for (const action of request.kms) {
      this.push({
        id: `call ${fn.declaration.id} · ${callName(call)} · ${action} ${target.kms.keyArn} (for ${request.action} ${target.label})`,
        kind: 'call',
        function: fn.declaration.id,
        why: `${target.kms.service} uses the key with the caller's credentials: ${call.why}`,
        expect: 'Allowed',
        request: {
          principal: fn.session,
          action,
          resource: target.kms.keyArn,
          resourceAccount: this.account,
          context: this.kmsContext(fn.roleArn, target.kms.service, target.kms.context),
          identityPolicies: identity,
          resourcePolicy: this.iam.keyPolicy(target.kms.keyArn),
        },
      });
    }
  }

  /** What AWS puts in the request context of a role session's request. */
  private sessionContext(roleArn: string, action: string): Record<string, string> {
    return {
      'aws:PrincipalArn': roleArn,
      'aws:PrincipalAccount': this.account,
      'aws:SecureTransport': 'true',
      ...(action.startsWith('s3:') ? { 's3:TlsVersion': '1.3' } : {}),
    };
  }

  /** The context of a KMS request a service makes with the caller's credentials (forward access session). */
  private kmsContext(
    roleArn: string | undefined,
    service: string,
    encryptionContext: Record<string, string>,
  ): Record<string, string | string[]> {
    return {
      ...(roleArn ? { 'aws:PrincipalArn': roleArn, 'aws:PrincipalAccount': this.account } : {}),
      'aws:SecureTransport': 'true',
      'aws:ViaAWSService': 'true',
      'kms:CallerAccount': this.account,
      'kms:ViaService': `${service}.${this.region}.amazonaws.com`,
      ...(Object.keys(encryptionContext).length > 0
        ? { 'kms:EncryptionContextKeys': Object.keys(encryptionContext) }
        : {}),
      ...Object.fromEntries(
        Object.entries(encryptionContext).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]),
      ),
    };
  }

  // Targets --------------------------------------------------------------------------------------------------

  private env(fn: DeployedFunction, name: string): string {
    const value = fn.environment[name];
    if (!value) {
      throw new UnresolvableError(
        `${fn.declaration.id} declares a call that needs ${name}, which it is not given`,
      );
    }
    return value;
  }

  private bucket(name: string): { handle: ResourceHandle; arn: string } {
    const handle = this.resolver.findByRef('AWS::S3::Bucket', name);
    if (!handle) throw new UnresolvableError(`no bucket of this stage is named ${name}`);
    return { handle, arn: this.resolver.getAtt(handle.stack, handle.logicalId, 'Arn') as string };
  }

  /** The SSE-KMS key of a bucket's default encryption and the encryption context S3 sends with it. */
  private bucketKms(name: string, objectArn: string): Resolved['kms'] {
    const { handle, arn } = this.bucket(name);
    const rule = this.resolver.property(handle.stack, handle.logicalId, 'BucketEncryption') as
      | {
          ServerSideEncryptionConfiguration: {
            BucketKeyEnabled?: boolean;
            ServerSideEncryptionByDefault: { SSEAlgorithm: string; KMSMasterKeyID?: string };
          }[];
        }
      | undefined;
    const config = rule?.ServerSideEncryptionConfiguration[0];
    if (!config?.ServerSideEncryptionByDefault.SSEAlgorithm.startsWith('aws:kms')) return undefined;
    const keyId = config.ServerSideEncryptionByDefault.KMSMasterKeyID;
    if (!keyId)
      throw new UnresolvableError(`bucket ${name} uses the AWS managed key aws/s3, which Citadel never does`);
    // With an S3 Bucket Key, S3 uses the bucket ARN as encryption context instead of the object ARN.
    return {
      keyArn: this.iam.keyArn(keyId),
      service: 's3',
      context: { 'aws:s3:arn': config.BucketKeyEnabled ? arn : objectArn },
    };
  }

  private object(bucketName: string, key: string, scanStatus?: string): Resolved {
    const objectArn = `arn:aws:s3:::${bucketName}/${key}`;
    return {
      arn: objectArn,
      label: objectArn,
      resourcePolicy: this.iam.bucketPolicy(bucketName),
      context:
        scanStatus && scanStatus !== 'none'
          ? { [`s3:ExistingObjectTag/${SCAN_TAG}`]: scanStatus }
          : undefined,
      kms: this.bucketKms(bucketName, objectArn),
    };
  }

  private secret(secretArn: string): Resolved {
    const handle = this.resolver.findByRef('AWS::SecretsManager::Secret', secretArn);
    if (!handle) throw new UnresolvableError(`no secret of this stage is ${secretArn}`);
    const keyId = this.resolver.property(handle.stack, handle.logicalId, 'KmsKeyId') as string | undefined;
    if (!keyId)
      throw new UnresolvableError(`secret ${secretArn} uses aws/secretsmanager, which Citadel never does`);
    return {
      arn: secretArn,
      label: secretArn,
      resourcePolicy: this.iam.secretPolicy(secretArn),
      kms: {
        keyArn: this.iam.keyArn(keyId),
        service: 'secretsmanager',
        context: { SecretARN: secretArn, SecretVersionId: SAMPLE.secretVersion },
      },
    };
  }

  private functionByArn(arn: string): { handle: ResourceHandle; policy?: PolicyDocument } {
    const unqualified = arn.split(':').slice(0, 7).join(':');
    const handle = this.resolver.findByAtt('AWS::Lambda::Function', 'Arn', unqualified);
    if (!handle) throw new UnresolvableError(`no function of this stage is ${arn}`);
    return { handle, policy: this.iam.functionPolicy(unqualified) };
  }

  private rotatedSecret(fn: DeployedFunction): string {
    const schedules = this.resolver
      .resources('AWS::SecretsManager::RotationSchedule')
      .map((s) => this.resolver.properties(s.stack, s.logicalId))
      .filter((p) => p.RotationLambdaARN === fn.arn);
    if (schedules.length !== 1) {
      throw new UnresolvableError(`${fn.declaration.id} rotates ${schedules.length} secrets, expected one`);
    }
    return String(schedules[0]?.SecretId);
  }

  private customResources(type: string, fn: DeployedFunction): Record<string, unknown>[] {
    const found = this.resolver
      .resources(type)
      .map((r) => this.resolver.properties(r.stack, r.logicalId))
      .filter((p) => p.ServiceToken === fn.arn);
    if (found.length === 0)
      throw new UnresolvableError(`no ${type} resource is served by ${fn.declaration.id}`);
    return found;
  }

  private target(fn: DeployedFunction, target: Target): Resolved[] {
    const arn = (service: string, resource: string) =>
      `arn:aws:${service}:${this.region}:${this.account}:${resource}`;
    switch (target.kind) {
      case 'uploads-object':
        return [this.object(this.env(fn, 'CITADEL_UPLOADS_BUCKET'), SAMPLE_UPLOAD_KEY, target.scanStatus)];
      case 'uploads-bucket': {
        const name = this.env(fn, 'CITADEL_UPLOADS_BUCKET');
        const { arn: bucketArn } = this.bucket(name);
        return [
          {
            arn: bucketArn,
            label: `${bucketArn} (prefix ${SAMPLE_UPLOAD_KEY})`,
            resourcePolicy: this.iam.bucketPolicy(name),
            context: { 's3:prefix': SAMPLE_UPLOAD_KEY },
          },
        ];
      }
      case 'quarantine-object':
        return [this.object(this.env(fn, 'CITADEL_QUARANTINE_BUCKET'), SAMPLE_UPLOAD_KEY)];
      case 'secret-from-env':
        return [this.secret(this.env(fn, target.env))];
      case 'rotated-secret':
        return [this.secret(this.rotatedSecret(fn))];
      case 'master-of-rotated-secret': {
        const rotated = this.resolver.findByRef('AWS::SecretsManager::Secret', this.rotatedSecret(fn));
        if (!rotated) throw new UnresolvableError(`${fn.declaration.id}: its rotated secret is not a secret`);
        const generate = this.resolver.property(rotated.stack, rotated.logicalId, 'GenerateSecretString') as
          | { SecretStringTemplate?: string }
          | undefined;
        const master = JSON.parse(generate?.SecretStringTemplate ?? '{}').masterarn as string | undefined;
        if (!master) throw new UnresolvableError(`${fn.declaration.id}: its secret names no masterarn`);
        return [this.secret(master)];
      }
      case 'db-user-from-env': {
        const host = this.env(fn, 'CITADEL_DB_HOST');
        const user = this.env(fn, 'CITADEL_DB_USER');
        const resourceId = this.dbResourceIdForHost(host);
        const dbuser = arn('rds-db', `dbuser:${resourceId}/${user}`);
        return [{ arn: dbuser, label: dbuser }];
      }
      case 'restored-db-user': {
        const dbuser = arn(
          'rds-db',
          `dbuser:${SAMPLE.restoredResourceId}/${this.env(fn, 'CITADEL_DB_USER')}`,
        );
        return [{ arn: dbuser, label: dbuser }];
      }
      case 'restored-db-instance': {
        const instance = arn('rds', `db:${SAMPLE.restoredInstance}`);
        return [{ arn: instance, label: instance }];
      }
      case 'function-from-env': {
        const functionArn = this.env(fn, target.env);
        return [
          { arn: functionArn, label: functionArn, resourcePolicy: this.functionByArn(functionArn).policy },
        ];
      }
      case 'arn-from-env': {
        const resourceArn = this.env(fn, target.env);
        return [{ arn: resourceArn, label: resourceArn }];
      }
      case 'user-pool-from-env': {
        const id = this.env(fn, 'CITADEL_USER_POOL_ID');
        const pool = this.resolver.findByRef('AWS::Cognito::UserPool', id);
        if (!pool) throw new UnresolvableError(`${fn.declaration.id}: no user pool ${id}`);
        const poolArn = this.resolver.getAtt(pool.stack, pool.logicalId, 'Arn') as string;
        return [{ arn: poolArn, label: poolArn }];
      }
      case 'ses-identity-from-env':
      case 'ses-configuration-set-from-env': {
        // SES authorizes SendEmail on the identity that verifies the From address (the stage config names it) and
        // on the configuration set named, both in the sender's region.
        const from = this.env(fn, 'CITADEL_SES_FROM_ADDRESS');
        const region = this.env(fn, 'CITADEL_SES_REGION');
        const ses = this.stage.config.identity.ses;
        if (!ses || ses.fromAddress !== from)
          throw new UnresolvableError(
            `${fn.declaration.id} sends as ${from}, which is not the stage's SES sender`,
          );
        const resource =
          target.kind === 'ses-identity-from-env'
            ? `identity/${ses.identity}`
            : `configuration-set/${this.env(fn, 'CITADEL_SES_CONFIGURATION_SET')}`;
        const sesArn = `arn:aws:ses:${region}:${this.account}:${resource}`;
        return [{ arn: sesArn, label: sesArn, context: { 'ses:FromAddress': from } }];
      }
      case 'api-keys':
        return [{ arn: `arn:aws:apigateway:${this.region}::/apikeys`, label: '/apikeys' }];
      case 'api-key':
        return [
          { arn: `arn:aws:apigateway:${this.region}::/apikeys/${SAMPLE.apiKey}`, label: '/apikeys/{id}' },
        ];
      case 'usage-plan-keys': {
        const plans = JSON.parse(this.env(fn, 'CITADEL_USAGE_PLANS')) as Record<string, string>;
        return Object.entries(plans).map(([tier, id]) => {
          if (!this.resolver.findByRef('AWS::ApiGateway::UsagePlan', id)) {
            throw new UnresolvableError(
              `${fn.declaration.id}: CITADEL_USAGE_PLANS names no plan ${id} (${tier})`,
            );
          }
          return {
            arn: `arn:aws:apigateway:${this.region}::/usageplans/${id}/keys`,
            label: `/usageplans/${tier}/keys`,
          };
        });
      }
      case 'any':
        return [{ arn: '*', label: '*' }];
      case 'own-log-stream': {
        const group = this.logGroupOf(fn);
        const stream = arn('logs', `log-group:${group}:log-stream:${SAMPLE.logStream}`);
        return [{ arn: stream, label: `log-group:${group}:log-stream:*` }];
      }
      case 'own-log-group': {
        const group = arn('logs', `log-group:${this.logGroupOf(fn)}`);
        return [{ arn: group, label: group }];
      }
      case 'own-vpc-placement': {
        const vpc = this.resolver.property(fn.handle.stack, fn.handle.logicalId, 'VpcConfig') as
          | { SubnetIds: string[]; SecurityGroupIds: string[] }
          | undefined;
        if (!vpc)
          throw new UnresolvableError(`${fn.declaration.id} is declared in a VPC but has no VpcConfig`);
        return [
          ...vpc.SubnetIds.map((id) => arn('ec2', `subnet/${id}`)),
          ...vpc.SecurityGroupIds.map((id) => arn('ec2', `security-group/${id}`)),
          arn('ec2', `network-interface/${SAMPLE.eni}`),
        ].map((a) => ({ arn: a, label: a }));
      }
      case 'network-interface': {
        const eni = arn('ec2', `network-interface/${SAMPLE.eni}`);
        return [{ arn: eni, label: eni }];
      }
      case 'trigger-handler':
        return this.customResources('Custom::Trigger', fn).map((p) => {
          const version = String(p.HandlerArn);
          return { arn: version, label: version, resourcePolicy: this.functionByArn(version).policy };
        });
      case 'vpc-default-security-group':
        return this.customResources('Custom::VpcRestrictDefaultSG', fn).map((p) => {
          const sg = arn('ec2', `security-group/${String(p.DefaultSecurityGroupId)}`);
          return { arn: sg, label: sg };
        });
      case 'auto-deleted-bucket':
        return this.customResources('Custom::S3AutoDeleteObjects', fn).map((p) => {
          const name = String(p.BucketName);
          const { arn: bucketArn } = this.bucket(name);
          return { arn: bucketArn, label: bucketArn, resourcePolicy: this.iam.bucketPolicy(name) };
        });
      case 'auto-deleted-object':
        return this.customResources('Custom::S3AutoDeleteObjects', fn).map((p) => {
          const name = String(p.BucketName);
          const objectArn = `arn:aws:s3:::${name}/${SAMPLE_UPLOAD_KEY}`;
          return { arn: objectArn, label: objectArn, resourcePolicy: this.iam.bucketPolicy(name) };
        });
    }
  }

  private logGroupOf(fn: DeployedFunction): string {
    const logging = this.resolver.property(fn.handle.stack, fn.handle.logicalId, 'LoggingConfig') as
      | { LogGroup?: string }
      | undefined;
    return logging?.LogGroup ?? `/aws/lambda/${fn.name}`;
  }

  /** `prx-<id>` of the RDS Proxy, or the `DbiResourceId` of the instance, whose endpoint is `host`. */
  private dbResourceIdForHost(host: string): string {
    const proxy = this.resolver.findByAtt('AWS::RDS::DBProxy', 'Endpoint', host);
    if (proxy) {
      const proxyArn = this.resolver.getAtt(proxy.stack, proxy.logicalId, 'DBProxyArn') as string;
      return proxyArn.slice(proxyArn.lastIndexOf(':') + 1);
    }
    const instance = this.resolver.findByAtt('AWS::RDS::DBInstance', 'Endpoint.Address', host);
    if (instance) return this.resolver.getAtt(instance.stack, instance.logicalId, 'DbiResourceId') as string;
    throw new UnresolvableError(`CITADEL_DB_HOST ${host} is neither an RDS Proxy nor an instance endpoint`);
  }

  // Edges ----------------------------------------------------------------------------------------------------

  private push(check: WiringCheck): void {
    if (this.ids.has(check.id)) return; // the same request reached twice (e.g. two calls share a KMS request)
    this.ids.add(check.id);
    this.checks.push(check);
  }

  private edge(
    id: string,
    why: string,
    request: Omit<SimRequest, 'resourceAccount'>,
    expect: EvaluationResult = 'Allowed',
  ) {
    this.push({
      id: `edge ${id}`,
      kind: 'edge',
      why,
      expect,
      request: { resourceAccount: this.account, ...request },
    });
  }

  private deny(
    id: string,
    why: string,
    expect: EvaluationResult,
    request: Omit<SimRequest, 'resourceAccount'>,
  ) {
    this.push({
      id: `deny ${id}`,
      kind: 'deny',
      why,
      expect,
      request: { resourceAccount: this.account, ...request },
    });
  }

  /** A service principal assuming a role: the role's trust policy decides. */
  private assume(
    service: string,
    roleArn: string,
    context: Record<string, string> = {},
  ): Omit<SimRequest, 'resourceAccount'> {
    return {
      principal: service,
      action: 'sts:AssumeRole',
      resource: roleArn,
      context: { 'aws:SecureTransport': 'true', ...context },
      identityPolicies: [],
      resourcePolicy: this.iam.trustPolicy(roleArn),
    };
  }

  /** A request a role session (of a service or person) makes with the role's policies. */
  private asRole(
    roleArn: string,
    sessionName: string,
    action: string,
    resource: string,
    extra: { resourcePolicy?: PolicyDocument; context?: Record<string, string | string[]> } = {},
  ): Omit<SimRequest, 'resourceAccount'> {
    return {
      principal: sessionOf(roleArn, sessionName),
      action,
      resource,
      context: { ...this.sessionContext(roleArn, action), ...extra.context },
      identityPolicies: this.iam.identityPolicies(roleArn),
      resourcePolicy: extra.resourcePolicy,
    };
  }

  private queue(queueArn: string): { url: string; policy?: PolicyDocument; keyArn: string } {
    const handle = this.resolver.findByAtt('AWS::SQS::Queue', 'Arn', queueArn);
    if (!handle) throw new UnresolvableError(`no queue of this stage is ${queueArn}`);
    const url = this.resolver.ref(handle.stack, handle.logicalId);
    const keyId = this.resolver.property(handle.stack, handle.logicalId, 'KmsMasterKeyId') as
      | string
      | undefined;
    if (!keyId) throw new UnresolvableError(`queue ${queueArn} is not encrypted with a customer-managed key`);
    return { url, policy: this.iam.queuePolicy(url), keyArn: this.iam.keyArn(keyId) };
  }

  /** The SNS topic `topicArn` of this stage and the customer-managed key it is encrypted with. */
  private topic(topicArn: string): { policy?: PolicyDocument; keyArn: string } {
    const handle = this.resolver.findByRef('AWS::SNS::Topic', topicArn);
    if (!handle) throw new UnresolvableError(`no topic of this stage is ${topicArn}`);
    const keyId = this.resolver.property(handle.stack, handle.logicalId, 'KmsMasterKeyId') as
      | string
      | undefined;
    if (!keyId) throw new UnresolvableError(`topic ${topicArn} is not encrypted with a customer-managed key`);
    return { policy: this.iam.topicPolicy(topicArn), keyArn: this.iam.keyArn(keyId) };
  }

  /**
   * A service publishing to a CMK-encrypted topic as its service principal: `sns:Publish` under the topic policy,
   * and the data key SNS generates and decrypts with the topic's key under the key policy, both with the
   * publisher's `aws:SourceArn` and `aws:SourceAccount` (SNS developer guide, "Enable compatibility between event
   * sources from AWS services and encrypted topics").
   */
  private publishEdges(label: string, principal: string, topicArn: string, sourceArn: string): void {
    const topic = this.topic(topicArn);
    const source = { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': this.account };
    this.edge(`${label} → sns:Publish ${topicArn}`, 'the alert reaches its topic (topic policy)', {
      principal,
      action: 'sns:Publish',
      resource: topicArn,
      context: { ...source, 'aws:SecureTransport': 'true' },
      identityPolicies: [],
      resourcePolicy: topic.policy,
    });
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      this.edge(
        `${label} → ${action} ${topic.keyArn} (publishing to ${topicArn})`,
        `SNS encrypts the message with the topic key as ${principal} (key policy)`,
        {
          principal,
          action,
          resource: topic.keyArn,
          context: { ...this.kmsContext(undefined, 'sns', { 'aws:sns:topicArn': topicArn }), ...source },
          identityPolicies: [],
          resourcePolicy: this.iam.keyPolicy(topic.keyArn),
        },
      );
    }
  }

  /**
   * CloudWatch publishes each alarm's actions to its topics; SNS moves notifications it cannot deliver to a
   * subscription's dead-letter queue (encrypted: the queue key admits `sns.amazonaws.com` for the topic).
   */
  private alertEdges(): void {
    for (const type of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm']) {
      for (const alarm of this.resolver.resources(type)) {
        const props = this.resolver.properties(alarm.stack, alarm.logicalId);
        const alarmArn = this.resolver.getAtt(alarm.stack, alarm.logicalId, 'Arn') as string;
        const actions = [...asList(props.AlarmActions), ...asList(props.OKActions)].map(String);
        for (const topicArn of new Set(actions)) {
          if (!topicArn.startsWith('arn:aws:sns:')) {
            throw new UnresolvableError(
              `${alarm.stack}/${alarm.logicalId}: action ${topicArn} is not modelled`,
            );
          }
          this.publishEdges(
            `CloudWatch ${String(props.AlarmName)}`,
            'cloudwatch.amazonaws.com',
            topicArn,
            alarmArn,
          );
        }
      }
    }
    for (const sub of this.resolver.resources('AWS::SNS::Subscription')) {
      const props = this.resolver.properties(sub.stack, sub.logicalId);
      const redrive = props.RedrivePolicy as { deadLetterTargetArn?: string } | undefined;
      if (!redrive?.deadLetterTargetArn) continue;
      const topicArn = String(props.TopicArn);
      const queue = this.queue(redrive.deadLetterTargetArn);
      const source = { 'aws:SourceArn': topicArn, 'aws:SourceAccount': this.account };
      this.edge(
        `SNS ${topicArn} (${String(props.Protocol)}) → sqs:SendMessage ${redrive.deadLetterTargetArn}`,
        'undeliverable notifications go to the dead-letter queue',
        {
          principal: 'sns.amazonaws.com',
          action: 'sqs:SendMessage',
          resource: redrive.deadLetterTargetArn,
          context: { ...source, 'aws:SecureTransport': 'true' },
          identityPolicies: [],
          resourcePolicy: queue.policy,
        },
      );
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        this.edge(
          `SNS ${topicArn} (${String(props.Protocol)}) → ${action} ${queue.keyArn} (dead letters)`,
          'SQS encrypts the undelivered notification with the queue key as SNS (key policy)',
          {
            principal: 'sns.amazonaws.com',
            action,
            resource: queue.keyArn,
            context: {
              ...this.kmsContext(undefined, 'sqs', { 'aws:sqs:arn': redrive.deadLetterTargetArn }),
              ...source,
            },
            identityPolicies: [],
            resourcePolicy: this.iam.keyPolicy(queue.keyArn),
          },
        );
      }
    }
  }

  /** EventBridge invokes each rule's Lambda targets and sends what it cannot deliver to their dead-letter queues. */
  private eventBridgeEdges(): void {
    for (const rule of this.resolver.resources('AWS::Events::Rule')) {
      const ruleArn = this.resolver.getAtt(rule.stack, rule.logicalId, 'Arn') as string;
      const source = {
        'aws:SourceArn': ruleArn,
        'aws:SourceAccount': this.account,
        'aws:SecureTransport': 'true',
      };
      const targets = (this.resolver.property(rule.stack, rule.logicalId, 'Targets') ?? []) as {
        Arn: string;
        DeadLetterConfig?: { Arn: string };
      }[];
      for (const target of targets) {
        if (target.Arn.startsWith('arn:aws:sns:')) {
          this.publishEdges(`EventBridge ${rule.logicalId}`, 'events.amazonaws.com', target.Arn, ruleArn);
        } else if (target.Arn.startsWith(`arn:aws:lambda:`)) {
          const { policy } = this.functionByArn(target.Arn);
          this.edge(
            `EventBridge ${rule.logicalId} → lambda:InvokeFunction ${target.Arn}`,
            'the rule invokes its target',
            {
              principal: 'events.amazonaws.com',
              action: 'lambda:InvokeFunction',
              resource: target.Arn,
              context: source,
              identityPolicies: [],
              resourcePolicy: policy,
            },
          );
        } else {
          throw new UnresolvableError(
            `${rule.stack}/${rule.logicalId}: target ${target.Arn} is not modelled`,
          );
        }
        if (!target.DeadLetterConfig) continue;
        const queue = this.queue(target.DeadLetterConfig.Arn);
        this.edge(
          `EventBridge ${rule.logicalId} → sqs:SendMessage ${target.DeadLetterConfig.Arn}`,
          'undeliverable events go to the dead-letter queue',
          {
            principal: 'events.amazonaws.com',
            action: 'sqs:SendMessage',
            resource: target.DeadLetterConfig.Arn,
            context: source,
            identityPolicies: [],
            resourcePolicy: queue.policy,
          },
        );
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
          this.edge(
            `EventBridge ${rule.logicalId} → ${action} ${queue.keyArn} (dead letters to ${target.DeadLetterConfig.Arn})`,
            'SQS encrypts the dead letter with the queue key as EventBridge (key policy for events.amazonaws.com)',
            {
              principal: 'events.amazonaws.com',
              action,
              resource: queue.keyArn,
              context: {
                ...this.kmsContext(undefined, 'sqs', { 'aws:sqs:arn': target.DeadLetterConfig.Arn }),
                'aws:SourceArn': ruleArn,
                'aws:SourceAccount': this.account,
              },
              identityPolicies: [],
              resourcePolicy: this.iam.keyPolicy(queue.keyArn),
            },
          );
        }
      }
    }
  }

  /** Lambda sends a failed asynchronous invocation to the function's dead-letter queue with the function's role. */
  private deadLetterEdges(functions: readonly DeployedFunction[]): void {
    for (const fn of functions) {
      const dlq = this.resolver.property(fn.handle.stack, fn.handle.logicalId, 'DeadLetterConfig') as
        | { TargetArn: string }
        | undefined;
      if ((fn.declaration.invocation === 'async') !== (dlq !== undefined)) {
        throw new UnresolvableError(
          `${fn.declaration.id} is declared ${fn.declaration.invocation} but ${dlq ? 'has' : 'has no'} dead-letter queue`,
        );
      }
      if (!dlq) continue;
      const queue = this.queue(dlq.TargetArn);
      const identity = this.iam.identityPolicies(fn.roleArn);
      this.edge(
        `Lambda (${fn.declaration.id}) → sqs:SendMessage ${dlq.TargetArn}`,
        'failed async invocations',
        {
          principal: fn.session,
          action: 'sqs:SendMessage',
          resource: dlq.TargetArn,
          context: this.sessionContext(fn.roleArn, 'sqs:SendMessage'),
          identityPolicies: identity,
          resourcePolicy: queue.policy,
        },
      );
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        this.edge(
          `Lambda (${fn.declaration.id}) → ${action} ${queue.keyArn} (dead letters to ${dlq.TargetArn})`,
          "SQS encrypts the dead letter with the queue key, with the function role's credentials",
          {
            principal: fn.session,
            action,
            resource: queue.keyArn,
            context: this.kmsContext(fn.roleArn, 'sqs', { 'aws:sqs:arn': dlq.TargetArn }),
            identityPolicies: identity,
            resourcePolicy: this.iam.keyPolicy(queue.keyArn),
          },
        );
      }
    }
  }

  /** The execute-api ARNs API Gateway invokes each proxy integration with, by function ARN. */
  apiInvocations(): Array<{
    api: string;
    method: string;
    path: string;
    sourceArn: string;
    functionArn: string;
  }> {
    const resources = new Map<string, { part: string; parent: string }>();
    for (const r of this.resolver.resources('AWS::ApiGateway::Resource')) {
      const p = this.resolver.properties(r.stack, r.logicalId);
      resources.set(this.resolver.ref(r.stack, r.logicalId), {
        part: String(p.PathPart),
        parent: String(p.ParentId),
      });
    }
    const pathOf = (id: string): string => {
      const r = resources.get(id);
      return r ? `${pathOf(r.parent)}/${r.part}` : '';
    };
    const stages = new Map<string, string>();
    for (const s of this.resolver.resources('AWS::ApiGateway::Stage')) {
      const p = this.resolver.properties(s.stack, s.logicalId);
      stages.set(String(p.RestApiId), String(p.StageName));
    }
    const found = [];
    for (const m of this.resolver.resources('AWS::ApiGateway::Method')) {
      const p = this.resolver.properties(m.stack, m.logicalId);
      if (p.Integration?.Type !== 'AWS_PROXY') continue;
      const functionArn = /functions\/(arn:aws:lambda:[^/]+)\/invocations$/.exec(
        String(p.Integration.Uri),
      )?.[1];
      if (!functionArn)
        throw new UnresolvableError(`${m.stack}/${m.logicalId}: integration ${p.Integration.Uri}`);
      const api = String(p.RestApiId);
      const stage = stages.get(api);
      if (!stage) throw new UnresolvableError(`${m.stack}/${m.logicalId}: API ${api} has no stage`);
      const path = pathOf(String(p.ResourceId));
      const concrete = path.replace(/\{([^}]+)\}/g, 'sample-$1');
      found.push({
        api,
        method: String(p.HttpMethod),
        path,
        functionArn,
        sourceArn: `arn:aws:execute-api:${this.region}:${this.account}:${api}/${stage}/${p.HttpMethod}${concrete}`,
      });
    }
    return found;
  }

  private apiGatewayEdges(): void {
    for (const invocation of this.apiInvocations()) {
      this.edge(
        `API Gateway ${invocation.api} ${invocation.method} ${invocation.path} → lambda:InvokeFunction ${invocation.functionArn}`,
        'the proxy integration invokes the route function',
        {
          principal: 'apigateway.amazonaws.com',
          action: 'lambda:InvokeFunction',
          resource: invocation.functionArn,
          context: {
            'aws:SourceArn': invocation.sourceArn,
            'aws:SourceAccount': this.account,
            'aws:SecureTransport': 'true',
          },
          identityPolicies: [],
          resourcePolicy: this.functionByArn(invocation.functionArn).policy,
        },
      );
    }
  }

  private rotationEdges(): void {
    for (const schedule of this.resolver.resources('AWS::SecretsManager::RotationSchedule')) {
      const p = this.resolver.properties(schedule.stack, schedule.logicalId);
      const functionArn = String(p.RotationLambdaARN);
      this.edge(
        `Secrets Manager (${schedule.logicalId}) → lambda:InvokeFunction ${functionArn}`,
        'rotation steps',
        {
          principal: 'secretsmanager.amazonaws.com',
          action: 'lambda:InvokeFunction',
          resource: functionArn,
          context: {
            'aws:SourceArn': String(p.SecretId),
            'aws:SourceAccount': this.account,
            'aws:SecureTransport': 'true',
          },
          identityPolicies: [],
          resourcePolicy: this.functionByArn(functionArn).policy,
        },
      );
    }
  }

  private lambdaTrustEdges(functions: readonly DeployedFunction[]): void {
    for (const fn of functions) {
      this.edge(
        `Lambda → sts:AssumeRole ${fn.roleArn} (${fn.declaration.id})`,
        'Lambda assumes the execution role',
        this.assume('lambda.amazonaws.com', fn.roleArn, {
          'aws:SourceAccount': this.account,
          'aws:SourceArn': fn.arn,
        }),
      );
    }
  }

  /** GuardDuty Malware Protection assumes the plan's role, then reads, scans and tags new objects. */
  private guardDutyEdges(): void {
    for (const plan of this.resolver.resources('AWS::GuardDuty::MalwareProtectionPlan')) {
      const p = this.resolver.properties(plan.stack, plan.logicalId);
      const planArn = this.resolver.getAtt(plan.stack, plan.logicalId, 'Arn') as string;
      const roleArn = String(p.Role);
      const bucketName = String(p.ProtectedResource.S3Bucket.BucketName);
      const { arn: bucketArn } = this.bucket(bucketName);
      const bucketPolicy = this.iam.bucketPolicy(bucketName);
      this.edge(
        `GuardDuty → sts:AssumeRole ${roleArn}`,
        'the malware protection plan assumes its role',
        this.assume('malware-protection-plan.guardduty.amazonaws.com', roleArn, {
          'aws:SourceAccount': this.account,
          'aws:SourceArn': planArn,
        }),
      );
      const as = (action: string, resource: string, context?: Record<string, string | string[]>) =>
        this.asRole(roleArn, 'GuardDutyMalwareProtection', action, resource, {
          resourcePolicy: bucketPolicy,
          context,
        });
      for (const prefix of p.ProtectedResource.S3Bucket.ObjectPrefixes as string[]) {
        const object = this.object(
          bucketName,
          `${prefix}${SAMPLE_UPLOAD_KEY.slice(SAMPLE_UPLOAD_KEY.indexOf('/') + 1)}`,
        );
        for (const action of ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging']) {
          this.edge(
            `GuardDuty role → ${action} ${object.arn} (not yet tagged)`,
            'scans new objects',
            as(action, object.arn),
          );
        }
        for (const action of ['s3:PutObjectTagging', 's3:PutObjectVersionTagging']) {
          this.edge(`GuardDuty role → ${action} ${object.arn} (${SCAN_TAG})`, 'tags the scan result', {
            ...as(action, object.arn, {
              's3:RequestObjectTagKeys': [SCAN_TAG],
              [`s3:RequestObjectTag/${SCAN_TAG}`]: 'NO_THREATS_FOUND',
            }),
          });
        }
        if (object.kms) {
          this.edge(
            `GuardDuty role → kms:Decrypt ${object.kms.keyArn} (reads ${object.arn})`,
            'S3 decrypts for the scan',
            {
              ...this.asRole(roleArn, 'GuardDutyMalwareProtection', 'kms:Decrypt', object.kms.keyArn),
              context: this.kmsContext(roleArn, 's3', object.kms.context),
              resourcePolicy: this.iam.keyPolicy(object.kms.keyArn),
            },
          );
        }
      }
      const validation = this.object(bucketName, 'malware-protection-resource-validation-object');
      this.edge(
        `GuardDuty role → s3:PutObject ${validation.arn}`,
        'validates it may write to the bucket',
        as('s3:PutObject', validation.arn),
      );
      if (validation.kms) {
        this.edge(
          `GuardDuty role → kms:GenerateDataKey ${validation.kms.keyArn}`,
          'S3 encrypts the validation object',
          {
            ...this.asRole(
              roleArn,
              'GuardDutyMalwareProtection',
              'kms:GenerateDataKey',
              validation.kms.keyArn,
            ),
            context: this.kmsContext(roleArn, 's3', validation.kms.context),
            resourcePolicy: this.iam.keyPolicy(validation.kms.keyArn),
          },
        );
      }
      for (const action of ['s3:ListBucket', 's3:GetBucketNotification', 's3:PutBucketNotification']) {
        this.edge(
          `GuardDuty role → ${action} ${bucketArn}`,
          'checks ownership and turns on EventBridge notifications',
          as(action, bucketArn),
        );
      }
      const managedRule = `arn:aws:events:${this.region}:${this.account}:rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3-${bucketName}`;
      for (const action of ['events:PutRule', 'events:PutTargets', 'events:DescribeRule']) {
        this.edge(
          `GuardDuty role → ${action} ${managedRule}`,
          'manages its EventBridge rule for the bucket',
          {
            ...this.asRole(roleArn, 'GuardDutyMalwareProtection', action, managedRule, {
              context:
                action === 'events:DescribeRule'
                  ? {}
                  : { 'events:ManagedBy': 'malware-protection-plan.guardduty.amazonaws.com' },
            }),
          },
        );
      }
    }
  }

  /** RDS Proxy assumes its role and connects to the database with IAM as each user clients connect as. */
  private rdsProxyEdges(functions: readonly DeployedFunction[]): void {
    for (const proxy of this.resolver.resources('AWS::RDS::DBProxy')) {
      const p = this.resolver.properties(proxy.stack, proxy.logicalId);
      const roleArn = String(p.RoleArn);
      const proxyName = this.resolver.ref(proxy.stack, proxy.logicalId);
      const endpoint = this.resolver.getAtt(proxy.stack, proxy.logicalId, 'Endpoint');
      this.edge(
        `RDS Proxy → sts:AssumeRole ${roleArn}`,
        'the proxy assumes its role',
        this.assume('rds.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      const groups = this.resolver
        .resources('AWS::RDS::DBProxyTargetGroup')
        .map((g) => this.resolver.properties(g.stack, g.logicalId))
        .filter((g) => g.DBProxyName === proxyName);
      const users = new Set(
        functions
          .filter((f) => f.environment.CITADEL_DB_HOST === endpoint)
          .map((f) => f.environment.CITADEL_DB_USER ?? ''),
      );
      if (users.size === 0) throw new UnresolvableError(`no function connects through ${proxyName}`);
      for (const group of groups) {
        for (const id of (group.DBInstanceIdentifiers ?? []) as string[]) {
          const instance = this.resolver.findByRef('AWS::RDS::DBInstance', id);
          if (!instance) throw new UnresolvableError(`proxy target ${id} is not an instance of this stage`);
          const resourceId = this.resolver.getAtt(
            instance.stack,
            instance.logicalId,
            'DbiResourceId',
          ) as string;
          for (const user of users) {
            const dbuser = `arn:aws:rds-db:${this.region}:${this.account}:dbuser:${resourceId}/${user}`;
            this.edge(
              `RDS Proxy role → rds-db:connect ${dbuser}`,
              'end-to-end IAM: the proxy logs in to PostgreSQL with IAM',
              this.asRole(roleArn, proxyName, 'rds-db:connect', dbuser),
            );
          }
        }
      }
    }
  }

  private cognitoSmsEdges(): void {
    for (const pool of this.resolver.resources('AWS::Cognito::UserPool')) {
      const sms = this.resolver.property(pool.stack, pool.logicalId, 'SmsConfiguration') as
        | { SnsCallerArn: string; ExternalId?: string }
        | undefined;
      if (!sms) continue;
      const poolArn = this.resolver.getAtt(pool.stack, pool.logicalId, 'Arn') as string;
      this.edge(
        `Cognito → sts:AssumeRole ${sms.SnsCallerArn}`,
        'Cognito assumes the SMS role with its external id',
        this.assume('cognito-idp.amazonaws.com', sms.SnsCallerArn, {
          ...(sms.ExternalId ? { 'sts:ExternalId': sms.ExternalId } : {}),
          'aws:SourceAccount': this.account,
          'aws:SourceArn': poolArn,
        }),
      );
      // SMS goes straight to a phone number, which has no ARN: sns:Publish is authorized on `*`.
      this.edge(`Cognito SMS role → sns:Publish *`, 'sends SMS MFA codes', {
        ...this.asRole(sms.SnsCallerArn, 'CognitoSms', 'sns:Publish', '*'),
        wildcard: true,
      });
    }
  }

  private backupEdges(): void {
    for (const selection of this.resolver.resources('AWS::Backup::BackupSelection')) {
      const s = this.resolver.properties(selection.stack, selection.logicalId).BackupSelection;
      const roleArn = String(s.IamRoleArn);
      this.edge(
        `AWS Backup → sts:AssumeRole ${roleArn}`,
        'backup jobs run as the selection role',
        this.assume('backup.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      for (const resource of s.Resources as string[]) {
        const instance = this.resolver.findByAtt('AWS::RDS::DBInstance', 'DBInstanceArn', resource);
        if (!instance)
          throw new UnresolvableError(`backup selection names ${resource}, not an instance of this stage`);
        this.edge(
          `AWS Backup role → rds:CreateDBSnapshot ${resource}`,
          'snapshots the database',
          this.asRole(roleArn, 'AWSBackup', 'rds:CreateDBSnapshot', resource),
        );
        const keyId = this.resolver.property(instance.stack, instance.logicalId, 'KmsKeyId') as string;
        const keyArn = this.iam.keyArn(keyId);
        for (const action of ['kms:DescribeKey', 'kms:CreateGrant']) {
          this.edge(`AWS Backup role → ${action} ${keyArn}`, "RDS uses the instance's key for the snapshot", {
            ...this.asRole(roleArn, 'AWSBackup', action, keyArn),
            context: {
              ...this.kmsContext(roleArn, 'rds', {}),
              ...(action === 'kms:CreateGrant' ? { 'kms:GrantIsForAWSResource': 'true' } : {}),
            },
            resourcePolicy: this.iam.keyPolicy(keyArn),
          });
        }
      }
    }
    for (const selection of this.resolver.resources('AWS::Backup::RestoreTestingSelection')) {
      const s = this.resolver.properties(selection.stack, selection.logicalId);
      const roleArn = String(s.IamRoleArn);
      this.edge(
        `AWS Backup → sts:AssumeRole ${roleArn} (restore testing)`,
        'restore tests run as this role',
        this.assume('backup.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      const restored = `arn:aws:rds:${this.region}:${this.account}:db:${SAMPLE.restoredInstance}`;
      this.edge(
        `AWS Backup restore role → rds:RestoreDBInstanceFromDBSnapshot ${restored}`,
        'restores the latest recovery point',
        this.asRole(roleArn, 'AWSBackupRestoreTest', 'rds:RestoreDBInstanceFromDBSnapshot', restored),
      );
      for (const resource of s.ProtectedResourceArns as string[]) {
        const instance = this.resolver.findByAtt('AWS::RDS::DBInstance', 'DBInstanceArn', resource);
        if (!instance)
          throw new UnresolvableError(`restore testing names ${resource}, not an instance of this stage`);
        const keyArn = this.iam.keyArn(
          this.resolver.property(instance.stack, instance.logicalId, 'KmsKeyId') as string,
        );
        for (const action of ['kms:Decrypt', 'kms:CreateGrant']) {
          this.edge(
            `AWS Backup restore role → ${action} ${keyArn}`,
            'the restored instance is decrypted with the data key',
            {
              ...this.asRole(roleArn, 'AWSBackupRestoreTest', action, keyArn),
              context: {
                ...this.kmsContext(roleArn, 'rds', {}),
                ...(action === 'kms:CreateGrant' ? { 'kms:GrantIsForAWSResource': 'true' } : {}),
              },
              resourcePolicy: this.iam.keyPolicy(keyArn),
            },
          );
        }
      }
    }
  }

  /** CloudWatch Logs encrypts every KMS-encrypted log group with the logs service principal of the region. */
  private logsKeyEdges(): void {
    for (const group of this.resolver.resources('AWS::Logs::LogGroup')) {
      const keyId = this.resolver.property(group.stack, group.logicalId, 'KmsKeyId') as string | undefined;
      if (!keyId) continue;
      const keyArn = this.iam.keyArn(keyId);
      const groupArn = `arn:aws:logs:${this.region}:${this.account}:log-group:${this.resolver.ref(group.stack, group.logicalId)}`;
      for (const action of ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']) {
        this.edge(
          `CloudWatch Logs → ${action} ${keyArn} (${groupArn})`,
          'log data is encrypted with the log group key',
          {
            principal: `logs.${this.region}.amazonaws.com`,
            action,
            resource: keyArn,
            context: {
              'aws:SecureTransport': 'true',
              'kms:CallerAccount': this.account,
              'kms:EncryptionContextKeys': ['aws:logs:arn'],
              'kms:EncryptionContext:aws:logs:arn': groupArn,
            },
            identityPolicies: [],
            resourcePolicy: this.iam.keyPolicy(keyArn),
          },
        );
      }
    }
  }

  /** S3 server access logging delivers each source bucket's logs to its target bucket as `logging.s3.amazonaws.com`. */
  private accessLogEdges(): void {
    for (const source of this.resolver.resources('AWS::S3::Bucket')) {
      const logging = this.resolver.property(source.stack, source.logicalId, 'LoggingConfiguration') as
        | { DestinationBucketName: string; LogFilePrefix?: string }
        | undefined;
      if (!logging) continue;
      const sourceName = this.resolver.ref(source.stack, source.logicalId);
      const sourceArn = this.resolver.getAtt(source.stack, source.logicalId, 'Arn') as string;
      const key = `${logging.LogFilePrefix ?? ''}${this.account}/${this.region}/${sourceName}/2026/12/06/2026-12-06-00-00-00-0123456789ABCDEF`;
      const object = `arn:aws:s3:::${logging.DestinationBucketName}/${key}`;
      this.edge(`S3 server access logging (${sourceName}) → s3:PutObject ${object}`, 'delivers access logs', {
        principal: 'logging.s3.amazonaws.com',
        action: 's3:PutObject',
        resource: object,
        context: {
          'aws:SourceArn': sourceArn,
          'aws:SourceAccount': this.account,
          'aws:SecureTransport': 'true',
          's3:TlsVersion': '1.3',
        },
        identityPolicies: [],
        resourcePolicy: this.iam.bucketPolicy(logging.DestinationBucketName),
      });
    }
  }

  private flowLogEdges(): void {
    for (const flowLog of this.resolver.resources('AWS::EC2::FlowLog')) {
      const p = this.resolver.properties(flowLog.stack, flowLog.logicalId);
      if (!p.DeliverLogsPermissionArn) continue;
      const roleArn = String(p.DeliverLogsPermissionArn);
      this.edge(
        `VPC Flow Logs → sts:AssumeRole ${roleArn}`,
        'flow logs are delivered as this role',
        this.assume('vpc-flow-logs.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      const stream = `arn:aws:logs:${this.region}:${this.account}:log-group:${p.LogGroupName}:log-stream:eni-0a1b2c3d4e5f60718-all`;
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
        this.edge(
          `VPC Flow Logs role → ${action} ${stream}`,
          'writes flow records',
          this.asRole(roleArn, 'FlowLogs', action, stream),
        );
      }
    }
  }

  private monitoringEdges(): void {
    for (const instance of this.resolver.resources('AWS::RDS::DBInstance')) {
      const roleArn = this.resolver.property(instance.stack, instance.logicalId, 'MonitoringRoleArn') as
        | string
        | undefined;
      if (!roleArn) continue;
      const resourceId = this.resolver.getAtt(instance.stack, instance.logicalId, 'DbiResourceId') as string;
      this.edge(
        `RDS enhanced monitoring → sts:AssumeRole ${roleArn}`,
        'the monitoring agent publishes as this role',
        this.assume('monitoring.rds.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      const stream = `arn:aws:logs:${this.region}:${this.account}:log-group:RDSOSMetrics:log-stream:${resourceId}`;
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
        this.edge(
          `RDS enhanced monitoring role → ${action} ${stream}`,
          'OS metrics',
          this.asRole(roleArn, 'RDSMonitoring', action, stream),
        );
      }
    }
  }

  private apiGatewayLoggingEdges(): void {
    for (const account of this.resolver.resources('AWS::ApiGateway::Account')) {
      const roleArn = String(this.resolver.property(account.stack, account.logicalId, 'CloudWatchRoleArn'));
      this.edge(
        `API Gateway → sts:AssumeRole ${roleArn}`,
        "the account's CloudWatch role",
        this.assume('apigateway.amazonaws.com', roleArn, { 'aws:SourceAccount': this.account }),
      );
      for (const stage of this.resolver.resources('AWS::ApiGateway::Stage')) {
        const destination = (
          this.resolver.property(stage.stack, stage.logicalId, 'AccessLogSetting') as
            | { DestinationArn?: string }
            | undefined
        )?.DestinationArn;
        if (!destination) continue;
        const stream = `${destination.replace(/:\*$/, '')}:log-stream:${SAMPLE.logStream}`;
        this.edge(
          `API Gateway CloudWatch role → logs:PutLogEvents ${stream}`,
          'access logs',
          this.asRole(roleArn, 'ApiGateway', 'logs:PutLogEvents', stream),
        );
      }
    }
  }

  /** The break-glass role: a person of the account assumes it with MFA and reads quarantine. */
  private breakGlass(): void {
    for (const quarantine of this.quarantineBuckets()) {
      const { roleArn, bucketName } = quarantine;
      const person = `arn:aws:iam::${this.account}:user/on-call`;
      const personPolicy: NamedPolicy = {
        name: 'on-call',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }],
        },
      };
      const assume = (mfa: string): Omit<SimRequest, 'resourceAccount'> => ({
        principal: person,
        action: 'sts:AssumeRole',
        resource: roleArn,
        context: {
          'aws:PrincipalArn': person,
          'aws:SecureTransport': 'true',
          'aws:MultiFactorAuthPresent': mfa,
        },
        identityPolicies: [personPolicy],
        resourcePolicy: this.iam.trustPolicy(roleArn),
      });
      this.edge(
        `on-call (MFA) → sts:AssumeRole ${roleArn}`,
        'break-glass access to quarantine',
        assume('true'),
      );
      this.deny(
        `on-call without MFA → sts:AssumeRole ${roleArn}`,
        'break-glass needs MFA',
        'ImplicitlyDenied',
        assume('false'),
      );
      const object = this.object(bucketName, SAMPLE_UPLOAD_KEY);
      this.edge(
        `break-glass → s3:GetObject ${object.arn}`,
        'reads a quarantined object',
        this.asRole(roleArn, 'on-call', 's3:GetObject', object.arn, {
          resourcePolicy: object.resourcePolicy,
        }),
      );
      if (object.kms) {
        this.edge(`break-glass → kms:Decrypt ${object.kms.keyArn}`, 'S3 decrypts the quarantined object', {
          ...this.asRole(roleArn, 'on-call', 'kms:Decrypt', object.kms.keyArn),
          context: this.kmsContext(roleArn, 's3', object.kms.context),
          resourcePolicy: this.iam.keyPolicy(object.kms.keyArn),
        });
      }
    }
  }

  /**
   * Quarantine buckets and their break-glass role: the buckets whose policy refuses reads to everyone but one
   * principal (`ArnNotEquals aws:PrincipalArn`). Found by the scan function's `CITADEL_QUARANTINE_BUCKET`.
   */
  private quarantineBuckets(): Array<{ bucketName: string; roleArn: string }> {
    const names = new Set(
      this.resolver
        .resources('AWS::Lambda::Function')
        .map(
          (f) =>
            (
              this.resolver.property(f.stack, f.logicalId, 'Environment') as
                | { Variables?: Record<string, string> }
                | undefined
            )?.Variables?.CITADEL_QUARANTINE_BUCKET,
        )
        .filter((n): n is string => n !== undefined),
    );
    return [...names].map((bucketName) => {
      const role = this.resolver
        .resources('AWS::IAM::Role')
        .find((r) => /BreakGlassRole[0-9A-F]{8}$/.test(r.logicalId));
      if (!role) throw new UnresolvableError('no break-glass role in this stage');
      return { bucketName, roleArn: this.resolver.getAtt(role.stack, role.logicalId, 'Arn') as string };
    });
  }

  // Denies ---------------------------------------------------------------------------------------------------

  private denies(functions: readonly DeployedFunction[]): void {
    const routes = functions.filter((f) => f.declaration.route !== undefined);
    const scan = functions.find((f) => f.declaration.id === 'ScanPipeline');
    const download = functions.find((f) => f.declaration.id === 'DownloadFile');
    const create = functions.find((f) => f.declaration.id === 'CreateUpload');
    const migrations = functions.find((f) => f.declaration.id === 'Migrations');
    if (!scan || !download || !create || !migrations)
      throw new UnresolvableError(
        'the deny sample needs ScanPipeline, DownloadFile, CreateUpload and Migrations',
      );
    const uploadsBucket = this.env(download, 'CITADEL_UPLOADS_BUCKET');
    const quarantineBucket = this.env(scan, 'CITADEL_QUARANTINE_BUCKET');
    const masterSecret = this.secret(this.env(migrations, 'CITADEL_MASTER_SECRET_ARN'));
    const outsiderRole = `arn:aws:iam::${this.account}:role/${OUTSIDER}`;
    const outsider = (statements: Record<string, unknown>[]): NamedPolicy[] => [
      { name: OUTSIDER, document: { Version: '2012-10-17', Statement: statements } },
    ];
    const asOutsider = (
      policies: NamedPolicy[],
      action: string,
      target: Resolved,
      context: Record<string, string | string[]> = {},
    ) => ({
      principal: sessionOf(outsiderRole, 'analyst'),
      action,
      resource: target.arn,
      context: { ...this.sessionContext(outsiderRole, action), ...target.context, ...context },
      identityPolicies: policies,
      resourcePolicy: target.resourcePolicy,
    });

    // Reads of unscanned or infected uploads: refused by the bucket policy even to a principal allowed s3:GetObject.
    const reader = outsider([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${uploadsBucket}/*` },
    ]);
    for (const status of ['none', 'THREATS_FOUND'] as const) {
      const object = this.object(uploadsBucket, SAMPLE_UPLOAD_KEY, status);
      this.deny(
        `${OUTSIDER} (s3:GetObject on the bucket) → s3:GetObject ${object.arn} (scan status ${status})`,
        'reads are gated on the clean tag',
        'ExplicitlyDenied',
        asOutsider(reader, 's3:GetObject', object),
      );
      this.deny(
        `DownloadFile → s3:GetObject ${object.arn} (scan status ${status})`,
        'a download function cannot presign a read of an unscanned object',
        'ExplicitlyDenied',
        {
          ...this.asRole(download.roleArn, download.name, 's3:GetObject', object.arn, {
            resourcePolicy: object.resourcePolicy,
          }),
          context: { ...this.sessionContext(download.roleArn, 's3:GetObject'), ...object.context },
        },
      );
    }
    // Quarantine: no route function, not the scan role, not GuardDuty, not an administrator reads it.
    const quarantined = this.object(quarantineBucket, SAMPLE_UPLOAD_KEY);
    for (const fn of [...routes, scan]) {
      this.deny(
        `${fn.declaration.id} → s3:GetObject ${quarantined.arn}`,
        'only break-glass reads quarantine',
        'ExplicitlyDenied',
        this.asRole(fn.roleArn, fn.name, 's3:GetObject', quarantined.arn, {
          resourcePolicy: quarantined.resourcePolicy,
        }),
      );
    }
    const admin = outsider([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);
    this.deny(
      `${OUTSIDER} (s3:* on *) → s3:GetObject ${quarantined.arn}`,
      'quarantine is closed to administrators too',
      'ExplicitlyDenied',
      asOutsider(admin, 's3:GetObject', quarantined),
    );
    for (const plan of this.resolver.resources('AWS::GuardDuty::MalwareProtectionPlan')) {
      const roleArn = String(this.resolver.properties(plan.stack, plan.logicalId).Role);
      this.deny(
        `GuardDuty role → s3:GetObject ${quarantined.arn}`,
        'GuardDuty scans uploads, not quarantine',
        'ExplicitlyDenied',
        this.asRole(roleArn, 'GuardDutyMalwareProtection', 's3:GetObject', quarantined.arn, {
          resourcePolicy: quarantined.resourcePolicy,
        }),
      );
    }
    // Secrets: no route function reads the master secret.
    for (const fn of routes) {
      this.deny(
        `${fn.declaration.id} → secretsmanager:GetSecretValue ${masterSecret.arn}`,
        'the app has no password',
        'ImplicitlyDenied',
        this.asRole(fn.roleArn, fn.name, 'secretsmanager:GetSecretValue', masterSecret.arn, {
          resourcePolicy: masterSecret.resourcePolicy,
        }),
      );
    }
    // TLS only.
    const clean = this.object(uploadsBucket, SAMPLE_UPLOAD_KEY, 'NO_THREATS_FOUND');
    this.deny(
      `DownloadFile → s3:GetObject ${clean.arn} over HTTP`,
      'buckets refuse non-TLS requests',
      'ExplicitlyDenied',
      {
        ...this.asRole(download.roleArn, download.name, 's3:GetObject', clean.arn, {
          resourcePolicy: clean.resourcePolicy,
          context: clean.context as Record<string, string>,
        }),
        context: {
          ...this.sessionContext(download.roleArn, 's3:GetObject'),
          ...clean.context,
          'aws:SecureTransport': 'false',
        },
      },
    );
    this.deny(
      `ScanPipeline → s3:PutObject ${quarantined.arn} over HTTP`,
      'buckets refuse non-TLS requests',
      'ExplicitlyDenied',
      {
        ...this.asRole(scan.roleArn, scan.name, 's3:PutObject', quarantined.arn, {
          resourcePolicy: quarantined.resourcePolicy,
        }),
        context: { ...this.sessionContext(scan.roleArn, 's3:PutObject'), 'aws:SecureTransport': 'false' },
      },
    );
    const scanDlq = this.resolver.property(scan.handle.stack, scan.handle.logicalId, 'DeadLetterConfig') as {
      TargetArn: string;
    };
    this.deny(
      `ScanPipeline → sqs:SendMessage ${scanDlq.TargetArn} over HTTP`,
      'queues refuse non-TLS requests',
      'ExplicitlyDenied',
      {
        ...this.asRole(scan.roleArn, scan.name, 'sqs:SendMessage', scanDlq.TargetArn, {
          resourcePolicy: this.queue(scanDlq.TargetArn).policy,
        }),
        context: { ...this.sessionContext(scan.roleArn, 'sqs:SendMessage'), 'aws:SecureTransport': 'false' },
      },
    );
    // Nobody but GuardDuty sets the scan-status tag.
    const upload = this.object(uploadsBucket, SAMPLE_UPLOAD_KEY);
    const tagging = {
      's3:RequestObjectTagKeys': [SCAN_TAG],
      [`s3:RequestObjectTag/${SCAN_TAG}`]: 'NO_THREATS_FOUND',
    };
    this.deny(
      `CreateUpload → s3:PutObject ${upload.arn} with the ${SCAN_TAG} tag`,
      'an uploader cannot mark its own object clean',
      'ExplicitlyDenied',
      this.asRole(create.roleArn, create.name, 's3:PutObject', upload.arn, {
        resourcePolicy: upload.resourcePolicy,
        context: tagging,
      }),
    );
    this.deny(
      `ScanPipeline → s3:PutObjectTagging ${upload.arn} with the ${SCAN_TAG} tag`,
      'the scan role cannot mark an object clean',
      'ExplicitlyDenied',
      this.asRole(scan.roleArn, scan.name, 's3:PutObjectTagging', upload.arn, {
        resourcePolicy: upload.resourcePolicy,
        context: tagging,
      }),
    );
    this.deny(
      `${OUTSIDER} (s3:* on *) → s3:PutObjectTagging ${upload.arn} with the ${SCAN_TAG} tag`,
      'not even an administrator sets the scan tag',
      'ExplicitlyDenied',
      asOutsider(admin, 's3:PutObjectTagging', upload, tagging),
    );
    // Dead-letter keys: only this account's rules of the key's own stack.
    for (const key of this.resolver
      .resources('AWS::KMS::Key')
      .filter((k) => /^DeadLettersKey[0-9A-F]{8}$/.test(k.logicalId))) {
      const keyArn = this.resolver.getAtt(key.stack, key.logicalId, 'Arn') as string;
      const otherStack = Object.keys(this.stage.templates).find((s) => s !== key.stack) as string;
      const foreignRules = {
        [`rule of ${otherStack}`]: {
          arn: `arn:aws:events:${this.region}:${this.account}:rule/${otherStack}-SomeRule-ABCDEF123456`,
          account: this.account,
        },
        'rule of another account': {
          arn: `arn:aws:events:${this.region}:${OTHER_ACCOUNT}:rule/${key.stack}-SomeRule-ABCDEF123456`,
          account: OTHER_ACCOUNT,
        },
      };
      for (const [who, rule] of Object.entries(foreignRules)) {
        this.deny(
          `EventBridge (${who}) → kms:GenerateDataKey ${keyArn}`,
          'the dead-letter key serves its own stack’s rules only',
          'ImplicitlyDenied',
          {
            principal: 'events.amazonaws.com',
            action: 'kms:GenerateDataKey',
            resource: keyArn,
            context: {
              ...this.kmsContext(undefined, 'sqs', {
                'aws:sqs:arn': `arn:aws:sqs:${this.region}:${this.account}:dlq`,
              }),
              'aws:SourceArn': rule.arn,
              'aws:SourceAccount': rule.account,
            },
            identityPolicies: [],
            resourcePolicy: this.iam.keyPolicy(keyArn),
          },
        );
      }
    }
    // Invocations: only the wired API and rules.
    const invocation = this.apiInvocations().find((i) => i.functionArn === download.arn);
    if (invocation) {
      const foreign = invocation.sourceArn.replace(`:${invocation.api}/`, ':zzzzzzzzzz/');
      this.deny(
        `API Gateway (another API) → lambda:InvokeFunction ${download.arn}`,
        'only its own API invokes a route function',
        'ImplicitlyDenied',
        {
          principal: 'apigateway.amazonaws.com',
          action: 'lambda:InvokeFunction',
          resource: download.arn,
          context: {
            'aws:SourceArn': foreign,
            'aws:SourceAccount': this.account,
            'aws:SecureTransport': 'true',
          },
          identityPolicies: [],
          resourcePolicy: this.functionByArn(download.arn).policy,
        },
      );
    }
    this.deny(
      `EventBridge (an unrelated rule) → lambda:InvokeFunction ${scan.arn}`,
      'only its own rules invoke the scan pipeline',
      'ImplicitlyDenied',
      {
        principal: 'events.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: scan.arn,
        context: {
          'aws:SourceArn': `arn:aws:events:${this.region}:${this.account}:rule/someone-elses-rule`,
          'aws:SourceAccount': this.account,
          'aws:SecureTransport': 'true',
        },
        identityPolicies: [],
        resourcePolicy: this.functionByArn(scan.arn).policy,
      },
    );
    // Cognito's SMS role: only with the external id.
    for (const pool of this.resolver.resources('AWS::Cognito::UserPool')) {
      const sms = this.resolver.property(pool.stack, pool.logicalId, 'SmsConfiguration') as
        | { SnsCallerArn: string }
        | undefined;
      if (!sms) continue;
      this.deny(
        `Cognito with a wrong external id → sts:AssumeRole ${sms.SnsCallerArn}`,
        'confused deputy',
        'ImplicitlyDenied',
        this.assume('cognito-idp.amazonaws.com', sms.SnsCallerArn, {
          'sts:ExternalId': 'someone-elses',
          'aws:SourceAccount': this.account,
        }),
      );
    }
  }
}

/** A CloudFormation list property (absent: empty). */
function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}
