/**
 * Resources that outlive their stack (DeletionPolicy Retain or Snapshot) must not carry a fixed physical name:
 * after a `cdk destroy` (or a failed first deploy rolled back) the retained resource keeps the name, and creating
 * the stack again fails with "already exists". Named ones embed the stack's deployment suffix (from
 * `AWS::StackId`, `CitadelStack#deploymentSuffix`), so every deployment names its own.
 */
import { describe, expect, it } from '@jest/globals';
import { ALL_STAGES, type CfnTemplate, stageTemplates } from '../support/wiring/stages';

/** The physical-name property of each type Citadel retains. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Backup::BackupVault': 'BackupVaultName',
  'AWS::RDS::DBInstance': 'DBInstanceIdentifier',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::KMS::Key': 'KeyId',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Cognito::UserPool': 'UserPoolName',
  'AWS::DynamoDB::Table': 'TableName',
};

/** Names AWS does not require to be unique, so a retained one never blocks a new one (with the source). */
const NOT_UNIQUE = new Set([
  // "User pool names don't have to be unique" (Cognito API reference, CreateUserPool `PoolName`).
  'AWS::Cognito::UserPool',
]);

const survives = (policy: string | undefined) => policy === 'Retain' || policy === 'Snapshot';
const embedsStackId = (value: unknown) => JSON.stringify(value).includes('"AWS::StackId"');

/** `<stack>/<logical id> (<type>): <name>` for every surviving resource with a fixed name. */
function fixedNames(templates: Readonly<Record<string, CfnTemplate>>): string[] {
  const found: string[] = [];
  for (const [stack, template] of Object.entries(templates)) {
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (!survives(resource.DeletionPolicy) && !survives(resource.UpdateReplacePolicy)) continue;
      if (NOT_UNIQUE.has(resource.Type)) continue;
      const property = NAME_PROPERTY[resource.Type];
      const name = property ? resource.Properties?.[property] : undefined;
      if (name !== undefined && !embedsStackId(name))
        found.push(`${stack}/${id} (${resource.Type}): ${JSON.stringify(name)}`);
    }
  }
  return found;
}

describe.each(ALL_STAGES)('physical names (%s)', (stage) => {
  it('no resource that outlives its stack has a fixed name', () => {
    expect(fixedNames(stageTemplates(stage).templates)).toEqual([]);
  });

  it('knows the name property of every type it retains', () => {
    const retainedTypes = Object.values(stageTemplates(stage).templates).flatMap((t) =>
      Object.values(t.Resources)
        .filter((r) => survives(r.DeletionPolicy))
        .map((r) => r.Type),
    );
    const unknown = [...new Set(retainedTypes)].filter(
      (type) => !(type in NAME_PROPERTY) && !['AWS::ApiGateway::Account'].includes(type),
    );
    expect(unknown).toEqual([]);
  });
});

it('catches a retained log group with a fixed name', () => {
  const copy = structuredClone(stageTemplates('prod').templates) as Record<string, CfnTemplate>;
  const [stack, template] = Object.entries(copy)[0] as [string, CfnTemplate];
  (template.Resources as Record<string, unknown>).Fixed = {
    Type: 'AWS::Logs::LogGroup',
    DeletionPolicy: 'Retain',
    Properties: { LogGroupName: 'aws-waf-logs-citadel-prod-api' },
  };
  expect(fixedNames(copy)).toContain(`${stack}/Fixed (AWS::Logs::LogGroup): "aws-waf-logs-citadel-prod-api"`);
});
