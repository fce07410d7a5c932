import { beforeAll, describe, expect, it } from '@jest/globals';
import { Duration, aws_iam as iam, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { acknowledge, inPacks } from '../../lib/compliance';
import { loadStageConfig, type StageConfig } from '../../lib/config';
import {
  perms,
  SCAN_RESULT_DETAIL_TYPE,
  ScannedUploadBucket,
  type ScannedUploadBucketProps,
} from '../../lib/constructs/scanned-upload-bucket';
import { NetworkStack } from '../../lib/stacks/network-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { testApp } from '../support/cdk';

const STAGES = ['dev', 'staging', 'prod'] as const;
type Stage = (typeof STAGES)[number];

/** The Api-side roles each get one grant, so each policy shows exactly one grant's scope. */
const GRANTS = {
  Write: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantWrite(r),
  Abort: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantAbort(r),
  ListParts: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantListParts(r),
  List: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantList(r),
  Download: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantPresignedDownload(r),
  Delete: (u: ScannedUploadBucket, r: iam.IGrantable) => u.grantDelete(r),
} as const;

interface Built {
  readonly config: StageConfig;
  readonly storage: StorageStack;
  readonly template: Template;
  /** A test-only stack standing in for the Api stack: grants cross a stack boundary as they will there. */
  readonly consumer: Template;
}

const built: Partial<Record<Stage, Built>> = {};

/** A Lambda-assumed role in another stack; its inline policy is the test's own doing. */
function consumerRole(scope: Stack, id: string): iam.Role {
  const role = new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  acknowledge(
    role,
    inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
    'Test-only role standing in for an Api handler role; grant* methods write its inline policy.',
  );
  return role;
}

beforeAll(() => {
  for (const stage of STAGES) {
    const app = testApp();
    const config = loadStageConfig(stage);
    const network = new NetworkStack(app, { config });
    const storage = new StorageStack(app, { config, network });
    const consumer = new Stack(app, `Consumer-${stage}`);
    for (const [id, grant] of Object.entries(GRANTS)) grant(storage.uploads, consumerRole(consumer, id));
    app.synth(); // throws on any unacknowledged cdk-nag finding
    built[stage] = {
      config,
      storage,
      template: Template.fromStack(storage),
      consumer: Template.fromStack(consumer),
    };
  }
});

const b = (stage: Stage): Built => built[stage] as Built;
const t = (stage: Stage): Template => b(stage).template;

/** Logical id of the one resource of `type` whose id starts with `prefix` (e.g. `UploadsBucket`). */
function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) =>
    new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
  );
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const objectsOf = (id: string, pattern: string) => ({ 'Fn::Join': ['', [arnOf(id), `/${pattern}`]] });

interface Ids {
  uploads: string;
  quarantine: string;
  logs: string;
  key: string;
  quarantineKey: string;
  guardDutyRole: string;
  scanRole: string;
  breakGlassRole: string;
}

function ids(stage: Stage): Ids {
  const template = t(stage);
  return {
    uploads: logicalId(template, 'AWS::S3::Bucket', 'UploadsBucket'),
    quarantine: logicalId(template, 'AWS::S3::Bucket', 'UploadsQuarantine'),
    logs: logicalId(template, 'AWS::S3::Bucket', 'UploadsAccessLogs'),
    key: logicalId(template, 'AWS::KMS::Key', 'UploadsKey'),
    quarantineKey: logicalId(template, 'AWS::KMS::Key', 'UploadsQuarantineKey'),
    guardDutyRole: logicalId(template, 'AWS::IAM::Role', 'UploadsGuardDutyRole'),
    scanRole: logicalId(template, 'AWS::IAM::Role', 'UploadsScanRole'),
    breakGlassRole: logicalId(template, 'AWS::IAM::Role', 'UploadsBreakGlassRole'),
  };
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

/** Statements of the bucket policy attached to bucket `bucketId`. */
function bucketPolicy(template: Template, bucketId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter(
    (p) => p.Properties.Bucket.Ref === bucketId,
  );
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement as Statement[];
}

/** Statements of the inline policies attached to role `roleId`. */
function rolePolicy(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const bySid = (statements: Statement[], sid: string): Statement => {
  const found = statements.filter((s) => s.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0] as Statement;
};
const actionsOf = (s: Statement): string[] => [s.Action].flat().sort();

/** A consumer-stack resource (a cross-stack reference) named by what it is: key, bucket, objects under uploads/. */
function resourceKind(resource: string): string {
  if (/UploadsKey[0-9A-F]{8}Arn/.test(resource)) return 'key';
  if (/UploadsBucket[0-9A-F]{8}Arn.*"\/uploads\/\*"/.test(resource)) return 'uploads/*';
  if (/UploadsBucket[0-9A-F]{8}Arn/.test(resource) && !resource.includes('/')) return 'bucket';
  return resource;
}

describe('Storage stack', () => {
  describe.each(STAGES)('%s', (stage) => {
    it('encrypts uploads and quarantine with their own rotating customer-managed keys and S3 bucket keys', () => {
      const id = ids(stage);
      for (const [bucket, key] of [
        [id.uploads, id.key],
        [id.quarantine, id.quarantineKey],
      ] as const) {
        expect(t(stage).findResources('AWS::S3::Bucket')[bucket]?.Properties.BucketEncryption).toEqual({
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(key) },
            },
          ],
        });
      }
      t(stage).resourceCountIs('AWS::KMS::Key', 2);
      t(stage).allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 30 });
    });

    it('encrypts the access-log bucket with SSE-S3, the only encryption log delivery supports', () => {
      const bucket = t(stage).findResources('AWS::S3::Bucket')[ids(stage).logs];
      expect(bucket?.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
    });

    it('blocks all public access on every bucket', () => {
      t(stage).resourceCountIs('AWS::S3::Bucket', 3);
      t(stage).allResourcesProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
    });

    it('versions every bucket', () => {
      t(stage).allResourcesProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    });

    it('enforces bucket-owner object ownership (no ACLs) on every bucket', () => {
      t(stage).allResourcesProperties('AWS::S3::Bucket', {
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
    });

    it('logs uploads and quarantine access to the access-log bucket under their own prefixes', () => {
      const id = ids(stage);
      const buckets = t(stage).findResources('AWS::S3::Bucket');
      for (const [bucket, prefix] of [
        [id.uploads, 'uploads/'],
        [id.quarantine, 'quarantine/'],
      ] as const) {
        expect(buckets[bucket]?.Properties.LoggingConfiguration).toEqual({
          DestinationBucketName: { Ref: id.logs },
          LogFilePrefix: prefix,
          TargetObjectKeyFormat: { PartitionedPrefix: { PartitionDateSource: 'EventTime' } },
        });
      }
      // Delivery through the bucket policy, for these two source buckets only.
      const delivery = bucketPolicy(t(stage), id.logs).filter(
        (s) => JSON.stringify(s.Principal) === JSON.stringify({ Service: 'logging.s3.amazonaws.com' }),
      );
      expect(delivery).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 's3:PutObject',
          Resource: objectsOf(id.logs, 'uploads/*'),
          Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': arnOf(id.uploads) } }),
        }),
        expect.objectContaining({
          Effect: 'Allow',
          Action: 's3:PutObject',
          Resource: objectsOf(id.logs, 'quarantine/*'),
          Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': arnOf(id.quarantine) } }),
        }),
      ]);
    });

    it('allows CORS from the stage origins only, exposing ETag for multipart uploads', () => {
      const { config } = b(stage);
      const id = ids(stage);
      const buckets = t(stage).findResources('AWS::S3::Bucket');
      const rules = buckets[id.uploads]?.Properties.CorsConfiguration.CorsRules;
      expect(rules).toHaveLength(1);
      expect(rules[0].AllowedOrigins).toEqual(config.api.corsOrigins);
      expect(rules[0].AllowedOrigins).not.toContain('*');
      expect(rules[0].AllowedOrigins.join()).not.toMatch(/\*/);
      expect(rules[0].AllowedMethods.sort()).toEqual(['DELETE', 'GET', 'HEAD', 'POST', 'PUT']);
      expect(rules[0].ExposedHeaders).toContain('ETag');
      expect(rules[0].AllowedHeaders).toEqual(
        expect.arrayContaining(['content-type', 'if-none-match', 'x-amz-*']),
      );
      expect(buckets[id.quarantine]?.Properties.CorsConfiguration).toBeUndefined();
      expect(buckets[id.logs]?.Properties.CorsConfiguration).toBeUndefined();
    });

    it('aborts incomplete multipart uploads after 1 day and expires old upload versions per stage', () => {
      const { config } = b(stage);
      const uploads = t(stage).findResources('AWS::S3::Bucket')[ids(stage).uploads];
      expect(uploads?.Properties.LifecycleConfiguration.Rules).toEqual([
        {
          Id: 'AbortIncompleteUploadsAndExpireOldVersions',
          Status: 'Enabled',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          NoncurrentVersionExpiration: { NoncurrentDays: config.uploads.noncurrentVersionDays },
          ExpiredObjectDeleteMarker: true,
        },
      ]);
    });

    it('expires quarantined objects after the stage retention', () => {
      const expected = { dev: 7, staging: 30, prod: 90 }[stage];
      expect(b(stage).config.uploads.quarantineRetentionDays).toBe(expected);
      const quarantine = t(stage).findResources('AWS::S3::Bucket')[ids(stage).quarantine];
      expect(quarantine?.Properties.LifecycleConfiguration.Rules).toEqual([
        {
          Id: 'ExpireQuarantinedObjects',
          Status: 'Enabled',
          ExpirationInDays: expected,
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        },
      ]);
    });

    it('denies plain-HTTP requests on every bucket', () => {
      const id = ids(stage);
      for (const bucket of [id.uploads, id.quarantine, id.logs]) {
        expect(bucketPolicy(t(stage), bucket)).toContainEqual({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Resource: [arnOf(bucket), objectsOf(bucket, '*')],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        });
      }
    });

    it('denies TLS older than 1.2 on every bucket', () => {
      const id = ids(stage);
      for (const bucket of [id.uploads, id.quarantine, id.logs]) {
        expect(bucketPolicy(t(stage), bucket)).toContainEqual({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Resource: [arnOf(bucket), objectsOf(bucket, '*')],
          Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        });
      }
    });

    it('denies reads under uploads/ until GuardDuty tags the object NO_THREATS_FOUND, except for GuardDuty and the scan pipeline', () => {
      const id = ids(stage);
      expect(bySid(bucketPolicy(t(stage), id.uploads), 'DenyReadsUntilScannedClean')).toEqual({
        Sid: 'DenyReadsUntilScannedClean',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: objectsOf(id.uploads, 'uploads/*'),
        Condition: {
          StringNotEquals: { 's3:ExistingObjectTag/GuardDutyMalwareScanStatus': 'NO_THREATS_FOUND' },
          ArnNotEquals: { 'aws:PrincipalArn': [arnOf(id.guardDutyRole), arnOf(id.scanRole)] },
        },
      });
    });

    it('denies setting the scan-status tag to anyone but GuardDuty', () => {
      const id = ids(stage);
      expect(bySid(bucketPolicy(t(stage), id.uploads), 'DenyScanStatusTagExceptGuardDuty')).toEqual({
        Sid: 'DenyScanStatusTagExceptGuardDuty',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectVersionTagging'],
        Resource: objectsOf(id.uploads, '*'),
        Condition: {
          'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['GuardDutyMalwareScanStatus'] },
          ArnNotEquals: { 'aws:PrincipalArn': arnOf(id.guardDutyRole) },
        },
      });
    });

    it('denies every quarantine read except by the break-glass role', () => {
      const id = ids(stage);
      expect(bySid(bucketPolicy(t(stage), id.quarantine), 'DenyReadsExceptBreakGlass')).toEqual({
        Sid: 'DenyReadsExceptBreakGlass',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:GetObject*',
        Resource: objectsOf(id.quarantine, '*'),
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': arnOf(id.breakGlassRole) } },
      });
    });

    it('lets only this account assume the break-glass role, with MFA, for at most an hour', () => {
      const role = t(stage).findResources('AWS::IAM::Role')[ids(stage).breakGlassRole];
      expect(role?.Properties.MaxSessionDuration).toBe(3600);
      expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: {
            AWS: {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root'],
              ],
            },
          },
          Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
        },
      ]);
    });

    it('gives the break-glass role read access to quarantine and its key, nothing else', () => {
      const id = ids(stage);
      expect(rolePolicy(t(stage), id.breakGlassRole)).toEqual([
        {
          Effect: 'Allow',
          Action: [...perms.breakGlassObjects].sort(),
          Resource: objectsOf(id.quarantine, '*'),
        },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: arnOf(id.quarantineKey) },
        { Effect: 'Allow', Action: [...perms.breakGlassBucket].sort(), Resource: arnOf(id.quarantine) },
      ]);
    });

    it('protects uploads/ with a GuardDuty Malware Protection plan that tags scanned objects', () => {
      const id = ids(stage);
      t(stage).resourceCountIs('AWS::GuardDuty::MalwareProtectionPlan', 1);
      t(stage).hasResourceProperties('AWS::GuardDuty::MalwareProtectionPlan', {
        Role: arnOf(id.guardDutyRole),
        ProtectedResource: { S3Bucket: { BucketName: { Ref: id.uploads }, ObjectPrefixes: ['uploads/'] } },
        Actions: { Tagging: { Status: 'ENABLED' } },
      });
    });

    it('declares EventBridge notifications on the uploads bucket, which GuardDuty needs', () => {
      const uploads = t(stage).findResources('AWS::S3::Bucket')[ids(stage).uploads];
      expect(uploads?.Properties.NotificationConfiguration).toEqual({
        EventBridgeConfiguration: { EventBridgeEnabled: true },
      });
      t(stage).resourceCountIs('Custom::S3BucketNotifications', 0);
    });

    it('lets only GuardDuty Malware Protection plans assume the GuardDuty role, through a managed policy', () => {
      const role = t(stage).findResources('AWS::IAM::Role')[ids(stage).guardDutyRole];
      expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'malware-protection-plan.guardduty.amazonaws.com' },
        },
      ]);
      expect(role?.Properties.Policies).toBeUndefined();
      expect(role?.Properties.ManagedPolicyArns).toEqual([
        { Ref: logicalId(t(stage), 'AWS::IAM::ManagedPolicy', 'UploadsMalwareProtectionPolicy') },
      ]);
    });

    it('gives the GuardDuty role the documented least-privilege policy, scoped to this bucket, prefix and key', () => {
      const id = ids(stage);
      const policy =
        t(stage).findResources('AWS::IAM::ManagedPolicy')[
          logicalId(t(stage), 'AWS::IAM::ManagedPolicy', 'UploadsMalwareProtectionPolicy')
        ];
      const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
      const managedRules = {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':events:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*',
          ],
        ],
      };
      expect(statements.map((s) => s.Sid)).toEqual([
        'AllowManagedRuleToSendS3EventsToGuardDuty',
        'AllowGuardDutyToMonitorEventBridgeManagedRule',
        'AllowPostScanTag',
        'AllowEnableS3EventBridgeEvents',
        'AllowPutValidationObject',
        'AllowCheckBucketOwnership',
        'AllowMalwareScan',
        'AllowDecryptForMalwareScan',
      ]);
      const managedRule = bySid(statements, 'AllowManagedRuleToSendS3EventsToGuardDuty');
      expect(actionsOf(managedRule)).toEqual(
        ['events:DeleteRule', 'events:PutRule', 'events:PutTargets', 'events:RemoveTargets'].sort(),
      );
      expect(managedRule.Resource).toEqual(managedRules);
      expect(managedRule.Condition).toEqual({
        StringLike: { 'events:ManagedBy': 'malware-protection-plan.guardduty.amazonaws.com' },
      });
      expect(bySid(statements, 'AllowGuardDutyToMonitorEventBridgeManagedRule').Resource).toEqual(
        managedRules,
      );
      const tag = bySid(statements, 'AllowPostScanTag');
      expect(actionsOf(tag)).toEqual(
        [
          's3:GetObjectTagging',
          's3:GetObjectVersionTagging',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ].sort(),
      );
      expect(tag.Resource).toEqual(objectsOf(id.uploads, 'uploads/*'));
      const notifications = bySid(statements, 'AllowEnableS3EventBridgeEvents');
      expect(actionsOf(notifications)).toEqual(['s3:GetBucketNotification', 's3:PutBucketNotification']);
      expect(notifications.Resource).toEqual(arnOf(id.uploads));
      expect(bySid(statements, 'AllowPutValidationObject')).toMatchObject({
        Action: 's3:PutObject',
        Resource: objectsOf(id.uploads, 'malware-protection-resource-validation-object'),
      });
      expect(bySid(statements, 'AllowCheckBucketOwnership')).toMatchObject({
        Action: 's3:ListBucket',
        Resource: arnOf(id.uploads),
      });
      const scan = bySid(statements, 'AllowMalwareScan');
      expect(actionsOf(scan)).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
      expect(scan.Resource).toEqual(
        expect.arrayContaining([
          objectsOf(id.uploads, 'uploads/*'),
          objectsOf(id.uploads, 'malware-protection-resource-validation-object'),
        ]),
      );
      expect(scan.Resource).toHaveLength(2);
      const decrypt = bySid(statements, 'AllowDecryptForMalwareScan');
      expect(actionsOf(decrypt)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(decrypt).toEqual({
        Sid: 'AllowDecryptForMalwareScan',
        Effect: 'Allow',
        Action: decrypt.Action,
        Resource: arnOf(id.key),
        Condition: {
          StringLike: {
            'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      });
      expect(JSON.stringify(statements)).not.toMatch(/"s3:\*"|"kms:\*"|QuarantineKey|UploadsQuarantine/);
    });

    it('lets the scan pipeline read and delete under uploads/ and write into quarantine, with both keys', () => {
      const id = ids(stage);
      const role = t(stage).findResources('AWS::IAM::Role')[id.scanRole];
      expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect(JSON.stringify(role?.Properties.ManagedPolicyArns)).toContain(
        ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
      );
      expect(rolePolicy(t(stage), id.scanRole)).toEqual([
        {
          Effect: 'Allow',
          Action: [...perms.scanReadObjects, ...perms.scanDeleteObjects].sort(),
          Resource: objectsOf(id.uploads, 'uploads/*'),
        },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: arnOf(id.key) },
        {
          Effect: 'Allow',
          Action: [...perms.quarantineWriteObjects].sort(),
          Resource: objectsOf(id.quarantine, '*'),
        },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: arnOf(id.quarantineKey),
        },
      ]);
    });

    /** What the consumer role given grant `id` may do: actions, on what, under which condition. */
    const granted = (id: keyof typeof GRANTS) =>
      rolePolicy(b(stage).consumer, logicalId(b(stage).consumer, 'AWS::IAM::Role', id)).map((s) => ({
        actions: actionsOf(s),
        on: resourceKind(JSON.stringify(s.Resource)),
        condition: s.Condition,
      }));

    it('grants writes as PutObject on uploads/ with the key use SSE-KMS uploads need, and no tagging', () => {
      expect(granted('Write')).toEqual([
        { actions: ['s3:PutObject'], on: 'uploads/*', condition: undefined },
        { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], on: 'key', condition: undefined },
      ]);
    });

    it('grants aborts as AbortMultipartUpload on uploads/ only, with no key access', () => {
      expect(granted('Abort')).toEqual([
        { actions: ['s3:AbortMultipartUpload'], on: 'uploads/*', condition: undefined },
      ]);
    });

    it('grants ListParts on uploads/ with kms:Decrypt, which SSE-KMS uploads need for it', () => {
      expect(granted('ListParts')).toEqual([
        { actions: ['s3:ListMultipartUploadParts'], on: 'uploads/*', condition: undefined },
        { actions: ['kms:Decrypt'], on: 'key', condition: undefined },
      ]);
    });

    it('grants listing on the bucket under uploads/ only, and nothing else', () => {
      expect(granted('List')).toEqual([
        {
          actions: ['s3:ListBucket'],
          on: 'bucket',
          condition: { StringLike: { 's3:prefix': ['uploads/*'] } },
        },
      ]);
    });

    it('grants presigned downloads as GetObject on uploads/ and kms:Decrypt only', () => {
      expect(granted('Download')).toEqual([
        { actions: ['s3:GetObject'], on: 'uploads/*', condition: undefined },
        { actions: ['kms:Decrypt'], on: 'key', condition: undefined },
      ]);
    });

    it('grants deletes of current versions on uploads/ only, with no key access', () => {
      expect(granted('Delete')).toEqual([
        { actions: ['s3:DeleteObject'], on: 'uploads/*', condition: undefined },
      ]);
    });

    it('grants no handler tag writes or in-progress upload listing, which no handler calls', () => {
      const consumer = JSON.stringify(b(stage).consumer.findResources('AWS::IAM::Policy'));
      expect(consumer).not.toMatch(
        /s3:PutObjectTagging|s3:ListBucketMultipartUploads|s3:DeleteObjectVersion/,
      );
    });

    it('uses the quarantine key only from the scan pipeline and the break-glass role', () => {
      const id = ids(stage);
      const users = Object.values(t(stage).findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes(id.quarantineKey))
        .flatMap((p) => p.Properties.Roles.map((r: { Ref: string }) => r.Ref))
        .sort();
      expect(users).toEqual([id.breakGlassRole, id.scanRole].sort());
      expect(JSON.stringify(b(stage).consumer.toJSON())).not.toMatch(/QuarantineKey|UploadsQuarantine/);
    });

    it('sets no physical bucket names', () => {
      for (const bucket of Object.values(t(stage).findResources('AWS::S3::Bucket'))) {
        expect(bucket.Properties.BucketName).toBeUndefined();
      }
    });
  });

  it('prod retains buckets and keys, keeps their objects and has termination protection', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key']) {
      t('prod').allResources(type, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    t('prod').resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    expect(b('prod').storage.terminationProtection).toBe(true);
  });

  it('staging retains buckets and keys but can be torn down', () => {
    t('staging').allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    t('staging').resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    expect(b('staging').storage.terminationProtection).toBe(false);
  });

  it('dev destroys buckets and keys, emptying the buckets first', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key']) {
      t('dev').allResources(type, { DeletionPolicy: 'Delete' });
    }
    t('dev').resourceCountIs('Custom::S3AutoDeleteObjects', 3);
    expect(b('dev').storage.terminationProtection).toBe(false);
  });

  it('matches GuardDuty scan-result events for this bucket and prefix only', () => {
    const { storage } = b('prod');
    expect(storage.resolve(storage.uploads.scanResultEventPattern())).toEqual({
      source: ['aws.guardduty'],
      detailType: [SCAN_RESULT_DETAIL_TYPE],
      detail: {
        s3ObjectDetails: {
          bucketName: [{ Ref: ids('prod').uploads }],
          objectKey: [{ prefix: 'uploads/' }],
        },
      },
    });
    expect(SCAN_RESULT_DETAIL_TYPE).toBe('GuardDuty Malware Protection Object Scan Result');
  });

  it('exposes the scan outcomes as Citadel metrics of the scan service', () => {
    const { uploads } = b('prod').storage;
    const names = (['clean', 'infected', 'rejected', 'failed'] as const).map(
      (o) => uploads.metricScanResults(o).metricName,
    );
    expect(names).toEqual(['ScanClean', 'ScanInfected', 'ScanRejected', 'ScanFailed']);
    const failures = uploads.metricScanFailures({ period: Duration.minutes(1) });
    expect(failures).toMatchObject({
      namespace: 'Citadel',
      metricName: 'ScanFailed',
      dimensions: { service: uploads.scanServiceName },
      statistic: 'Sum',
    });
    expect(failures.period.toMinutes()).toBe(1);
  });
});

describe('ScannedUploadBucket', () => {
  it('acknowledges its prefix wildcard for a grantee in its own stack too', () => {
    const app = testApp();
    const stack = new Stack(app, 'SameStack');
    const uploads = new ScannedUploadBucket(stack, 'Uploads', { protectData: false });
    const role = new iam.Role(stack, 'Handler', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    acknowledge(
      role,
      inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      'Test-only role standing in for an Api handler role; grant* methods write its inline policy.',
    );
    for (const grant of Object.values(GRANTS)) grant(uploads, role);
    expect(() => app.synth()).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Handler') }],
    });
  });

  it('defaults to the uploads/ prefix, no CORS and RETAIN', () => {
    const stack = new Stack(testApp({ compliance: false }), 'Defaults');
    const uploads = new ScannedUploadBucket(stack, 'Uploads');
    expect(uploads.uploadPrefix).toBe('uploads/');
    const template = Template.fromStack(stack);
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.allResourcesProperties('AWS::S3::Bucket', { CorsConfiguration: Match.absent() });
  });

  describe('refuses invalid props with a fix', () => {
    const attempt = (props: ScannedUploadBucketProps) => () =>
      new ScannedUploadBucket(new Stack(testApp({ compliance: false }), 'Invalid'), 'Uploads', props);

    it.each([
      ['*', /contains a wildcard; list each browser origin exactly/],
      ['https://*.example.com', /contains a wildcard/],
      ['https://app.example.com/', /no path or trailing slash/],
      ['http://app.example.com', /plain http only for localhost/],
    ])('CORS origin %s', (origin, message) => {
      expect(attempt({ corsOrigins: [origin] })).toThrow(message);
    });

    it('a prefix without a trailing slash', () => {
      expect(attempt({ uploadPrefix: 'uploads' })).toThrow(/must end with "\/" \(e\.g\. "uploads\/"\)/);
    });

    it.each(['/uploads/', 'up*/', '/', 'a//b/'])('the malformed prefix %s', (prefix) => {
      expect(attempt({ uploadPrefix: prefix })).toThrow(/must be one or more non-empty path segments/);
    });

    it.each([
      ['quarantineRetention', { quarantineRetention: Duration.hours(12) }],
      ['noncurrentVersionExpiration', { noncurrentVersionExpiration: Duration.hours(36) }],
      ['accessLogRetention', { accessLogRetention: Duration.days(0) }],
    ] as const)('a %s that is not a whole number of days', (name, props) => {
      expect(attempt(props)).toThrow(
        new RegExp(`${name} must be a whole number of days, at least 1.*Duration\\.days`),
      );
    });

    it('autoDeleteObjects while data is protected', () => {
      expect(attempt({ autoDeleteObjects: true })).toThrow(/set protectData: false as well/);
      expect(attempt({ autoDeleteObjects: true, protectData: false })).not.toThrow();
    });
  });
});
