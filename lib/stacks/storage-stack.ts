import { Duration, aws_iam as iam } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { UPLOAD_LIFETIME_DAYS } from '../../contract/api/uploads';
import { acknowledge } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelStack } from '../constructs/citadel-stack';
import { ScannedUploadBucket } from '../constructs/scanned-upload-bucket';
import type { NetworkStack } from './network-stack';

export interface StorageStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
}

/** Key prefix of uploads; `lambda/uploads/domain.ts#objectKey` generates `uploads/<owner>/<uuid>` under it. */
const UPLOAD_PREFIX = 'uploads/';

/**
 * Where uploaded bytes live: the KMS-encrypted uploads bucket (reads gated on GuardDuty's scan tag),
 * the quarantine bucket, the access-log bucket, the GuardDuty Malware Protection plan and its role,
 * and the roles of the scan pipeline and of break-glass access to quarantine.
 */
export class StorageStack extends CitadelStack {
  readonly uploads: ScannedUploadBucket;

  constructor(scope: Construct, props: StorageStackProps) {
    super(scope, 'Storage', { config: props.config, stateful: true });
    const { config } = props;

    this.uploads = new ScannedUploadBucket(this, 'Uploads', {
      corsOrigins: config.api.corsOrigins,
      uploadPrefix: UPLOAD_PREFIX,
      quarantineRetention: Duration.days(config.uploads.quarantineRetentionDays),
      noncurrentVersionExpiration: Duration.days(config.uploads.noncurrentVersionDays),
      // The API tells clients when an upload expires and its sweep job marks it so: one lifetime for both.
      abortIncompleteMultipartUploadAfter: Duration.days(UPLOAD_LIFETIME_DAYS),
      protectData: config.protectData,
      // Stages that do not protect data are disposable: `cdk destroy` must not stop at non-empty buckets.
      autoDeleteObjects: !config.protectData,
    });

    // The scan Lambda runs in `props.network`'s VPC (it updates the files table). Its role lives here so the
    // bucket policy can exempt it without a cycle; the managed policy is attached here too, because a role
    // imported into the Api stack (to add its log-group and database grants there) cannot attach one.
    this.uploads.scanRole.addManagedPolicy(
      iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
    );
    acknowledge(
      this.uploads.scanRole,
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      ],
      'The AWS-maintained policy Lambda documents for VPC attachment (ENI create/describe/delete); EC2 supports no resource scoping for these calls.',
    );
  }
}
