import {
  ArnFormat,
  aws_chatbot as chatbot,
  Duration,
  aws_iam as iam,
  aws_kms as kms,
  Stack,
  aws_sns as sns,
  type aws_sqs as sqs,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from '../../compliance';

export interface AlertTopicsProps {
  /** Alarm names that may publish (the `aws:SourceArn` condition), e.g. `Citadel-prod-*`. */
  readonly alarmNamePatterns: readonly string[];
  /** Addresses subscribed to both topics. @default none */
  readonly emails?: readonly string[];
  /** E.164 numbers subscribed to the critical topic (pages only). @default none */
  readonly smsNumbers?: readonly string[];
  /** Receives notifications SNS could not deliver to an email or SMS subscriber. @default - none (not recommended) */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Slack channel (AWS Chatbot) that receives both topics. @default none */
  readonly slack?: { readonly workspaceId: string; readonly channelId: string; readonly name: string };
}

/**
 * Read-only CloudWatch calls the Slack channel may make (showing an alarm, its history and its graph). They are
 * both the channel role's permissions and its guardrail: no write action exists anywhere in them.
 */
export const CHATBOT_READ_ACTIONS = [
  'cloudwatch:DescribeAlarms',
  'cloudwatch:DescribeAlarmHistory',
  'cloudwatch:GetMetricData',
  'cloudwatch:GetMetricWidgetImage',
  'cloudwatch:ListMetrics',
] as const;

/**
 * The stage's two alert topics, encrypted with a customer-managed key:
 * - `critical` pages (the "unhealthy" composite alarm publishes here; SMS numbers subscribe only here);
 * - `warning` files tickets (every member alarm and the EventBridge alert rules publish here).
 *
 * A CMK-encrypted topic only receives what its publishers may encrypt: CloudWatch alarms and EventBridge rules
 * publish as their service principals, so the key policy lets `cloudwatch.amazonaws.com` and
 * `events.amazonaws.com` use the key (`kms:GenerateDataKey*`, `kms:Decrypt`; SNS developer guide, "Enable
 * compatibility between event sources from AWS services and encrypted topics"), and the topic policy lets them
 * publish. Publishing is limited to this account's alarms of this stage and this stack's rules (`aws:SourceAccount`,
 * `aws:SourceArn` in the topic policy; the services' confused-deputy guidance). Nobody else may publish: IAM principals other than
 * this stack's own roles are denied `sns:Publish` by the topic policy itself.
 */
export class AlertTopics extends Construct {
  readonly key: kms.Key;
  readonly critical: sns.Topic;
  readonly warning: sns.Topic;
  readonly slackChannel?: chatbot.SlackChannelConfiguration;

  constructor(scope: Construct, id: string, props: AlertTopicsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.alarmNamePatterns.length === 0)
      throw new Error('AlertTopics: name the alarms that may publish.');
    const alarmArns = props.alarmNamePatterns.map((name) =>
      stack.formatArn({
        service: 'cloudwatch',
        resource: 'alarm',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    // The rules are matched by their CloudFormation-generated name prefix `<stack>-`: naming their ARNs would be
    // a cycle (key → rule → topic → key), as for the dead-letter key.
    const ruleArns = [
      stack.formatArn({
        service: 'events',
        resource: 'rule',
        resourceName: `${stack.stackName}-*`,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      }),
    ];
    const sources = {
      cloudwatch: { principal: 'cloudwatch.amazonaws.com', arns: alarmArns },
      events: { principal: 'events.amazonaws.com', arns: ruleArns },
    };
    const sourceConditions = (arns: string[]) => ({
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': arns },
    });

    this.key = new kms.Key(this, 'Key', {
      description: `Citadel alert topics (${stack.stackName})`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
    });
    for (const [name, source] of Object.entries(sources)) {
      // Written as the SNS and CloudWatch guides write it: no source conditions on the *key* statement. SNS calls
      // KMS for the publishing service, and the guides neither show nor promise that those calls carry
      // aws:SourceArn/aws:SourceAccount; a condition they lack would drop every page. The key encrypts only these
      // two topics, and the topic policy below is what limits who may publish (with the source conditions).
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `${name === 'cloudwatch' ? 'CloudWatchAlarms' : 'EventBridgeRules'}EncryptAlerts`,
          principals: [new iam.ServicePrincipal(source.principal)],
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'],
        }),
      );
    }

    const topic = (topicId: string, displayName: string) => {
      const t = new sns.Topic(this, topicId, { displayName, masterKey: this.key, enforceSSL: true });
      for (const [name, source] of Object.entries(sources)) {
        // `topic.grantPublish` cannot carry conditions for a service principal: the statement is written here.
        t.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: `${name === 'cloudwatch' ? 'CloudWatchAlarms' : 'EventBridgeRules'}Publish`,
            principals: [new iam.ServicePrincipal(source.principal)],
            actions: ['sns:Publish'],
            resources: [t.topicArn],
            conditions: sourceConditions(source.arns),
          }),
        );
      }
      // Only the alarms, the rules and this stack's own roles publish: any other IAM principal of the account is
      // denied, whatever its identity policy says (AWS services are allowed only by the statements above).
      t.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OnlyAlarmsRulesAndThisStackPublish',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['sns:Publish'],
          resources: [t.topicArn],
          conditions: {
            Bool: { 'aws:PrincipalIsAWSService': 'false' },
            ArnNotLike: {
              'aws:PrincipalArn': stack.formatArn({
                service: 'iam',
                region: '',
                resource: 'role',
                resourceName: `${stack.stackName}-*`,
              }),
            },
          },
        }),
      );
      return t;
    };
    this.critical = topic('Critical', `Citadel ${stack.stackName}: page`);
    this.warning = topic('Warning', `Citadel ${stack.stackName}: ticket`);

    const deadLetterQueue = props.deadLetterQueue;
    for (const email of props.emails ?? []) {
      this.critical.addSubscription(new subscriptions.EmailSubscription(email, { deadLetterQueue }));
      this.warning.addSubscription(new subscriptions.EmailSubscription(email, { deadLetterQueue }));
    }
    for (const number of props.smsNumbers ?? []) {
      // SmsSubscription drops `deadLetterQueue`; the subscription is bound by hand so undelivered pages are kept.
      this.critical.addSubscription({
        bind: () => ({
          subscriberId: number,
          endpoint: number,
          protocol: sns.SubscriptionProtocol.SMS,
          deadLetterQueue,
        }),
      });
    }
    if (props.slack) this.slackChannel = this.slack(props.slack);
  }

  private slack(slack: NonNullable<AlertTopicsProps['slack']>): chatbot.SlackChannelConfiguration {
    const readOnly = new iam.ManagedPolicy(this, 'SlackReadOnly', {
      description: 'Citadel alerts in Slack: read alarms and their graphs, nothing else',
      statements: [new iam.PolicyStatement({ actions: [...CHATBOT_READ_ACTIONS], resources: ['*'] })],
    });
    acknowledge(
      readOnly,
      ['AwsSolutions-IAM5[Resource::*]'],
      'CloudWatch alarm and metric reads (DescribeAlarms, GetMetricData, GetMetricWidgetImage, ListMetrics) support no resource-level permissions; the policy holds read actions only.',
    );
    const role = new iam.Role(this, 'SlackChannelRole', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: 'AWS Chatbot channel of the Citadel alerts: read-only CloudWatch',
      managedPolicies: [readOnly],
    });
    return new chatbot.SlackChannelConfiguration(this, 'Slack', {
      slackChannelConfigurationName: slack.name,
      slackWorkspaceId: slack.workspaceId,
      slackChannelId: slack.channelId,
      notificationTopics: [this.critical, this.warning],
      role,
      // The guardrail caps what any channel member can do through the bot: the same read-only policy.
      guardrailPolicies: [readOnly],
      userRoleRequired: false,
      loggingLevel: chatbot.LoggingLevel.ERROR,
    });
  }
}
