import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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
          // Safety switches cannot be turned off by a caller.
          POWERTOOLS_LOGGER_LOG_EVENT: 'false',
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        },
      },
    });
  });

  it('ships the source map beside the bundle and reports stacks in the sources without --enable-source-maps', () => {
    // Bundled as `cdk deploy` bundles it (house options, aliases included), then invoked the way Lambda does.
    const app = testApp({
      compliance: false,
      bundle: true,
      context: { 'aws:cdk:enable-asset-metadata': true },
    });
    const stack = new Stack(app, 'Bundled');
    new CitadelFunction(stack, 'Health', {
      entry: 'lambda/health/get-health.ts',
      serviceName: 'probe',
      logsKey: new kms.Key(stack, 'Key'),
    });
    const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(fn?.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    const asset = path.join(app.outdir, fn?.Metadata['aws:asset:path'] as string);
    expect(readdirSync(asset).sort()).toEqual(['index.mjs', 'index.mjs.map']);

    // No database configured: the health route fails, and the handler logs the error with its stack.
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path.join(asset, 'index.mjs')).href)});
      await handler({ httpMethod: 'GET', path: '/v1/health', resource: '/v1/health', headers: {}, requestContext: { requestId: 'r-1' } },
        { functionName: 'probe', awsRequestId: 'a-1', getRemainingTimeInMillis: () => 1000 });`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', POWERTOOLS_SERVICE_NAME: 'probe' },
      encoding: 'utf8',
    });
    // Powertools writes ERROR lines to stderr.
    const failure = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .find((line) => line.message === 'request failed');
    expect(failure?.error?.message).toMatch(/Database not configured/);
    // The frames name the TypeScript sources, not positions in the minified bundle.
    expect(failure.error.stack).toMatch(/lambda\/shared\/db\/index\.ts:\d+:\d+/);
    expect(failure.error.stack).not.toContain('index.mjs');
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
