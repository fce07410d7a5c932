/**
 * CloudFormation resource types that cost nothing by themselves, each with the reason. A type is either priced
 * (a handler in `model.ts`), listed here, or reported as "not priced": a new type in a template therefore shows up
 * until someone decides which it is (`test/cost/stages.test.ts` fails until then).
 *
 * "Free" means no fixed monthly charge; where the type drives usage charges, the reason says where they are
 * counted.
 */
export const FREE_TYPES: Readonly<Record<string, string>> = {
  // Identity and access
  'AWS::IAM::Role': 'IAM is free',
  'AWS::IAM::Policy': 'IAM is free',
  'AWS::IAM::ManagedPolicy': 'IAM is free',
  'AWS::IAM::InstanceProfile': 'IAM is free',
  // Network plumbing
  'AWS::EC2::VPC': 'VPCs are free; traffic is counted at NAT, endpoints and flow logs',
  'AWS::EC2::Subnet': 'free',
  'AWS::EC2::RouteTable': 'free',
  'AWS::EC2::Route': 'free',
  'AWS::EC2::SubnetRouteTableAssociation': 'free',
  'AWS::EC2::InternetGateway': 'free (data transfer out is usage)',
  'AWS::EC2::VPCGatewayAttachment': 'free',
  'AWS::EC2::SecurityGroup': 'free',
  'AWS::EC2::SecurityGroupIngress': 'free',
  'AWS::EC2::SecurityGroupEgress': 'free',
  'AWS::EC2::LaunchTemplate': 'free; the instance it launches is priced',
  'AWS::EC2::FlowLog':
    'no fixed charge; flow records are vended CloudWatch Logs, priced per GB ingested (usage) in their log group',
  // Logs and events
  'AWS::Logs::LogGroup':
    'no fixed charge; ingestion and storage are per GB (usage, see the per-request figures)',
  'AWS::Events::EventBus': 'no fixed charge; custom events are per million (usage)',
  // Compute at idle
  'AWS::Lambda::Function':
    'no charge at idle: requests and GB-seconds are usage (scheduled invocations are priced at their rule)',
  'AWS::Lambda::Permission': 'free',
  'AWS::Lambda::Version': 'free',
  'AWS::Lambda::EventInvokeConfig': 'free',
  'AWS::SQS::Queue': 'no charge at idle: requests are usage (dead-letter queues stay empty when all is well)',
  'AWS::SQS::QueuePolicy': 'free',
  // API Gateway at idle
  'AWS::ApiGateway::RestApi': 'no charge at idle: API calls are usage (per million)',
  'AWS::ApiGateway::Account': 'free (the account-level CloudWatch role setting)',
  'AWS::ApiGateway::Deployment': 'free',
  'AWS::ApiGateway::Stage': 'free without a cache cluster (none is configured); access logs are usage',
  'AWS::ApiGateway::Method': 'free',
  'AWS::ApiGateway::Resource': 'free',
  'AWS::ApiGateway::GatewayResponse': 'free',
  'AWS::ApiGateway::RequestValidator': 'free',
  'AWS::ApiGateway::Model': 'free',
  'AWS::ApiGateway::Authorizer': 'free (Cognito authorizers are not billed per call)',
  'AWS::ApiGateway::UsagePlan': 'free',
  'AWS::ApiGateway::UsagePlanKey': 'free',
  'AWS::ApiGateway::ApiKey': 'free',
  // Data tier plumbing
  'AWS::RDS::DBParameterGroup': 'free',
  'AWS::RDS::DBSubnetGroup': 'free',
  'AWS::RDS::DBProxyTargetGroup': 'free; the proxy is priced per vCPU of the instance this group targets',
  'AWS::SecretsManager::SecretTargetAttachment': 'free',
  'AWS::SecretsManager::ResourcePolicy': 'free',
  'AWS::SecretsManager::RotationSchedule':
    'free; one rotation (4 Lambda invocations) every rotation period costs well under a cent',
  'AWS::Backup::BackupVault': 'no fixed charge; recovery points are priced at the backup plan',
  'AWS::Backup::BackupSelection': 'free; what it selects is priced at the backup plan',
  'AWS::Backup::RestoreTestingPlan':
    'free; each restore it schedules is priced at its restore testing selection',
  // Identity
  'AWS::Cognito::UserPoolGroup': 'free',
  'AWS::Cognito::UserPoolResourceServer': 'free',
  'AWS::Cognito::UserPoolClient':
    'free for user sign-in; client-credentials (M2M) token requests are usage (not modelled: see docs/capacity.md)',
  'AWS::Cognito::UserPoolDomain': 'free',
  'AWS::Cognito::ManagedLoginBranding': 'free (managed login is included in Essentials and Plus)',
  'AWS::Cognito::UserPoolRiskConfigurationAttachment':
    'free; threat protection is included in the Plus per-MAU price',
  // WAF, S3, SNS, Chatbot
  'AWS::WAFv2::WebACLAssociation': 'free; the web ACL is priced',
  'AWS::WAFv2::LoggingConfiguration':
    'free; the log records are CloudWatch Logs ingestion (usage, per request)',
  'AWS::WAFv2::IPSet': 'free',
  'AWS::WAFv2::RegexPatternSet': 'free',
  'AWS::S3::BucketPolicy': 'free',
  'AWS::SNS::Topic': 'no charge at rest; publishes and deliveries are usage (per million, per message)',
  'AWS::SNS::Subscription': 'free; deliveries are usage (email, SMS and HTTPS notifications per message)',
  'AWS::SNS::TopicPolicy': 'free',
  'AWS::Chatbot::SlackChannelConfiguration':
    'free: AWS Chatbot (Amazon Q Developer in chat applications) has no charge of its own; it reads SNS topics',
  // CDK plumbing
  'AWS::CDK::Metadata': 'CDK metadata, not an AWS resource',
  'Custom::VpcRestrictDefaultSG': 'a Lambda-backed custom resource that runs only at deploy time',
  'Custom::S3AutoDeleteObjects': 'a Lambda-backed custom resource that runs only at deploy and delete time',
  'Custom::Trigger': 'runs the migration Lambda at deploy time only',
  'AWS::CloudFormation::CustomResource': 'a Lambda-backed custom resource that runs only at deploy time',
};
