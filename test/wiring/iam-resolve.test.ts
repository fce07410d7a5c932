/**
 * The template resolver (`test/support/wiring/resolve.ts`) the wiring suites share: every intrinsic Citadel's
 * templates use, the physical ids and attributes AWS documents, and loud failures on what it cannot resolve.
 */
import { describe, expect, it } from '@jest/globals';
import { FAKE_ENV, StageResolver, UnresolvableError } from '../support/wiring/resolve';
import type { CfnTemplate } from '../support/wiring/stages';
import { ALL_STAGES, stageTemplates } from '../support/wiring/stages';

const producer: CfnTemplate = {
  Resources: {
    Bucket: { Type: 'AWS::S3::Bucket' },
    Named: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'explicit-name' } },
    Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
    Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: {} } },
    Queue: { Type: 'AWS::SQS::Queue' },
    Rule: { Type: 'AWS::Events::Rule' },
    Instance: { Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceIdentifier: 'Citadel-Test-Postgres' } },
    Proxy: { Type: 'AWS::RDS::DBProxy', Properties: { DBProxyName: 'TestProxy' } },
    Pool: { Type: 'AWS::Cognito::UserPool' },
    Secret: { Type: 'AWS::SecretsManager::Secret' },
    Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
    Subnet: { Type: 'AWS::EC2::Subnet', Properties: { CidrBlock: '10.0.1.0/24', VpcId: { Ref: 'Vpc' } } },
    Acl: { Type: 'AWS::WAFv2::WebACL', Properties: { Name: 'acl', Scope: 'REGIONAL' } },
    Fn: { Type: 'AWS::Lambda::Function' },
    Version: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'Fn' } } },
    Maybe: { Type: 'AWS::S3::Bucket', Condition: 'IsProd' },
  },
  Parameters: {
    Stage: { Type: 'String', Default: 'test' },
    Ami: { Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: '/aws/service/x' },
  },
  Conditions: {
    IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] },
    NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
  },
  Mappings: { Sizes: { test: { Memory: '256' } } },
  Outputs: {
    BucketArn: { Value: { 'Fn::GetAtt': ['Bucket', 'Arn'] }, Export: { Name: 'Producer:BucketArn' } },
    KeyArn: {
      Value: { 'Fn::GetAtt': ['Key', 'Arn'] },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template.
      Export: { Name: { 'Fn::Sub': '${AWS::StackName}:KeyArn' } },
    },
  },
};
const consumer: CfnTemplate = { Resources: { Topic: { Type: 'AWS::MQ::Broker' } } };
const resolver = () => new StageResolver({ Producer: producer, Consumer: consumer });

describe('StageResolver: intrinsics', () => {
  const r = resolver();
  const resolve = (value: unknown, stack = 'Producer') => r.resolve(stack, value);

  it('resolves pseudo parameters to the fake environment, and parameters to their default', () => {
    expect(resolve({ Ref: 'AWS::AccountId' })).toBe(FAKE_ENV.account);
    expect(resolve({ Ref: 'AWS::Region' })).toBe('eu-west-1');
    expect(resolve({ Ref: 'AWS::Partition' })).toBe('aws');
    expect(resolve({ Ref: 'AWS::URLSuffix' })).toBe('amazonaws.com');
    expect(resolve({ Ref: 'AWS::StackName' })).toBe('Producer');
    expect(resolve({ Ref: 'AWS::StackId' })).toMatch(
      /^arn:aws:cloudformation:eu-west-1:111122223333:stack\/Producer\/[0-9a-f-]{36}$/,
    );
    expect(resolve({ Ref: 'Stage' })).toBe('test');
    expect(resolve({ Ref: 'Ami' })).toMatch(/^ami-[0-9a-f]{17}$/);
  });

  it('resolves Join, Sub, Select, Split, GetAZs, FindInMap and Base64', () => {
    expect(resolve({ 'Fn::Join': ['-', ['a', { Ref: 'Stage' }, 'b']] })).toBe('a-test-b');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template.
    expect(resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}' })).toBe(
      `arn:aws:s3:::${r.ref('Producer', 'Bucket')}/\${Literal}`,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template.
    expect(resolve({ 'Fn::Sub': ['${Name}-${Key.Arn}', { Name: { Ref: 'Stage' } }] })).toBe(
      `test-${r.getAtt('Producer', 'Key', 'Arn')}`,
    );
    expect(resolve({ 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] })).toBe('b');
    expect(resolve({ 'Fn::Select': ['0', { 'Fn::GetAZs': '' }] })).toBe('eu-west-1a');
    expect(resolve({ 'Fn::FindInMap': ['Sizes', { Ref: 'Stage' }, 'Memory'] })).toBe('256');
    expect(resolve({ 'Fn::Base64': 'hi' })).toBe('aGk=');
  });

  it('resolves Fn::If through Conditions, drops AWS::NoValue, and leaves out resources whose condition is false', () => {
    expect(r.condition('Producer', 'IsProd')).toBe(false);
    expect(r.condition('Producer', 'NotProd')).toBe(true);
    expect(resolve({ a: { 'Fn::If': ['IsProd', 'yes', { Ref: 'AWS::NoValue' }] }, b: 1 })).toEqual({ b: 1 });
    expect(resolve([{ 'Fn::If': ['NotProd', 'kept', 'dropped'] }, { Ref: 'AWS::NoValue' }])).toEqual([
      'kept',
    ]);
    expect(r.resources('AWS::S3::Bucket').map((b) => b.logicalId)).toEqual(['Bucket', 'Named']);
    expect(() => r.ref('Producer', 'Maybe')).toThrow(/condition IsProd is false/);
  });

  it('resolves Fn::ImportValue through the exporting stack’s outputs', () => {
    expect(resolve({ 'Fn::ImportValue': 'Producer:BucketArn' }, 'Consumer')).toBe(
      r.getAtt('Producer', 'Bucket', 'Arn'),
    );
    expect(resolve({ 'Fn::ImportValue': { 'Fn::Sub': 'Producer:KeyArn' } }, 'Consumer')).toBe(
      r.getAtt('Producer', 'Key', 'Arn'),
    );
  });

  it('fails loudly on what it cannot resolve', () => {
    expect(() => resolve({ 'Fn::ImportValue': 'Nobody:Exports' }, 'Consumer')).toThrow(UnresolvableError);
    expect(() => resolve({ Ref: 'Topic' }, 'Consumer')).toThrow(/no physical id rule for AWS::MQ::Broker/);
    expect(() => resolve({ 'Fn::GetAtt': ['Bucket', 'Nonsense'] })).toThrow(
      /attribute Nonsense of AWS::S3::Bucket/,
    );
    expect(() => resolve({ Ref: 'Missing' })).toThrow(/no parameter or resource named Missing/);
    expect(() => resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/outside a list of 1/);
    expect(() => resolve({ 'Fn::Cidr': ['10.0.0.0/16', 2, 8] })).toThrow(/Fn::Cidr is not supported/);
    expect(() => r.resolve('Nowhere', 'x')).not.toThrow(); // plain values need no stack
    expect(() => r.ref('Nowhere', 'X')).toThrow(/no stack Nowhere/);
  });
});

describe('StageResolver: physical ids and attributes', () => {
  const r = resolver();
  const att = (id: string, name: string) => r.getAtt('Producer', id, name);

  it('names what CloudFormation names: <stack>-<logical id>-<suffix>, lower-case for buckets, deterministically', () => {
    expect(r.ref('Producer', 'Bucket')).toMatch(/^producer-bucket-[a-z0-9]{12}$/);
    expect(r.ref('Producer', 'Named')).toBe('explicit-name');
    expect(r.ref('Producer', 'Rule')).toMatch(/^Producer-Rule-[A-Z0-9]{12}$/);
    expect(resolver().ref('Producer', 'Bucket')).toBe(r.ref('Producer', 'Bucket'));
  });

  it('gives each type the ARNs and attributes AWS documents', () => {
    expect(att('Bucket', 'Arn')).toBe(`arn:aws:s3:::${r.ref('Producer', 'Bucket')}`);
    expect(att('Role', 'Arn')).toBe(`arn:aws:iam::111122223333:role/${r.ref('Producer', 'Role')}`);
    expect(att('Key', 'Arn')).toBe(`arn:aws:kms:eu-west-1:111122223333:key/${r.ref('Producer', 'Key')}`);
    expect(r.ref('Producer', 'Key')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(r.ref('Producer', 'Queue')).toBe(
      `https://sqs.eu-west-1.amazonaws.com/111122223333/${att('Queue', 'QueueName')}`,
    );
    expect(att('Queue', 'Arn')).toBe(`arn:aws:sqs:eu-west-1:111122223333:${att('Queue', 'QueueName')}`);
    expect(att('Rule', 'Arn')).toBe(
      `arn:aws:events:eu-west-1:111122223333:rule/${r.ref('Producer', 'Rule')}`,
    );
    expect(r.ref('Producer', 'Instance')).toBe('citadel-test-postgres');
    expect(att('Instance', 'DbiResourceId')).toMatch(/^db-[A-Z0-9]{26}$/);
    expect(att('Instance', 'Endpoint.Address')).toMatch(
      /^citadel-test-postgres\.[a-z0-9]{12}\.eu-west-1\.rds\.amazonaws\.com$/,
    );
    expect(att('Proxy', 'DBProxyArn')).toMatch(
      /^arn:aws:rds:eu-west-1:111122223333:db-proxy:prx-[0-9a-f]{17}$/,
    );
    expect(att('Proxy', 'Endpoint')).toMatch(
      /^testproxy\.proxy-[a-z0-9]{12}\.eu-west-1\.rds\.amazonaws\.com$/,
    );
    expect(r.ref('Producer', 'Pool')).toMatch(/^eu-west-1_[A-Z0-9]{9}$/);
    expect(att('Pool', 'Arn')).toBe(
      `arn:aws:cognito-idp:eu-west-1:111122223333:userpool/${r.ref('Producer', 'Pool')}`,
    );
    expect(r.ref('Producer', 'Secret')).toMatch(
      /^arn:aws:secretsmanager:eu-west-1:111122223333:secret:Secret-[A-Z0-9]{12}-[A-Z0-9]{6}$/,
    );
    expect(r.ref('Producer', 'Vpc')).toMatch(/^vpc-[0-9a-f]{17}$/);
    expect(att('Subnet', 'VpcId')).toBe(r.ref('Producer', 'Vpc'));
    expect(att('Subnet', 'CidrBlock')).toBe('10.0.1.0/24');
    expect(att('Acl', 'Arn')).toMatch(
      /^arn:aws:wafv2:eu-west-1:111122223333:regional\/webacl\/acl\/[0-9a-f-]{36}$/,
    );
    expect(r.ref('Producer', 'Version')).toBe(`${att('Fn', 'Arn')}:1`);
  });

  it.each(ALL_STAGES)('%s: resolves every resource of the stage (Ref and every property)', (stage) => {
    const stageResolver = new StageResolver(stageTemplates(stage).templates);
    const failures: string[] = [];
    for (const { stack, logicalId } of stageResolver.resources()) {
      try {
        stageResolver.ref(stack, logicalId);
        stageResolver.properties(stack, logicalId);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    expect(failures).toEqual([]);
    expect(stageResolver.resources().length).toBeGreaterThan(300);
  });
});
