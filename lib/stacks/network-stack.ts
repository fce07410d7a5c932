import { Aspects, aws_ec2 as ec2, aws_logs as logs, RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { acknowledge, inPacks } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelStack } from '../constructs/citadel-stack';
import { LogsKey } from '../constructs/logs-key';

export interface NetworkStackProps {
  readonly config: StageConfig;
}

/**
 * The interface endpoints of `endpoints` mode: exactly the AWS APIs that functions in the VPC call (the
 * reachability test checks every declared call against them). Everything else is called from outside the VPC:
 * Cognito's user-pool API cannot be reached through its endpoint by a pool with a domain, and API Gateway's
 * management API has none, so those calls go through control functions the VPC functions invoke via Lambda.
 */
export function interfaceEndpointServices(
  config: StageConfig,
): Array<[string, ec2.InterfaceVpcEndpointAwsService]> {
  const services: Array<[string, ec2.InterfaceVpcEndpointAwsService]> = [
    // The rotation functions and the migration trigger read and write the database secrets.
    ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
    // The admin functions invoke the control functions.
    ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
  ];
  if (config.observability.tracing) services.push(['XRay', ec2.InterfaceVpcEndpointAwsService.XRAY]);
  if (config.database.restoreTesting) {
    // The restore-test validator describes the restored instance and reports its verdict to AWS Backup.
    services.push(['Rds', ec2.InterfaceVpcEndpointAwsService.RDS]);
    services.push(['Backup', ec2.InterfaceVpcEndpointAwsService.BACKUP]);
  }
  return services;
}

/**
 * Boot script of the dev NAT instance. CDK's default (`NatInstanceProviderV2.DEFAULT_USER_DATA_COMMANDS`) fails on
 * Amazon Linux 2023 when `yum install` meets dnf's cache clean-up at boot (aws-cdk #36717), and uses `route`
 * (net-tools) and `service iptables save`, which AL2023's `service` wrapper does not support (aws-cdk #28518).
 * This one retries the install (bounded, then fails loudly), finds the interface with `ip route`, and saves the
 * rules with `iptables-save`. A test runs `bash -n` over it.
 */
export const NAT_INSTANCE_USER_DATA: readonly string[] = [
  'set -euxo pipefail',
  'for attempt in $(seq 1 30); do yum install -y iptables-services && break; echo "yum failed (attempt $attempt), retrying"; sleep 10; done',
  'rpm -q iptables-services',
  'systemctl enable --now iptables',
  'echo "net.ipv4.ip_forward=1" > /etc/sysctl.d/custom-ip-forwarding.conf',
  'sysctl -p /etc/sysctl.d/custom-ip-forwarding.conf',
  "IFACE=$(ip route show default | awk '{print $5; exit}')",
  '/sbin/iptables -t nat -A POSTROUTING -o "$IFACE" -j MASQUERADE',
  '/sbin/iptables -F FORWARD',
  'iptables-save > /etc/sysconfig/iptables',
];

function natInstanceUserData(): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(...NAT_INSTANCE_USER_DATA);
  return userData;
}

/** Subnet group names: later stacks select subnets by these. */
export const SUBNETS = { public: 'Public', app: 'App', data: 'Data' } as const;

/**
 * The VPC every Lambda and the database live in, its egress (per stage), the S3 gateway endpoint,
 * flow logs, the platform's logs key, and the security groups later stacks attach to.
 */
export class NetworkStack extends CitadelStack {
  readonly vpc: ec2.Vpc;
  /** Subnets for Lambda functions: private with egress, or isolated in `endpoints` mode. */
  readonly appSubnets: ec2.SubnetSelection;
  /** Isolated subnets for the database and its proxy. */
  readonly dataSubnets: ec2.SubnetSelection;
  /** Attached by every Lambda in the VPC. */
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  /** Encrypts every Citadel log group. */
  readonly logsKey: LogsKey['key'];
  /** Interface endpoints created in `endpoints` mode, by service short name. */
  readonly interfaceEndpoints: ReadonlyMap<string, ec2.InterfaceVpcEndpoint>;

  constructor(scope: Construct, props: NetworkStackProps) {
    super(scope, 'Network', { config: props.config, stateful: true });
    const { network, protectData } = props.config;
    const isolated = network.egress === 'endpoints';

    this.logsKey = new LogsKey(this, 'LogsKey', { purpose: 'platform logs' }).key;

    const subnetConfiguration: ec2.SubnetConfiguration[] = isolated
      ? [
          { name: SUBNETS.app, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
          { name: SUBNETS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
        ]
      : [
          {
            name: SUBNETS.public,
            subnetType: ec2.SubnetType.PUBLIC,
            cidrMask: 26,
            mapPublicIpOnLaunch: false,
          },
          { name: SUBNETS.app, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
          { name: SUBNETS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
        ];

    const natGatewayProvider =
      network.egress === 'nat-instance'
        ? ec2.NatProvider.instanceV2({
            instanceType: new ec2.InstanceType(network.natInstanceType),
            userData: natInstanceUserData(),
            machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
            defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
            associatePublicIpAddress: true,
          })
        : network.egress === 'nat-gateway'
          ? ec2.NatProvider.gateway()
          : undefined;

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: this.logsKey,
      retention: network.flowLogRetentionDays,
      removalPolicy: protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      maxAzs: network.maxAzs,
      subnetConfiguration,
      natGatewayProvider,
      // One NAT instance is the cheap dev path; managed NAT gateways get one per AZ for availability.
      natGateways: isolated ? 0 : network.egress === 'nat-instance' ? 1 : network.maxAzs,
      restrictDefaultSecurityGroup: true,
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        All: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
    const flowLogRole = this.vpc.node.findChild('All').node.tryFindChild('IAMRole');
    if (flowLogRole) {
      acknowledge(
        flowLogRole,
        inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
        'The flow-log delivery role gets a CDK-generated inline policy scoped to this one log group.',
      );
    }
    this.appSubnets = { subnetGroupName: SUBNETS.app };
    this.dataSubnets = { subnetGroupName: SUBNETS.data };

    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, 'LambdaSecurityGroup', {
      vpc: this.vpc,
      description: 'Citadel Lambda functions: HTTPS out, PostgreSQL to the database',
      allowAllOutbound: false,
    });
    // In `endpoints` mode the subnets have no route to the internet, so HTTPS reaches only the S3
    // gateway endpoint and the interface endpoints; elsewhere it leaves through NAT.
    this.lambdaSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');
    // PostgreSQL only towards the isolated data subnets (the Data stack's groups admit this group).
    for (const [i, subnet] of this.vpc.selectSubnets(this.dataSubnets).subnets.entries()) {
      this.lambdaSecurityGroup.addEgressRule(
        ec2.Peer.ipv4(subnet.ipv4CidrBlock),
        ec2.Port.tcp(5432),
        `PostgreSQL in data subnet ${i + 1}`,
      );
    }

    this.hardenEgress(natGatewayProvider);

    const endpoints = new Map<string, ec2.InterfaceVpcEndpoint>();
    if (isolated) {
      const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'Citadel interface endpoints: HTTPS from Citadel Lambdas only',
        allowAllOutbound: false,
      });
      endpointSecurityGroup.addIngressRule(
        this.lambdaSecurityGroup,
        ec2.Port.tcp(443),
        'HTTPS from Citadel Lambdas',
      );
      const services = interfaceEndpointServices(props.config);
      for (const [name, service] of services) {
        endpoints.set(
          name,
          this.vpc.addInterfaceEndpoint(name, {
            service,
            subnets: this.appSubnets,
            securityGroups: [endpointSecurityGroup],
            privateDnsEnabled: true,
            open: false,
          }),
        );
      }
    }
    this.interfaceEndpoints = endpoints;
  }

  /** NAT egress is by design internet-facing; harden the instance and record why the rest stands. */
  private hardenEgress(provider: ec2.NatProvider | undefined): void {
    for (const subnet of this.vpc.publicSubnets) {
      const route = subnet.node.tryFindChild('DefaultRoute');
      if (!route) continue;
      acknowledge(
        route,
        inPacks('VPCNoUnrestrictedRouteToIGW', 'NIST.800.53.R5', 'HIPAA.Security'),
        `Public subnets exist only to host NAT for egress mode '${this.config.network.egress}'; nothing else is placed in them and no address is assigned on launch.`,
      );
    }
    if (!(provider instanceof ec2.NatInstanceProviderV2)) return;
    // The NAT instance forwards nothing by default (OUTBOUND_ONLY): only the Lambdas' HTTPS may pass.
    provider.connections.allowFrom(
      this.lambdaSecurityGroup,
      ec2.Port.tcp(443),
      'HTTPS egress of Citadel Lambdas',
    );
    for (const instance of provider.gatewayInstances) {
      Aspects.of(instance).add(new ec2.InstanceRequireImdsv2Aspect());
      const cfn = instance.instance;
      cfn.monitoring = true;
      cfn.blockDeviceMappings = [{ deviceName: '/dev/xvda', ebs: { encrypted: true, volumeType: 'gp3' } }];
      acknowledge(
        instance,
        [
          'AwsSolutions-EC29',
          ...inPacks('EC2InstanceNoPublicIp', 'NIST.800.53.R5', 'HIPAA.Security'),
          ...inPacks('EC2InstancesInVPC', 'NIST.800.53.R5', 'HIPAA.Security'),
        ],
        'The dev-only NAT instance must have a public address to forward egress, sits in the VPC through its network interface (the rule reads only a top-level SubnetId), and is disposable: termination protection would block `cdk destroy` of a dev stage.',
      );
    }
  }
}
