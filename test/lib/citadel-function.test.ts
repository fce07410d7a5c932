import { describe, expect, it } from '@jest/globals';
import { aws_kms as kms, Stack, aws_sqs as sqs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CitadelFunction, type CitadelFunctionProps } from '../../lib/constructs/citadel-function';
import { testApp } from '../support/cdk';

const make = (props: Partial<CitadelFunctionProps> = {}) => {
  const stack = new Stack(testApp({ compliance: false }), 'Fn');
  const fn = new CitadelFunction(stack, 'Probe', {
    entry: 'lambda/health/get-health.ts',
    serviceName: 'probe',
    logsKey: new kms.Key(stack, 'Key'),
    ...props,
  });
  return { stack, fn, template: () => Template.fromStack(stack) };
};

describe('CitadelFunction', () => {
  it('merges the caller environment with the house environment', () => {
    const { template } = make({
      environment: { FEATURE: 'on', POWERTOOLS_SERVICE_NAME: 'custom', POWERTOOLS_LOGGER_LOG_EVENT: 'true' },
    });
    template().hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          FEATURE: 'on',
          POWERTOOLS_SERVICE_NAME: 'custom',
          POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          POWERTOOLS_TRACE_ENABLED: 'true',
          NODE_OPTIONS: '--enable-source-maps',
          // Safety switches cannot be turned off by a caller.
          POWERTOOLS_LOGGER_LOG_EVENT: 'false',
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        },
      },
    });
  });

  it('defaults to 256 MiB, 10 s, arm64 and an encrypted log group with a month of retention', () => {
    const { template } = make();
    template().hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 256,
      Timeout: 10,
      Architectures: ['arm64'],
    });
    template().hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 30,
      KmsKeyId: Match.anyValue(),
    });
    template().hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow' }),
        ]),
      },
    });
  });

  it('loads the RDS CAs the Lambda runtime ships only for functions that connect to an instance themselves', () => {
    const plain = make();
    expect(JSON.stringify(plain.template().findResources('AWS::Lambda::Function'))).not.toContain(
      'NODE_EXTRA_CA_CERTS',
    );
    const direct = make();
    expect(direct.fn.trustRdsCertificates()).toBe(direct.fn);
    direct.template().hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
  });

  it('refuses an async function without a dead-letter queue, and a DLQ on a sync one', () => {
    expect(() => make({ invocation: 'async' })).toThrow(/need a deadLetterQueue/);
    expect(() => {
      const stack = new Stack(testApp({ compliance: false }), 'Dlq');
      new CitadelFunction(stack, 'Sync', {
        entry: 'lambda/health/get-health.ts',
        serviceName: 'x',
        logsKey: new kms.Key(stack, 'K'),
        deadLetterQueue: new sqs.Queue(stack, 'Q'),
      });
    }).toThrow(/only receives asynchronous invocations/);
  });
});
