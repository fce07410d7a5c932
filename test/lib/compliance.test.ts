import { describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledge } from '../../lib/compliance';
import { testApp } from '../support/cdk';

describe('compliance gates', () => {
  it('fail synthesis on a non-compliant construct, naming every pack', () => {
    // Prepare: a bucket with no logging, no TLS enforcement, no versioning
    const app = testApp();
    new s3.Bucket(new Stack(app, 'NonCompliant'), 'OpenBucket');
    // Act + Assess
    let report = '';
    try {
      app.synth();
    } catch (e) {
      report = (e as Error).message;
    }
    expect(report).toMatch(/AwsSolutions-S1/);
    expect(report).toMatch(/AwsSolutions-S10/);
    expect(report).toMatch(/NIST\.800\.53\.R5-S3BucketLoggingEnabled/);
    expect(report).toMatch(/HIPAA\.Security-S3BucketSSLRequestsOnly/);
    expect(report).toMatch(/NonCompliant\/OpenBucket\/Resource/);
  });

  it('pass once every finding is acknowledged with a reason next to the construct', () => {
    const app = testApp();
    const bucket = new s3.Bucket(new Stack(app, 'Acknowledged'), 'Bucket', {
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
    });
    acknowledge(
      bucket,
      [
        'AwsSolutions-S1',
        'NIST.800.53.R5-S3BucketLoggingEnabled',
        'HIPAA.Security-S3BucketLoggingEnabled',
        'NIST.800.53.R5-S3BucketReplicationEnabled',
        'HIPAA.Security-S3BucketReplicationEnabled',
        'NIST.800.53.R5-S3DefaultEncryptionKMS',
        'HIPAA.Security-S3DefaultEncryptionKMS',
      ],
      'Fixture bucket of this test: it proves acknowledgements clear the gate.',
    );
    expect(() => app.synth()).not.toThrow();
  });

  it('refuse an acknowledgement without a real reason', () => {
    const app = testApp();
    const bucket = new s3.Bucket(new Stack(app, 'Lazy'), 'Bucket');
    expect(() => acknowledge(bucket, ['AwsSolutions-S1'], 'ok')).toThrow(/needs a specific reason/);
  });
});
