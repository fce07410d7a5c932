/**
 * Deploy-order rules Citadel relies on, checked over a stage's dependency graph (`graph.ts`). Each returns
 * the problems it finds as sentences; an empty list means the order holds.
 */
import { type DeployGraph, deployGraph, importsValue, type NodeId, references } from './graph';
import type { StageTemplates } from './stages';

const ROTATION_SCHEDULE = 'AWS::SecretsManager::RotationSchedule';
const ATTACHMENT = 'AWS::SecretsManager::SecretTargetAttachment';
const TRIGGER = 'Custom::Trigger';

const refTarget = (value: unknown): string | undefined => references(value)[0]?.logicalId;

/**
 * Secrets Manager rotates a secret once, immediately, when its rotation schedule is created, and a first
 * rotation that fails leaves AWSPENDING behind and blocks every later one. So each schedule must hang on the
 * secret's attachment (the secret already names its instance) and come after every deploy-time trigger (the
 * migration creates the logins the rotations change); and no trigger may wait for a schedule (the migration would
 * race the master's first rotation).
 */
export function rotationOrderProblems(graph: DeployGraph): string[] {
  const problems: string[] = [];
  const triggers = graph.ofType(TRIGGER);
  for (const schedule of graph.ofType(ROTATION_SCHEDULE)) {
    const resource = graph.resources.get(schedule);
    const target = refTarget(resource?.Properties?.SecretId);
    const attachment = target ? `${resource?.stack}/${target}` : undefined;
    if (!attachment || graph.resources.get(attachment)?.Type !== ATTACHMENT) {
      problems.push(
        `${schedule} names ${target ?? 'no resource'}, not a secret attachment: it may rotate a secret that does not name its database yet`,
      );
    } else if (!graph.precedes(attachment, schedule)) {
      problems.push(`${schedule} is not created after ${attachment}`);
    }
    for (const trigger of triggers) {
      if (!graph.precedes(trigger, schedule)) {
        problems.push(
          `${schedule} does not wait for ${trigger}: its immediate first rotation can run before the migration`,
        );
      }
      if (graph.precedes(schedule, trigger)) {
        problems.push(`${trigger} waits for ${schedule}: the migration races the rotation it started`);
      }
    }
  }
  return problems;
}

/** The migration trigger runs after the database, the secrets' attachments and the rules that let it in. */
export function migrationOrderProblems(graph: DeployGraph): string[] {
  const problems: string[] = [];
  for (const trigger of graph.ofType(TRIGGER)) {
    const stack = graph.resources.get(trigger)?.stack;
    const instances = graph
      .ofType('AWS::RDS::DBInstance')
      .filter((id) => graph.resources.get(id)?.stack === stack);
    // The rules that admit the migration into the instance's security groups.
    const instanceGroups = new Set(
      instances.flatMap((id) =>
        references(graph.resources.get(id)?.Properties?.VPCSecurityGroups).map((r) => r.logicalId),
      ),
    );
    const ingress = graph
      .ofType('AWS::EC2::SecurityGroupIngress')
      .filter((id) =>
        references(graph.resources.get(id)?.Properties?.GroupId).some((r) => instanceGroups.has(r.logicalId)),
      );
    const needed = [...instances, ...graph.ofType(ATTACHMENT), ...ingress].filter(
      (id) => graph.resources.get(id)?.stack === stack,
    );
    for (const id of needed) {
      if (!graph.precedes(id, trigger)) problems.push(`${trigger} can run before ${id} exists`);
    }
  }
  return problems;
}

/** Property names that hold what an association or attachment joins. */
const JOINED = /(Id|Ids|Arn|Arns)$/;

/**
 * Literals AWS documents as keywords, not names: a risk configuration for every app client of the pool is
 * `ClientId: ALL` (CloudFormation reference, `AWS::Cognito::UserPoolRiskConfigurationAttachment`).
 */
const KEYWORDS: Record<string, Record<string, string>> = {
  'AWS::Cognito::UserPoolRiskConfigurationAttachment': { ClientId: 'ALL' },
};

/**
 * Every association or attachment names what it joins by reference (`Ref`, `Fn::GetAtt`, `Fn::ImportValue`),
 * never by a literal: CloudFormation orders creation by references, so a literal id or ARN lets the association
 * be attempted before its target exists (or bind to something else).
 */
export function associationProblems(stage: StageTemplates): string[] {
  const problems: string[] = [];
  for (const [stack, template] of Object.entries(stage.templates)) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (!/(Association|Attachment)$/.test(resource.Type)) continue;
      for (const [key, value] of Object.entries(resource.Properties ?? {})) {
        if (!JOINED.test(key) || KEYWORDS[resource.Type]?.[key] === value) continue;
        const named = references(value).some((r) => template.Resources[r.logicalId]) || importsValue(value);
        if (!named) problems.push(`${stack}/${logicalId} (${resource.Type}) names its ${key} by a literal`);
      }
    }
  }
  return problems;
}

/**
 * Things AWS checks or uses at creation time must be granted before: GuardDuty validates its role's permissions
 * when the Malware Protection plan is created, and RDS Proxy logs in with its role (end-to-end IAM) as soon as its
 * target is registered. So every policy attached to such a role is created before the plan, or before the proxy's
 * target group.
 */
export function rolePolicyProblems(graph: DeployGraph): string[] {
  const problems: string[] = [];
  const logicalIdOf = (id: NodeId) => id.slice(id.indexOf('/') + 1);
  const gated: Array<{ type: string; roleProperty: string; gates: (id: NodeId) => NodeId[] }> = [
    { type: 'AWS::GuardDuty::MalwareProtectionPlan', roleProperty: 'Role', gates: (id) => [id] },
    {
      type: 'AWS::RDS::DBProxy',
      roleProperty: 'RoleArn',
      gates: (id) =>
        graph
          .ofType('AWS::RDS::DBProxyTargetGroup')
          .filter((t) => refTarget(graph.resources.get(t)?.Properties?.DBProxyName) === logicalIdOf(id)),
    },
  ];
  for (const { type, roleProperty, gates } of gated) {
    for (const id of graph.ofType(type)) {
      const resource = graph.resources.get(id);
      const role = refTarget(resource?.Properties?.[roleProperty]);
      if (!resource || !role) {
        problems.push(`${id} names no role in ${roleProperty}`);
        continue;
      }
      const roleResource = graph.resources.get(`${resource.stack}/${role}`);
      const policies = [
        ...references(roleResource?.Properties?.ManagedPolicyArns).map(
          (r) => `${resource.stack}/${r.logicalId}`,
        ),
        ...graph
          .ofType('AWS::IAM::Policy')
          .filter((p) =>
            references(graph.resources.get(p)?.Properties?.Roles).some((r) => r.logicalId === role),
          ),
      ].filter((p) => graph.resources.has(p));
      if (policies.length === 0) problems.push(`${id}: its role ${role} has no policy at all`);
      for (const gate of gates(id)) {
        for (const policy of policies) {
          if (!graph.precedes(policy, gate))
            problems.push(`${gate} can be created before ${policy} grants its role`);
        }
      }
    }
  }
  return problems;
}

/** Every deploy-order problem of a stage. */
export function deployOrderProblems(stage: StageTemplates): string[] {
  const graph = deployGraph(stage);
  return [
    ...rotationOrderProblems(graph),
    ...migrationOrderProblems(graph),
    ...associationProblems(stage),
    ...rolePolicyProblems(graph),
  ];
}
