import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { NAT_INSTANCE_USER_DATA } from '../../lib/stacks/network-stack';
import { synthStage } from '../support/cdk';

const templates: Record<string, Template> = {};

beforeAll(() => {
  for (const stage of ['dev', 'staging', 'prod']) templates[stage] = synthStage(stage).templates.network;
});

const net = (stage: string): Template => templates[stage] as Template;

describe('Network stack', () => {
  it.each(['dev', 'staging', 'prod'])(
    '%s: VPC with app and data subnets in two AZs and an S3 gateway endpoint',
    (stage) => {
      const t = net(stage);
      t.resourceCountIs('AWS::EC2::VPC', 1);
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
      });
      for (const name of ['App', 'Data']) {
        const ids = Object.keys(t.findResources('AWS::EC2::Subnet'));
        expect(ids.filter((id) => new RegExp(`^Vpc${name}Subnet[12]Subnet`).test(id))).toHaveLength(2);
      }
    },
  );

  it.each(['dev', 'staging', 'prod'])(
    '%s: flow logs of all traffic go to a KMS-encrypted log group',
    (stage) => {
      const t = net(stage);
      t.hasResourceProperties('AWS::EC2::FlowLog', {
        ResourceType: 'VPC',
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
      });
      t.hasResourceProperties('AWS::Logs::LogGroup', {
        KmsKeyId: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith([Match.stringLikeRegexp('^LogsKey')]) }),
      });
      t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    },
  );

  it('dev: one hardened NAT instance, no NAT gateway', () => {
    const t = net('dev');
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::Instance', 1);
    t.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't4g.nano',
      Monitoring: true,
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3' } }],
      LaunchTemplate: Match.anyValue(),
    });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
    // The NAT forwards only the Lambdas' HTTPS.
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LambdaSecurityGroup'), 'GroupId'] },
    });
  });

  it('dev: the NAT instance boots with a script that retries its install and is valid bash', () => {
    const [instance] = Object.values(net('dev').findResources('AWS::EC2::Instance'));
    const script = JSON.stringify(instance?.Properties.UserData);
    expect(script).toContain('for attempt in $(seq 1 30); do yum install -y iptables-services && break;');
    expect(script).toContain('ip route show default');
    expect(script).not.toContain('route | awk');
    expect(script).not.toContain('service iptables save');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'nat-')), 'user-data.sh');
    writeFileSync(file, ['#!/bin/bash', ...NAT_INSTANCE_USER_DATA].join('\n'));
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).not.toThrow();
    // The syntax check itself can fail: an unterminated loop is refused.
    writeFileSync(file, '#!/bin/bash\nfor i in 1; do echo $i\n');
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).toThrow();
  });

  it('staging: one managed NAT gateway per AZ', () => {
    const t = net('staging');
    t.resourceCountIs('AWS::EC2::NatGateway', 2);
    t.resourceCountIs('AWS::EC2::Instance', 0);
  });

  it('prod: no internet path at all, and interface endpoints for exactly the APIs the Lambdas call', () => {
    const t = net('prod');
    for (const type of [
      'AWS::EC2::InternetGateway',
      'AWS::EC2::NatGateway',
      'AWS::EC2::Instance',
      'AWS::EC2::EIP',
    ]) {
      t.resourceCountIs(type, 0);
    }
    t.resourcePropertiesCountIs('AWS::EC2::Route', { DestinationCidrBlock: '0.0.0.0/0' }, 0);
    const services = Object.values(
      t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    ).map((r) => JSON.stringify(r.Properties.ServiceName).match(/\.([a-z-]+)"\]\]\}$/)?.[1]);
    expect(services.sort()).toEqual(['backup', 'lambda', 'rds', 'secretsmanager', 'xray']);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
  });

  it.each(['dev', 'prod'])(
    '%s: Lambda security group allows only HTTPS out and PostgreSQL to the data subnets',
    (stage) => {
      net(stage).hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('^Citadel Lambda functions'),
        SecurityGroupEgress: [
          {
            CidrIp: '0.0.0.0/0',
            FromPort: 443,
            ToPort: 443,
            IpProtocol: 'tcp',
            Description: 'HTTPS to AWS APIs',
          },
          Match.objectLike({
            FromPort: 5432,
            ToPort: 5432,
            IpProtocol: 'tcp',
            Description: 'PostgreSQL in data subnet 1',
          }),
          Match.objectLike({
            FromPort: 5432,
            ToPort: 5432,
            IpProtocol: 'tcp',
            Description: 'PostgreSQL in data subnet 2',
          }),
        ],
      });
    },
  );

  it('applies stage-aware removal policies to data-bearing resources only', () => {
    net('dev').hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    net('prod').hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    net('prod').hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    net('prod').hasResource('AWS::EC2::SecurityGroup', { DeletionPolicy: Match.absent() });
  });

  it('tags every taggable resource with Project, Stage and Owner', () => {
    net('staging').hasResourceProperties('AWS::EC2::VPC', {
      Tags: Match.arrayWith([
        { Key: 'Owner', Value: 'platform-team' },
        { Key: 'Project', Value: 'Citadel' },
        { Key: 'Stage', Value: 'staging' },
      ]),
    });
  });
});
