import { ArnFormat, Duration, aws_iam as iam, aws_kms as kms, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface LogsKeyProps {
  /** What the key protects, for its description. @default 'CloudWatch Logs' */
  readonly purpose?: string;
}

/**
 * A customer-managed KMS key CloudWatch Logs may use for this account and region only, with
 * yearly rotation. Every Citadel log group (Lambda, API access, flow logs, WAF) is encrypted with it.
 */
export class LogsKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: LogsKeyProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `Citadel ${props.purpose ?? 'CloudWatch Logs'} encryption (${stack.stackName})`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
    });
    // The service principal is regional and may only use the key for this account's log groups.
    const logsService = new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`).withConditions({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    });
    this.key.grantEncryptDecrypt(logsService);
    this.key.grant(logsService, 'kms:DescribeKey');
  }
}
