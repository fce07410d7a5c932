/**
 * Finds the web ACL in front of each of Citadel's protected resources in a stage's synthesized templates, through
 * the `AWS::WAFv2::WebACLAssociation` resources, and checks that each association is one CloudFormation creates
 * reliably: its own resource type (whose handler retries `WAFUnavailableEntityException`, the error of an ACL
 * still propagating, every 10 s for up to 25 minutes), naming the ACL by `Fn::GetAtt` in the same stack (so it is
 * created after the ACL), and no custom resource calling `AssociateWebACL` once instead.
 */
import type { StageName } from '../../../lib/config';
import { references } from './graph';
import type { CfnResource, CfnTemplate } from './stages';
import type { Json } from './waf-evaluator';

export type ProtectedName = 'publicApi' | 'machineApi' | 'userPool';

export interface FoundAcl {
  readonly stack: string;
  readonly logicalId: string;
  /** The `AWS::WAFv2::WebACL` properties. */
  readonly acl: Json;
}

export interface AclDiscovery {
  readonly acls: Partial<Record<ProtectedName, FoundAcl>>;
  /** Wiring problems, each saying what is wrong and why it matters. */
  readonly problems: readonly string[];
}

const getAttOf = (v: unknown): [string, string] | undefined => {
  const g = (v as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
  return Array.isArray(g) && g.length === 2 ? (g as [string, string]) : undefined;
};

/** Which protected resource an association's `ResourceArn` names, in `template`. */
function protectedBy(
  stage: StageName,
  template: CfnTemplate,
  resourceArn: unknown,
): ProtectedName | undefined {
  const att = getAttOf(resourceArn);
  if (att && template.Resources[att[0]]?.Type === 'AWS::Cognito::UserPool' && att[1] === 'Arn')
    return 'userPool';
  const refs = references(resourceArn).map((r) => r.logicalId);
  const api = refs.map((r) => template.Resources[r]).find((r) => r?.Type === 'AWS::ApiGateway::RestApi');
  const stageRef = refs.some((r) => template.Resources[r]?.Type === 'AWS::ApiGateway::Stage');
  if (!api || !stageRef) return undefined;
  if (api.Properties?.Name === `citadel-${stage}`) return 'publicApi';
  if (api.Properties?.Name === `citadel-${stage}-machine`) return 'machineApi';
  return undefined;
}

const isCustomResource = (r: CfnResource) =>
  r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource';

export function findWebAcls(
  stage: StageName,
  templates: Readonly<Record<string, CfnTemplate>>,
): AclDiscovery {
  const problems: string[] = [];
  const acls: Partial<Record<ProtectedName, FoundAcl>> = {};
  for (const [stack, template] of Object.entries(templates)) {
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (
        isCustomResource(resource) &&
        JSON.stringify(resource.Properties ?? {}).includes('AssociateWebACL')
      ) {
        problems.push(
          `${stack}/${id}: a custom resource calls AssociateWebACL, once; right after the ACL is created WAF answers WAFUnavailableEntityException. Use AWS::WAFv2::WebACLAssociation, whose handler retries it.`,
        );
      }
      if (resource.Type !== 'AWS::WAFv2::WebACLAssociation') continue;
      const target = protectedBy(stage, template, resource.Properties?.ResourceArn);
      const att = getAttOf(resource.Properties?.WebACLArn);
      const aclResource = att ? template.Resources[att[0]] : undefined;
      if (att?.[1] !== 'Arn' || aclResource?.Type !== 'AWS::WAFv2::WebACL') {
        problems.push(
          `${stack}/${id}: names its web ACL by ${JSON.stringify(resource.Properties?.WebACLArn)}, not Fn::GetAtt of a web ACL in the same stack: CloudFormation may create the association before the ACL exists.`,
        );
        continue;
      }
      if (!target) {
        problems.push(`${stack}/${id}: protects a resource the WAF checks do not know.`);
        continue;
      }
      if (acls[target]) {
        problems.push(
          `${stack}/${id}: a second web ACL association for ${target}; a resource takes one web ACL.`,
        );
        continue;
      }
      acls[target] = { stack, logicalId: att[0], acl: aclResource.Properties };
    }
  }
  for (const name of ['publicApi', 'machineApi', 'userPool'] as const) {
    if (!acls[name])
      problems.push(`${name}: no AWS::WAFv2::WebACLAssociation puts a web ACL in front of it.`);
  }
  return { acls, problems };
}
