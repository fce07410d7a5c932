/**
 * IAM as a stage's templates define it, for the IAM wiring suite: the identity policies of a role (inline
 * `AWS::IAM::Policy`, `Policies` on the role, customer-managed `AWS::IAM::ManagedPolicy`, and AWS managed
 * policies from `test/fixtures/aws-managed-policies`), trust policies, and the resource policies AWS evaluates
 * with them (bucket, queue, secret, KMS key, and a function's policy made of its `AWS::Lambda::Permission`s).
 *
 * {@link simulate} runs one request through `@cloud-copilot/iam-simulate`: the simulator decides, this module only
 * gathers its inputs and refuses a request it would not evaluate as given.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createValidatedPolicy,
  type ValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy,
} from '@cloud-copilot/iam-policy';
import {
  type RequestAnalysis,
  runSimulation,
  runUnsafeSimulation,
  type Simulation,
} from '@cloud-copilot/iam-simulate';
import { type ResourceHandle, type StageResolver, UnresolvableError } from './resolve';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Id?: string;
  readonly Statement: readonly Record<string, unknown>[] | Record<string, unknown>;
}

export interface NamedPolicy {
  /** Where the policy comes from, e.g. `Citadel-prod-Api/CreateUploadRoleDefaultPolicy47F24541`. */
  readonly name: string;
  readonly document: PolicyDocument;
}

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/aws-managed-policies');

interface ManagedPolicyFixture {
  readonly arn: string;
  readonly source: string;
  readonly retrieved: string;
  readonly version: string;
  readonly document: PolicyDocument;
}

let managedPolicies: Map<string, ManagedPolicyFixture> | undefined;

/** The AWS managed policies committed as fixtures, by ARN (partition `aws`). */
export function awsManagedPolicies(): ReadonlyMap<string, ManagedPolicyFixture> {
  if (!managedPolicies) {
    managedPolicies = new Map();
    for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
      const fixture = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as ManagedPolicyFixture;
      managedPolicies.set(fixture.arn, fixture);
    }
  }
  return managedPolicies;
}

const asArray = <T>(value: T | readonly T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? [...value] : [value as T];

/** The name of the role `roleArn` names (the part after `role/` and any path). */
export const roleNameOf = (roleArn: string): string => roleArn.slice(roleArn.lastIndexOf('/') + 1);

/** The session ARN a service gets when it assumes `roleArn` with `sessionName` (e.g. a Lambda function's). */
export function sessionOf(roleArn: string, sessionName: string): string {
  const account = roleArn.split(':')[4];
  return `arn:aws:sts::${account}:assumed-role/${roleNameOf(roleArn)}/${sessionName}`;
}

/** IAM of one stage, read from its templates through `resolver`. */
export class StageIam {
  constructor(readonly resolver: StageResolver) {}

  /** The `AWS::IAM::Role` whose ARN is `roleArn`. */
  role(roleArn: string): ResourceHandle {
    const role = this.resolver.findByAtt('AWS::IAM::Role', 'Arn', roleArn);
    if (!role) throw new UnresolvableError(`no role of this stage has the ARN ${roleArn}`);
    return role;
  }

  /** Every identity policy attached to `roleArn`, in the order IAM lists them. */
  identityPolicies(roleArn: string): NamedPolicy[] {
    const role = this.role(roleArn);
    const name = this.resolver.ref(role.stack, role.logicalId);
    const props = this.resolver.properties(role.stack, role.logicalId);
    const policies: NamedPolicy[] = asArray(
      props.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[],
    ).map((p) => ({ name: `${role.stack}/${role.logicalId}/${p.PolicyName}`, document: p.PolicyDocument }));
    for (const policy of this.resolver.resources('AWS::IAM::Policy')) {
      const p = this.resolver.properties(policy.stack, policy.logicalId);
      if (asArray(p.Roles as string[]).includes(name)) {
        policies.push({ name: `${policy.stack}/${policy.logicalId}`, document: p.PolicyDocument });
      }
    }
    const managedArns = new Set(asArray(props.ManagedPolicyArns as string[]));
    for (const policy of this.resolver.resources('AWS::IAM::ManagedPolicy')) {
      const p = this.resolver.properties(policy.stack, policy.logicalId);
      const arn = this.resolver.ref(policy.stack, policy.logicalId);
      if (managedArns.delete(arn) || asArray(p.Roles as string[]).includes(name)) {
        policies.push({ name: `${policy.stack}/${policy.logicalId}`, document: p.PolicyDocument });
      }
    }
    for (const arn of managedArns) {
      const fixture = awsManagedPolicies().get(arn);
      if (!fixture) {
        throw new UnresolvableError(
          `${role.stack}/${role.logicalId} attaches ${arn}, which is neither in the templates nor a fixture in test/fixtures/aws-managed-policies (add it from the AWS managed policy reference)`,
        );
      }
      policies.push({ name: arn, document: fixture.document });
    }
    return policies;
  }

  /** The trust policy of `roleArn`. */
  trustPolicy(roleArn: string): PolicyDocument {
    const role = this.role(roleArn);
    return this.resolver.properties(role.stack, role.logicalId).AssumeRolePolicyDocument as PolicyDocument;
  }

  /** The bucket policy of the bucket named `bucketName`, if any. */
  bucketPolicy(bucketName: string): PolicyDocument | undefined {
    return this.single('AWS::S3::BucketPolicy', (p) => p.Bucket === bucketName, 'PolicyDocument');
  }

  /** The queue policy covering the queue at `queueUrl`, if any. */
  queuePolicy(queueUrl: string): PolicyDocument | undefined {
    return this.single(
      'AWS::SQS::QueuePolicy',
      (p) => asArray(p.Queues).includes(queueUrl),
      'PolicyDocument',
    );
  }

  /** The topic policy covering the SNS topic `topicArn`, if any. */
  topicPolicy(topicArn: string): PolicyDocument | undefined {
    return this.single(
      'AWS::SNS::TopicPolicy',
      (p) => asArray(p.Topics).includes(topicArn),
      'PolicyDocument',
    );
  }

  /** The resource policy of the secret `secretArn`, if any. */
  secretPolicy(secretArn: string): PolicyDocument | undefined {
    return this.single(
      'AWS::SecretsManager::ResourcePolicy',
      (p) => p.SecretId === secretArn,
      'ResourcePolicy',
    );
  }

  /** The `AWS::KMS::Key` a key ARN or key id names. */
  key(keyArnOrId: string): ResourceHandle {
    const key =
      this.resolver.findByAtt('AWS::KMS::Key', 'Arn', keyArnOrId) ??
      this.resolver.findByRef('AWS::KMS::Key', keyArnOrId);
    if (!key) throw new UnresolvableError(`no KMS key of this stage is ${keyArnOrId}`);
    return key;
  }

  keyArn(keyArnOrId: string): string {
    const key = this.key(keyArnOrId);
    return this.resolver.getAtt(key.stack, key.logicalId, 'Arn') as string;
  }

  /** The key policy of `keyArnOrId`: KMS always evaluates one. */
  keyPolicy(keyArnOrId: string): PolicyDocument {
    const key = this.key(keyArnOrId);
    return this.resolver.properties(key.stack, key.logicalId).KeyPolicy as PolicyDocument;
  }

  /**
   * The resource policy Lambda keeps for `functionArn`, built from its `AWS::Lambda::Permission`s the way
   * `GetPolicy` shows it: one statement per permission, `SourceArn` as `ArnLike` and `SourceAccount` as
   * `StringEquals` on `AWS:SourceArn` / `AWS:SourceAccount`.
   */
  functionPolicy(functionArn: string): PolicyDocument | undefined {
    const name = functionArn.split(':')[6];
    const statements: Record<string, unknown>[] = [];
    for (const permission of this.resolver.resources('AWS::Lambda::Permission')) {
      const p = this.resolver.properties(permission.stack, permission.logicalId);
      const target = String(p.FunctionName);
      if (target !== functionArn && target !== name && !target.startsWith(`${functionArn}:`)) continue;
      const unsupported = Object.keys(p).filter(
        (k) =>
          !['Action', 'FunctionName', 'Principal', 'SourceArn', 'SourceAccount', 'PrincipalOrgID'].includes(
            k,
          ),
      );
      if (unsupported.length > 0) {
        throw new UnresolvableError(
          `${permission.stack}/${permission.logicalId}: permission properties ${unsupported.join(', ')} are not modelled`,
        );
      }
      const principal = String(p.Principal);
      const condition: Record<string, Record<string, string>> = {};
      if (p.SourceArn) condition.ArnLike = { 'AWS:SourceArn': p.SourceArn };
      if (p.SourceAccount) condition.StringEquals = { 'AWS:SourceAccount': p.SourceAccount };
      if (p.PrincipalOrgID)
        condition.StringEquals = { ...condition.StringEquals, 'aws:PrincipalOrgID': p.PrincipalOrgID };
      statements.push({
        Sid: permission.logicalId,
        Effect: 'Allow',
        Principal: principal.endsWith('.amazonaws.com')
          ? { Service: principal }
          : /^\d{12}$/.test(principal)
            ? { AWS: `arn:aws:iam::${principal}:root` }
            : { AWS: principal },
        Action: p.Action,
        Resource: target.startsWith('arn:') ? target : functionArn,
        ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
      });
    }
    return statements.length > 0 ? { Version: '2012-10-17', Statement: statements } : undefined;
  }

  private single(
    type: string,
    matches: (props: Record<string, unknown>) => boolean,
    documentProperty: string,
  ): PolicyDocument | undefined {
    const found = this.resolver
      .resources(type)
      .map((r) => this.resolver.properties(r.stack, r.logicalId))
      .filter(matches);
    if (found.length > 1) {
      throw new UnresolvableError(
        `${found.length} ${type} resources apply to the same resource: AWS keeps one`,
      );
    }
    return found[0]?.[documentProperty] as PolicyDocument | undefined;
  }
}

export type EvaluationResult = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface SimRequest {
  /** A role session, role, user or root ARN, or a service principal (`events.amazonaws.com`). */
  readonly principal: string;
  readonly action: string;
  /** A concrete resource ARN (or `*` for actions without resource-level permissions). */
  readonly resource: string;
  /** @default the fake account */
  readonly resourceAccount: string;
  readonly context: Readonly<Record<string, string | readonly string[]>>;
  readonly identityPolicies: readonly NamedPolicy[];
  /**
   * The resource policy AWS evaluates with the request, if the resource has one: a bucket, queue or secret
   * policy, a function's permissions, a role's trust policy (for `sts:AssumeRole`), a KMS key policy (always).
   */
  readonly resourcePolicy?: PolicyDocument;
  /**
   * The resource is `*` for an action that has resource types (SNS `Publish` to a phone number, which has no
   * ARN): the simulator then evaluates every resource pattern the policies name.
   */
  readonly wildcard?: boolean;
}

export interface SimOutcome {
  readonly result: EvaluationResult;
  /** The identity-policy statements that allowed the request (policy name, 1-based statement index). */
  readonly allowedBy: ReadonlyArray<{ readonly policy: string; readonly statement: number }>;
  /** Context keys the simulator does not take for this action (only `kms:EncryptionContext:*`, see below). */
  readonly workaround?: string;
}

const validated = new WeakMap<object, ValidatedPolicy<{ name: string }>>();

function validatedPolicy(
  document: PolicyDocument,
  name: string,
  kind: 'identity' | 'resource',
): ValidatedPolicy<{ name: string }> {
  let policy = validated.get(document);
  if (!policy) {
    policy = createValidatedPolicy(
      document,
      kind === 'identity' ? validateIdentityPolicy : validateResourcePolicy,
      { name },
    );
    validated.set(document, policy);
  }
  return policy;
}

/**
 * Evaluates `request` with `@cloud-copilot/iam-simulate`. For a same-account request the simulator allows when
 * the identity or the resource policy allows; for a KMS key it requires the key policy to allow, directly or by
 * trusting the account (so that IAM policies apply), and for a service principal, the resource policy.
 *
 * It throws, instead of answering, when the simulator refuses the input (an invalid policy, action or resource
 * ARN) or drops a context key as not applying to the action: a request the simulator would evaluate differently
 * from the one described is a bug in the request, not an answer. One exception: iam-simulate 0.1.173 drops
 * `kms:EncryptionContext:<key>` keys (its template-key matching only handles `/`-separated variables such as
 * `aws:PrincipalTag/<key>`). When such keys are set, the validated run is repeated unvalidated with the whole
 * context; the validated run has already checked the policies, the action, the resource and every other key.
 */
export async function simulate(request: SimRequest): Promise<SimOutcome> {
  const simulation: Simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: Object.fromEntries(
        Object.entries(request.context).map(([k, v]) => [k, typeof v === 'string' ? v : [...v]]),
      ),
    },
    identityPolicies: request.identityPolicies.map((p) => ({
      name: p.name,
      policy: validatedPolicy(p.document, p.name, 'identity'),
    })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy
      ? validatedPolicy(request.resourcePolicy, 'resource policy', 'resource')
      : undefined,
  };
  const outcome = await runSimulation(simulation, {});
  const describe = () => `${request.principal} ${request.action} ${request.resource}`;
  if (outcome.resultType === 'error') {
    throw new Error(`the simulator refused ${describe()}: ${JSON.stringify(outcome.errors)}`);
  }
  if (outcome.resultType === 'wildcard') {
    if (!request.wildcard)
      throw new Error(`${describe()}: expected one concrete resource, the simulator saw a wildcard`);
    return {
      result: outcome.overallResult,
      allowedBy: outcome.results.flatMap((r) => allowingStatements(r.analysis)),
    };
  }
  const allowedBy = allowingStatements(outcome.result.analysis);
  const ignored = outcome.result.ignoredContextKeys ?? [];
  const unexpected = ignored.filter((k) => !/^kms:EncryptionContext:/i.test(k));
  if (unexpected.length > 0) {
    throw new Error(`${describe()}: context keys ${unexpected.join(', ')} do not apply to ${request.action}`);
  }
  if (ignored.length === 0) return { result: outcome.overallResult, allowedBy };
  // Same inputs through the unvalidated engine: first without the dropped keys, which must agree with the
  // validated run (the two engines see the same request), then with them.
  const withoutDropped = {
    ...simulation,
    request: {
      ...simulation.request,
      contextVariables: Object.fromEntries(
        Object.entries(simulation.request.contextVariables).filter(([k]) => !ignored.includes(k)),
      ),
    },
  };
  const check = runUnsafeSimulation(withoutDropped, {});
  if (check !== outcome.overallResult) {
    throw new Error(
      `${describe()}: validated (${outcome.overallResult}) and unvalidated (${check}) runs disagree`,
    );
  }
  return {
    result: runUnsafeSimulation(simulation, {}),
    allowedBy,
    workaround: `evaluated with ${ignored.join(', ')} unvalidated (iam-simulate drops them)`,
  };
}

function allowingStatements(analysis: RequestAnalysis | undefined): SimOutcome['allowedBy'] {
  if (analysis?.result !== 'Allowed') return [];
  return (analysis.identityAnalysis?.allowStatements ?? []).map((s) => ({
    policy: s.policyId,
    statement: s.statement.index(),
  }));
}
