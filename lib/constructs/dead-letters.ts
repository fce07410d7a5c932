import { ArnFormat, Duration, aws_iam as iam, aws_kms as kms, Stack, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance';

export interface DeadLettersProps {
  /** How long a dead letter is kept. @default Duration.days(14) (SQS's maximum) */
  readonly retention?: Duration;
}

/**
 * The dead-letter queues of one stack and the customer-managed key that encrypts them.
 *
 * A KMS-encrypted queue only receives what its senders may encrypt. Two kinds of sender put dead letters here:
 * - EventBridge, for events its rules could not deliver. It calls KMS as `events.amazonaws.com`, so the key policy
 *   lets that principal use the key for this account's rules of this stack only (SQS developer guide, "Enable
 *   compatibility between event sources from AWS services and encrypted queues"). The rules are matched by name
 *   (CloudFormation names them `<stack>-<logical id>-<suffix>`): naming their ARNs would be a dependency cycle
 *   (key → rule → queue → key).
 * - Lambda, for asynchronous invocations that failed every retry. It sends with the function's execution role, so
 *   `CitadelFunction` grants that role `kms:GenerateDataKey` and `kms:Decrypt` on the queue's key.
 * Without either, the dead letter is dropped (EventBridge's `InvocationsFailedToBeSentToDLQ`, Lambda's
 * `DeadLetterErrors`).
 */
export class DeadLetters extends Construct {
  readonly key: kms.Key;
  readonly queues: sqs.Queue[] = [];
  private readonly retention: Duration;

  constructor(scope: Construct, id: string, props: DeadLettersProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.retention = props.retention ?? Duration.days(14);
    this.key = new kms.Key(this, 'Key', {
      description: `Citadel dead-letter queues (${stack.stackName})`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeRulesOfThisStackSendDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'events',
              resource: 'rule',
              resourceName: `${stack.stackName}-*`,
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
  }

  /** A dead-letter queue for `what`. It is the end of the line, so it has no DLQ of its own. */
  queue(id: string, what: string): sqs.Queue {
    const queue = new sqs.Queue(this.node.scope as Construct, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: this.retention,
    });
    acknowledge(
      queue,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'],
      `This queue is itself the dead-letter queue of ${what}; it has no further DLQ.`,
    );
    this.queues.push(queue);
    return queue;
  }
}
