/**
 * The creation order CloudFormation follows for a stage: inside a stack, a resource is created after every
 * resource it names in `DependsOn`, `Ref`, `Fn::GetAtt` or `Fn::Sub`; across stacks, `cdk deploy --all` deploys a
 * stack after the stacks it depends on (cross-stack references are `Export`/`Fn::ImportValue`, which also make
 * CloudFormation refuse to create the consumer before the producer exists).
 */
import type { CfnResource, StageTemplates } from './stages';

/** A resource of a stage: `<stack name>/<logical id>`. */
export type NodeId = string;

export interface Reference {
  readonly logicalId: string;
  /** The JSON path of the property that holds it, e.g. `Properties.SecretId`. */
  readonly at: string;
}

/** Every logical id `value` names through `Ref`, `Fn::GetAtt` or `${…}` in `Fn::Sub`, with where it was found. */
export function references(value: unknown, at = ''): Reference[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => references(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const found: Reference[] = [];
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('AWS::'))
      found.push({ logicalId: inner, at });
    else if (key === 'Fn::GetAtt') {
      const target = Array.isArray(inner) ? inner[0] : String(inner).split('.')[0];
      found.push({ logicalId: String(target), at });
    } else if (key === 'Fn::Sub') {
      const text = Array.isArray(inner) ? inner[0] : inner;
      for (const m of String(text).matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)) {
        if (!m[1]?.startsWith('AWS')) found.push({ logicalId: m[1] as string, at });
      }
      if (Array.isArray(inner)) found.push(...references(inner[1], `${at}.Fn::Sub`));
    } else found.push(...references(inner, at ? `${at}.${key}` : key));
  }
  return found;
}

/** Whether `value` imports another stack's export (`Fn::ImportValue`) anywhere inside. */
export function importsValue(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(importsValue);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k === 'Fn::ImportValue' || importsValue(v));
}

export interface DeployGraph {
  /** Resources by node id. */
  readonly resources: ReadonlyMap<
    NodeId,
    CfnResource & { readonly stack: string; readonly logicalId: string }
  >;
  /** Whether `before` is certainly created before `after` starts. */
  precedes(before: NodeId, after: NodeId): boolean;
  /** The node ids of resources of `type`. */
  ofType(type: string): NodeId[];
}

/** The deploy-order graph of a stage. */
export function deployGraph(stage: StageTemplates): DeployGraph {
  const resources = new Map<NodeId, CfnResource & { stack: string; logicalId: string }>();
  const edges = new Map<NodeId, Set<NodeId>>(); // node -> what it waits for
  for (const [stack, template] of Object.entries(stage.templates)) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const id = `${stack}/${logicalId}`;
      resources.set(id, { ...resource, stack, logicalId });
      const waits = new Set<NodeId>();
      for (const dep of [resource.DependsOn ?? []].flat()) waits.add(`${stack}/${dep}`);
      for (const ref of references({ Properties: resource.Properties, Condition: undefined })) {
        if (template.Resources[ref.logicalId]) waits.add(`${stack}/${ref.logicalId}`);
      }
      edges.set(id, waits);
    }
  }
  const stackBefore = (earlier: string, later: string): boolean => {
    const seen = new Set<string>();
    const visit = (s: string): boolean =>
      (stage.stackDependencies[s] ?? []).some((d) => {
        if (d === earlier) return true;
        if (seen.has(d)) return false;
        seen.add(d);
        return visit(d);
      });
    return visit(later);
  };
  const memo = new Map<NodeId, Set<NodeId>>();
  const ancestors = (id: NodeId): Set<NodeId> => {
    const known = memo.get(id);
    if (known) return known;
    const all = new Set<NodeId>();
    memo.set(id, all);
    for (const dep of edges.get(id) ?? []) {
      all.add(dep);
      for (const a of ancestors(dep)) all.add(a);
    }
    return all;
  };
  return {
    resources,
    precedes(before, after) {
      const b = resources.get(before);
      const a = resources.get(after);
      if (!b || !a) throw new Error(`no resource ${b ? after : before} in stage ${stage.stage}`);
      if (b.stack !== a.stack) return stackBefore(b.stack, a.stack);
      return ancestors(after).has(before);
    },
    ofType: (type) => [...resources].filter(([, r]) => r.Type === type).map(([id]) => id),
  };
}
