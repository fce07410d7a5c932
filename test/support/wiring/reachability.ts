/**
 * Network reachability of every AWS call a function in the VPC makes, per stage, from the synthesized templates:
 * each service it calls (`lib/wiring/aws-calls.ts`) needs a path out of the function's subnets that its security
 * groups allow, and each database it logs in to needs a port open on both sides. A path is one of:
 * - an interface endpoint for the service with private DNS, in every AZ the function runs in, whose security group
 *   admits HTTPS from the function and which the function's security group may reach;
 * - the S3 gateway endpoint on every route table of the function's subnets (S3 only);
 * - NAT: a default route from every function subnet to a NAT gateway or NAT instance in a public subnet (itself
 *   routed to an internet gateway; an instance must admit HTTPS from the function), with HTTPS out allowed.
 * Documented exceptions, where a path exists on paper but AWS does not serve the call over it, are data
 * ({@link PATH_EXCEPTIONS}), each with its source.
 */
import {
  type AwsCall,
  callsOf,
  declaredFunctions,
  type FunctionDeclaration,
  type SdkClient,
} from '../../../lib/wiring/aws-calls';
import { type ResourceHandle, StageResolver } from './resolve';
import type { StageTemplates } from './stages';

/** The PrivateLink service name suffix (`com.amazonaws.<region>.<name>`) of each SDK client's API. */
const ENDPOINT_SERVICE: Record<SdkClient, string> = {
  S3: 's3',
  SecretsManager: 'secretsmanager',
  Lambda: 'lambda',
  // API Gateway's management API: `execute-api` endpoints serve only private APIs, so there is no endpoint for it.
  APIGateway: 'apigateway',
  CognitoIdentityProvider: 'cognito-idp',
  RDS: 'rds',
  Backup: 'backup',
  EC2: 'ec2',
  GuardDuty: 'guardduty',
  // SES API v2 (`email.<region>.amazonaws.com`): only the recovery control function calls it, outside the VPC.
  SESv2: 'email',
};

export type PathKind = 'interface-endpoint' | 'gateway-endpoint' | 'nat';

/** Where AWS documents that a path which exists in the network does not serve a service's calls. */
export interface PathException {
  readonly service: string;
  readonly path: PathKind;
  /** Whether the exception applies in this stage. */
  readonly applies: (resolver: StageResolver) => boolean;
  readonly why: string;
  readonly source: string;
}

export const PATH_EXCEPTIONS: readonly PathException[] = [
  {
    service: 'cognito-idp',
    path: 'interface-endpoint',
    applies: (resolver) => resolver.resources('AWS::Cognito::UserPoolDomain').length > 0,
    why: 'a user pool with a domain assigned is incompatible with AWS PrivateLink: its API requests through the endpoint do not complete',
    source: 'https://docs.aws.amazon.com/cognito/latest/developerguide/vpc-interface-endpoints.html',
  },
];

/** What a VPC function needs reachable for one call: an AWS API over HTTPS, or PostgreSQL. */
type Need = { kind: 'api'; service: string; call: string } | { kind: 'postgres'; call: string };

/** The network needs of a call: none for what the Lambda service does itself outside the function's network. */
function needsOf(call: AwsCall): Need | undefined {
  const name = call.sdk ? `${call.sdk.client} ${call.sdk.command}` : `runtime ${call.runtime}`;
  if (call.sdk) return { kind: 'api', service: ENDPOINT_SERVICE[call.sdk.client], call: name };
  switch (call.runtime) {
    case 'rds-iam-token':
      return { kind: 'postgres', call: name };
    // The X-Ray SDK sends segments to the daemon Lambda runs beside the function, which forwards them to X-Ray.
    // Counted as a call from the function's network: the conservative reading (the endpoint exists for it).
    case 'xray':
      return { kind: 'api', service: 'xray', call: name };
    // Logs and network interfaces are the Lambda service's own work, outside the function's subnets.
    default:
      return undefined;
  }
}

export interface PathCheck {
  readonly stage: string;
  readonly fn: string;
  /** The service (`secretsmanager`, …) or `postgres`. */
  readonly service: string;
  /** The path that serves it, if any. */
  readonly via?: PathKind | 'postgres';
}

export interface ReachabilityReport {
  readonly checks: readonly PathCheck[];
  /** One sentence per (function, service) without a path. */
  readonly problems: readonly string[];
  /** Functions checked, and those outside the VPC (which reach AWS APIs through Lambda's own network). */
  readonly vpcFunctions: readonly string[];
  readonly outsideVpc: readonly string[];
}

interface Rule {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly cidr?: string;
  readonly group?: string;
  readonly prefixList?: string;
}

const ipToInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);

/** Whether every address of `inner` lies in `outer` (both CIDR blocks). */
export function cidrContains(outer: string, inner: string): boolean {
  const [oIp, oBits] = outer.split('/') as [string, string];
  const [iIp, iBits] = inner.split('/') as [string, string];
  if (Number(iBits) < Number(oBits)) return false;
  const mask = Number(oBits) === 0 ? 0 : (~0 << (32 - Number(oBits))) >>> 0;
  return (ipToInt(oIp) & mask) >>> 0 === (ipToInt(iIp) & mask) >>> 0;
}

const portMatches = (rule: Rule, port: number) =>
  rule.protocol === '-1' || (rule.protocol === 'tcp' && rule.from <= port && port <= rule.to);

/** The network model of one stage, resolved in the fake account. */
class Network {
  constructor(private readonly r: StageResolver) {}

  groupIdOf(handle: ResourceHandle): string {
    return this.r.getAtt(handle.stack, handle.logicalId, 'GroupId') as string;
  }

  private groupById(id: string): ResourceHandle {
    const group = this.r.findByAtt('AWS::EC2::SecurityGroup', 'GroupId', id);
    if (!group) throw new Error(`no security group ${id} in the stage`);
    return group;
  }

  private rules(groupId: string, direction: 'Egress' | 'Ingress'): Rule[] {
    const group = this.groupById(groupId);
    const inline = (this.r.property(group.stack, group.logicalId, `SecurityGroup${direction}`) ??
      []) as Array<Record<string, unknown>>;
    const standalone = this.r
      .resources(`AWS::EC2::SecurityGroup${direction}`)
      .map((h) => this.r.properties(h.stack, h.logicalId))
      .filter((p) => p.GroupId === groupId);
    return [...inline, ...standalone].map((p) => ({
      protocol: String(p.IpProtocol),
      from: Number(p.FromPort ?? 0),
      to: Number(p.ToPort ?? 65535),
      cidr: (p.CidrIp as string | undefined) ?? undefined,
      group: (direction === 'Egress' ? p.DestinationSecurityGroupId : p.SourceSecurityGroupId) as
        | string
        | undefined,
      prefixList: (p.DestinationPrefixListId as string | undefined) ?? undefined,
    }));
  }

  /** Whether any of `groups` lets TCP `port` out to the group `toGroup` or every address of `toCidr`. */
  egressAllows(
    groups: readonly string[],
    port: number,
    to: { group?: string; cidrs?: readonly string[] },
  ): boolean {
    return groups.some((g) =>
      this.rules(g, 'Egress').some(
        (rule) =>
          portMatches(rule, port) &&
          ((to.group !== undefined && rule.group === to.group) ||
            (rule.cidr !== undefined &&
              (to.cidrs ?? []).length > 0 &&
              (to.cidrs ?? []).every((c) => cidrContains(rule.cidr as string, c)))),
      ),
    );
  }

  /** Whether `group` lets TCP `port` in from one of `fromGroups` or from every address of `fromCidrs`. */
  ingressAllows(
    group: string,
    port: number,
    fromGroups: readonly string[],
    fromCidrs: readonly string[],
  ): boolean {
    return this.rules(group, 'Ingress').some(
      (rule) =>
        portMatches(rule, port) &&
        ((rule.group !== undefined && fromGroups.includes(rule.group)) ||
          (rule.cidr !== undefined &&
            fromCidrs.length > 0 &&
            fromCidrs.every((c) => cidrContains(rule.cidr as string, c)))),
    );
  }

  subnet(id: string): { id: string; az: string; cidr: string; routeTable: string | undefined } {
    const subnet = this.r.findByRef('AWS::EC2::Subnet', id);
    if (!subnet) throw new Error(`no subnet ${id} in the stage`);
    const props = this.r.properties(subnet.stack, subnet.logicalId);
    const association = this.r
      .resources('AWS::EC2::SubnetRouteTableAssociation')
      .map((h) => this.r.properties(h.stack, h.logicalId))
      .find((p) => p.SubnetId === id);
    return {
      id,
      az: String(props.AvailabilityZone),
      cidr: String(props.CidrBlock),
      routeTable: association?.RouteTableId as string | undefined,
    };
  }

  /** The target of the IPv4 default route of `routeTable`, if any. */
  defaultRoute(routeTable: string | undefined): Record<string, unknown> | undefined {
    if (!routeTable) return undefined;
    return this.r
      .resources('AWS::EC2::Route')
      .map((h) => this.r.properties(h.stack, h.logicalId))
      .find((p) => p.RouteTableId === routeTable && p.DestinationCidrBlock === '0.0.0.0/0');
  }

  interfaceEndpoints(service: string) {
    const name = `com.amazonaws.${this.r.env.region}.${service}`;
    return this.r
      .resources('AWS::EC2::VPCEndpoint')
      .map((h) => ({ handle: h, props: this.r.properties(h.stack, h.logicalId) }))
      .filter(({ props }) => props.VpcEndpointType === 'Interface' && props.ServiceName === name);
  }

  gatewayEndpoints(service: string) {
    const name = `com.amazonaws.${this.r.env.region}.${service}`;
    return this.r
      .resources('AWS::EC2::VPCEndpoint')
      .map((h) => this.r.properties(h.stack, h.logicalId))
      .filter((p) => (p.VpcEndpointType ?? 'Gateway') === 'Gateway' && p.ServiceName === name);
  }

  /** Whether `subnet`'s default route reaches the internet through NAT (gateway or instance) that lets `groups` out. */
  natServes(subnet: ReturnType<Network['subnet']>, groups: readonly string[]): boolean {
    const route = this.defaultRoute(subnet.routeTable);
    if (!route) return false;
    let natSubnet: string | undefined;
    if (typeof route.NatGatewayId === 'string') {
      const gateway = this.r.findByRef('AWS::EC2::NatGateway', route.NatGatewayId);
      natSubnet = gateway && (this.r.property(gateway.stack, gateway.logicalId, 'SubnetId') as string);
    } else if (typeof route.InstanceId === 'string') {
      const instance = this.r.findByRef('AWS::EC2::Instance', route.InstanceId);
      if (!instance) return false;
      const props = this.r.properties(instance.stack, instance.logicalId);
      if (props.SourceDestCheck !== false) return false;
      const natGroups = [
        ...((props.SecurityGroupIds as string[] | undefined) ?? []),
        ...((props.NetworkInterfaces as Array<{ GroupSet?: string[] }> | undefined) ?? []).flatMap(
          (n) => n.GroupSet ?? [],
        ),
      ];
      if (!natGroups.some((g) => this.ingressAllows(g, 443, groups, [subnet.cidr]))) return false;
      natSubnet =
        (props.SubnetId as string | undefined) ??
        (props.NetworkInterfaces as Array<{ SubnetId?: string }> | undefined)?.[0]?.SubnetId;
    }
    if (!natSubnet) return false;
    const upstream = this.defaultRoute(this.subnet(natSubnet).routeTable);
    const igw =
      typeof upstream?.GatewayId === 'string' &&
      this.r.findByRef('AWS::EC2::InternetGateway', upstream.GatewayId);
    return Boolean(igw);
  }
}

/** The logical id of a declared function in its stack (its construct id and CDK's 8-character hash). */
function deployedFunction(
  r: StageResolver,
  stage: StageTemplates,
  fn: FunctionDeclaration,
): ResourceHandle | undefined {
  const stack = stage.stackNames[fn.stack] as string;
  return r
    .resources('AWS::Lambda::Function')
    .find((h) => h.stack === stack && new RegExp(`^${fn.id}[0-9A-F]{8}$`).test(h.logicalId));
}

/**
 * Every (function, service) path of a stage's VPC functions, checked. `functions` replaces the declaration and
 * `pathExceptions` the documented exceptions (tests give a function a call it does not make, or drop an exception,
 * to show what the check would say).
 */
export function reachability(
  stage: StageTemplates,
  functions: readonly FunctionDeclaration[] = declaredFunctions(stage.config),
  pathExceptions: readonly PathException[] = PATH_EXCEPTIONS,
): ReachabilityReport {
  const r = new StageResolver(stage.templates);
  const net = new Network(r);
  const checks: PathCheck[] = [];
  const problems: string[] = [];
  const vpcFunctions: string[] = [];
  const outsideVpc: string[] = [];
  const exceptions = pathExceptions.filter((e) => e.applies(r));

  for (const fn of functions) {
    if (fn.framework) continue;
    const handle = deployedFunction(r, stage, fn);
    if (!handle) {
      problems.push(`${fn.id}: declared but not deployed in ${stage.stage}`);
      continue;
    }
    const vpc = r.property(handle.stack, handle.logicalId, 'VpcConfig') as
      | { SubnetIds: string[]; SecurityGroupIds: string[] }
      | undefined;
    if (!vpc) {
      outsideVpc.push(fn.id);
      continue;
    }
    vpcFunctions.push(fn.id);
    const subnets = vpc.SubnetIds.map((id) => net.subnet(id));
    const groups = vpc.SecurityGroupIds;
    const needs = new Map<string, Need>();
    for (const call of callsOf(fn, stage.config)) {
      const need = needsOf(call);
      if (need) needs.set(need.kind === 'api' ? need.service : 'postgres', need);
    }
    for (const [service, need] of needs) {
      const via =
        need.kind === 'postgres'
          ? postgresPath(r, net, handle, subnets, groups)
          : apiPath(net, service, subnets, groups, exceptions);
      checks.push({ stage: stage.stage, fn: fn.id, service, via: via.ok ? via.via : undefined });
      if (!via.ok) problems.push(`${fn.id} → ${service} (${need.call}): ${via.why}`);
    }
  }
  return { checks, problems, vpcFunctions, outsideVpc };
}

type PathResult = { ok: true; via: PathKind | 'postgres' } | { ok: false; why: string };

function apiPath(
  net: Network,
  service: string,
  subnets: ReturnType<Network['subnet']>[],
  groups: readonly string[],
  exceptions: readonly PathException[],
): PathResult {
  const reasons: string[] = [];
  const excluded = (path: PathKind) => exceptions.find((e) => e.service === service && e.path === path);

  // An interface endpoint with private DNS, in each of the function's AZs, both security groups agreeing.
  for (const { props } of net.interfaceEndpoints(service)) {
    const exception = excluded('interface-endpoint');
    if (exception) {
      reasons.push(`its interface endpoint does not serve it: ${exception.why} (${exception.source})`);
      continue;
    }
    if (props.PrivateDnsEnabled !== true) {
      reasons.push('its interface endpoint has no private DNS, so the SDK never resolves to it');
      continue;
    }
    const endpointSubnets = (props.SubnetIds as string[]).map((id) => net.subnet(id));
    const missingAz = subnets.filter((s) => !endpointSubnets.some((e) => e.az === s.az));
    if (missingAz.length > 0) {
      reasons.push(
        `its interface endpoint has no network interface in ${missingAz.map((s) => s.az).join(', ')}`,
      );
      continue;
    }
    const endpointGroups = props.SecurityGroupIds as string[];
    const out = endpointGroups.some((g) =>
      net.egressAllows(groups, 443, { group: g, cidrs: endpointSubnets.map((s) => s.cidr) }),
    );
    const into = endpointGroups.some((g) =>
      net.ingressAllows(
        g,
        443,
        groups,
        subnets.map((s) => s.cidr),
      ),
    );
    if (out && into) return { ok: true, via: 'interface-endpoint' };
    reasons.push(
      !out
        ? "the function's security group does not let HTTPS out to its interface endpoint"
        : "its interface endpoint's security group does not admit HTTPS from the function",
    );
  }
  // The gateway endpoint on every route table of the function's subnets.
  for (const props of net.gatewayEndpoints(service)) {
    const tables = props.RouteTableIds as string[];
    if (!subnets.every((s) => s.routeTable && tables.includes(s.routeTable))) {
      reasons.push("its gateway endpoint is not on every route table of the function's subnets");
      continue;
    }
    if (net.egressAllows(groups, 443, { cidrs: ['0.0.0.0/0'] })) return { ok: true, via: 'gateway-endpoint' };
    reasons.push("the function's security group does not let HTTPS out to the service's addresses");
  }
  // NAT from every subnet.
  if (
    subnets.every((s) => net.natServes(s, groups)) &&
    net.egressAllows(groups, 443, { cidrs: ['0.0.0.0/0'] }) &&
    !excluded('nat')
  ) {
    return { ok: true, via: 'nat' };
  }
  reasons.push('no NAT route to the internet from every subnet of the function');
  return { ok: false, why: reasons.join('; ') };
}

/**
 * PostgreSQL (5432) from the function to what `CITADEL_DB_HOST` names: RDS Proxy or the instance (the
 * restore-test validator reaches restored instances, which restore tests place behind the database security group).
 */
function postgresPath(
  r: StageResolver,
  net: Network,
  fn: ResourceHandle,
  subnets: ReturnType<Network['subnet']>[],
  groups: readonly string[],
): PathResult {
  const env =
    (r.property(fn.stack, fn.logicalId, 'Environment') as { Variables?: Record<string, string> })
      ?.Variables ?? {};
  const host = env.CITADEL_DB_HOST;
  const proxy = host ? r.findByAtt('AWS::RDS::DBProxy', 'Endpoint', host) : undefined;
  const instance = host
    ? r.findByAtt('AWS::RDS::DBInstance', 'Endpoint.Address', host)
    : r.resources('AWS::RDS::DBInstance')[0];
  const target = proxy ?? instance;
  if (!target) return { ok: false, why: `CITADEL_DB_HOST (${host}) names no proxy or instance of the stage` };
  const props = r.properties(target.stack, target.logicalId);
  const targetGroups = (proxy ? props.VpcSecurityGroupIds : props.VPCSecurityGroups) as string[];
  const targetSubnets = proxy
    ? (props.VpcSubnetIds as string[])
    : (() => {
        const group = r.findByRef('AWS::RDS::DBSubnetGroup', props.DBSubnetGroupName as string);
        return group ? (r.property(group.stack, group.logicalId, 'SubnetIds') as string[]) : [];
      })();
  const cidrs = targetSubnets.map((id) => net.subnet(id).cidr);
  const out = targetGroups.some((g) => net.egressAllows(groups, 5432, { group: g, cidrs }));
  const into = targetGroups.some((g) =>
    net.ingressAllows(
      g,
      5432,
      groups,
      subnets.map((s) => s.cidr),
    ),
  );
  if (out && into) return { ok: true, via: 'postgres' };
  return {
    ok: false,
    why: !out
      ? `the function's security group does not let PostgreSQL out to ${target.logicalId}`
      : `${target.logicalId}'s security group does not admit PostgreSQL from the function`,
  };
}
