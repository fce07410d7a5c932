import { CfnResource, type IAspect, RemovalPolicy } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Resource types that can leave a final snapshot behind. */
const SNAPSHOT_TYPES = new Set(['AWS::RDS::DBInstance', 'AWS::RDS::DBCluster']);

/** Resource types that hold data (or keys to data) and must outlive their stack in protected stages. */
const DATA_TYPES = new Set([
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::Logs::LogGroup',
  'AWS::SecretsManager::Secret',
  'AWS::Cognito::UserPool',
  'AWS::Backup::BackupVault',
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
]);

/**
 * Stage-aware removal policies for stateful stacks: where data is protected, databases SNAPSHOT
 * and every other data-bearing resource RETAINs; elsewhere they are destroyed with the stack.
 * Resources that hold no data (roles, security groups, functions) keep CDK's defaults.
 */
export class StageRemovalPolicy implements IAspect {
  constructor(private readonly protectData: boolean) {}

  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const type = node.cfnResourceType;
    if (SNAPSHOT_TYPES.has(type)) {
      node.applyRemovalPolicy(this.protectData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY);
    } else if (DATA_TYPES.has(type)) {
      node.applyRemovalPolicy(this.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    }
  }
}
