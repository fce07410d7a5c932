import {
  aws_cloudwatch as cloudwatch,
  Duration,
  type aws_events as events,
  aws_guardduty as guardduty,
  aws_iam as iam,
  aws_kms as kms,
  RemovalPolicy,
  Stack,
  aws_s3 as s3,
  Token,
} from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import {
  METRICS_NAMESPACE,
  SCAN_CLEAN,
  SCAN_OUTCOME_METRICS,
  SCAN_RESULT_DETAIL_TYPE,
  SCAN_STATUS_TAG,
  type ScanOutcome,
} from '../../contract/scan';
import { acknowledge, inPacks } from '../compliance';

// Shared with the scan Lambda through the contract, so neither side can drift from the other.
export {
  METRICS_NAMESPACE,
  SCAN_CLEAN,
  SCAN_OUTCOME_METRICS,
  SCAN_RESULT_DETAIL_TYPE,
  SCAN_RESULT_STATUSES,
  SCAN_STATUS_TAG,
  type ScanOutcome,
  type ScanResultStatus,
} from '../../contract/scan';

/** The service principal GuardDuty Malware Protection plans assume their role with. */
const MALWARE_PROTECTION_PRINCIPAL = 'malware-protection-plan.guardduty.amazonaws.com';
/** Name prefix of the EventBridge managed rule GuardDuty creates for each protected bucket. */
const MANAGED_RULE_PREFIX = 'DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3';
/** Object GuardDuty writes at the bucket root to prove the plan's role can write to the bucket. */
const VALIDATION_OBJECT_KEY = 'malware-protection-resource-validation-object';

/**
 * Every action this construct grants or denies, in one place (as aws-s3 keeps them in perms.ts).
 * `kms:` actions are granted on the bucket's key by `bucket.grants.actionsOnObjectKeys`.
 */
export const perms = {
  /**
   * CreateMultipartUpload, UploadPart, CompleteMultipartUpload and a single PutObject are all `s3:PutObject`.
   * No `s3:PutObjectTagging`: no upload sets tags (and the scan-status tag is GuardDuty's alone).
   */
  writeObjects: ['s3:PutObject'],
  /** SSE-KMS: a data key for a new object or multipart upload, Decrypt for each part and to assemble them. */
  writeKey: ['kms:GenerateDataKey', 'kms:Decrypt'],
  abortObjects: ['s3:AbortMultipartUpload'],
  listPartsObjects: ['s3:ListMultipartUploadParts'],
  /** ListParts of an SSE-KMS upload needs Decrypt on its key. */
  listPartsKey: ['kms:Decrypt'],
  /** ListObjectsV2, only under the upload prefix (condition `s3:prefix`). */
  listBucket: ['s3:ListBucket'],
  downloadObjects: ['s3:GetObject'],
  downloadKey: ['kms:Decrypt'],
  /** DeleteObject without a version id: a delete marker in the versioned bucket (old versions expire by lifecycle). */
  deleteObjects: ['s3:DeleteObject'],
  /** The scan pipeline reads the scanned version, its tags and its first bytes (HeadObject is `s3:GetObject`). */
  scanReadObjects: [
    's3:GetObject',
    's3:GetObjectVersion',
    's3:GetObjectTagging',
    's3:GetObjectVersionTagging',
  ],
  scanReadKey: ['kms:Decrypt'],
  /** It removes quarantined objects from the uploads bucket, version included. */
  scanDeleteObjects: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  /** CopyObject, or a multipart copy for objects over 5 GB, into quarantine with the source's tags. */
  quarantineWriteObjects: ['s3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'],
  quarantineWriteKey: ['kms:GenerateDataKey', 'kms:Decrypt'],
  breakGlassObjects: [
    's3:GetObject',
    's3:GetObjectVersion',
    's3:GetObjectTagging',
    's3:GetObjectVersionTagging',
  ],
  breakGlassBucket: ['s3:ListBucket', 's3:ListBucketVersions'],
  breakGlassKey: ['kms:Decrypt'],
  /** Denied on the upload prefix until GuardDuty has tagged the object clean. */
  tagGatedReads: ['s3:GetObject', 's3:GetObjectVersion'],
  /** Writes that could set the scan-status tag themselves; only GuardDuty may. */
  scanTagWrites: ['s3:PutObject', 's3:PutObjectTagging', 's3:PutObjectVersionTagging'],
  /** Every object read in quarantine (content, versions, tags, attributes, ACLs). */
  quarantineReads: ['s3:GetObject*'],
  /** The role policy the GuardDuty user guide documents for Malware Protection for S3. */
  guardDuty: {
    managedRule: ['events:PutRule', 'events:DeleteRule', 'events:PutTargets', 'events:RemoveTargets'],
    monitorManagedRule: ['events:DescribeRule', 'events:ListTargetsByRule'],
    postScanTag: [
      's3:PutObjectTagging',
      's3:GetObjectTagging',
      's3:PutObjectVersionTagging',
      's3:GetObjectVersionTagging',
    ],
    bucketNotifications: ['s3:PutBucketNotification', 's3:GetBucketNotification'],
    validationObject: ['s3:PutObject'],
    bucketOwnership: ['s3:ListBucket'],
    scan: ['s3:GetObject', 's3:GetObjectVersion'],
    key: ['kms:GenerateDataKey', 'kms:Decrypt'],
  },
} as const;

export interface ScannedUploadBucketProps {
  /**
   * Browser origins allowed to send presigned S3 requests (`https://host[:port]`, plain http for localhost
   * only). Wildcards are refused.
   * @default [] - no CORS rule: only server-side and machine clients can use the bucket
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Key prefix of uploaded objects: GuardDuty scans it, reads under it are tag-gated, grants are scoped
   * to it. Must end with `/`.
   * @default 'uploads/'
   */
  readonly uploadPrefix?: string;
  /** How long quarantined objects are kept before they expire. @default Duration.days(90) */
  readonly quarantineRetention?: Duration;
  /** How long overwritten or deleted versions of uploads are kept. @default Duration.days(30) */
  readonly noncurrentVersionExpiration?: Duration;
  /** How long S3 server access logs are kept. @default Duration.days(365) */
  readonly accessLogRetention?: Duration;
  /** Incomplete multipart uploads are aborted after this long. @default Duration.days(1) */
  readonly abortIncompleteMultipartUploadAfter?: Duration;
  /**
   * RETAIN buckets and keys when they are removed from the stack. Turn off only for disposable stages.
   * @default true
   */
  readonly protectData?: boolean;
  /**
   * Empty the buckets when they are deleted (CDK's auto-delete custom resource), so that a disposable stage
   * can be destroyed. Deletes every upload, quarantined object and access log: requires `protectData: false`.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
  /**
   * Powertools service name of the scan Lambda: its metrics carry it as the `service` dimension.
   * @default 'citadel-scan'
   */
  readonly scanServiceName?: string;
}

/**
 * A private, KMS-encrypted uploads bucket for resumable browser uploads whose objects cannot be read
 * until GuardDuty Malware Protection for S3 has tagged them clean; a quarantine bucket only a
 * break-glass role (with MFA) can read; a shared access-log bucket; the GuardDuty plan and its
 * least-privilege role; and the role the scan-result pipeline runs with.
 */
export class ScannedUploadBucket extends Construct {
  /** Encrypts uploads (SSE-KMS with S3 bucket keys). */
  readonly key: kms.Key;
  /** Encrypts quarantined objects; only the scan pipeline and the break-glass role may use it. */
  readonly quarantineKey: kms.Key;
  readonly bucket: s3.Bucket;
  readonly quarantineBucket: s3.Bucket;
  /** Receives the server access logs of both buckets (SSE-S3: log delivery cannot use SSE-KMS). */
  readonly accessLogBucket: s3.Bucket;
  /** Key prefix of uploaded objects, ending with `/`. */
  readonly uploadPrefix: string;
  /** The role GuardDuty's Malware Protection plan scans and tags objects with. */
  readonly guardDutyRole: iam.Role;
  readonly malwareProtectionPlan: guardduty.CfnMalwareProtectionPlan;
  /**
   * Run the scan-result Lambda with this role (assumed by `lambda.amazonaws.com`). It may read unscanned
   * and infected objects, copy them into quarantine and delete them from the uploads bucket.
   */
  readonly scanRole: iam.Role;
  /** The only principal that can read quarantined objects; assumable by this account's principals with MFA. */
  readonly breakGlassRole: iam.Role;
  /** Service name the scan Lambda must use so that `metricScan*()` find its metrics. */
  readonly scanServiceName: string;
  private readonly acknowledgedGrantees = new Set<IConstruct>();

  constructor(scope: Construct, id: string, props: ScannedUploadBucketProps = {}) {
    super(scope, id);
    const corsOrigins = props.corsOrigins ?? [];
    const uploadPrefix = props.uploadPrefix ?? 'uploads/';
    const quarantineRetention = props.quarantineRetention ?? Duration.days(90);
    const noncurrentVersionExpiration = props.noncurrentVersionExpiration ?? Duration.days(30);
    const accessLogRetention = props.accessLogRetention ?? Duration.days(365);
    const abortAfter = props.abortIncompleteMultipartUploadAfter ?? Duration.days(1);
    const protectData = props.protectData ?? true;
    const autoDeleteObjects = props.autoDeleteObjects ?? false;
    this.scanServiceName = props.scanServiceName ?? 'citadel-scan';

    validateOrigins(corsOrigins);
    validatePrefix(uploadPrefix);
    for (const [name, value] of Object.entries({
      quarantineRetention,
      noncurrentVersionExpiration,
      accessLogRetention,
      abortIncompleteMultipartUploadAfter: abortAfter,
    })) {
      validateWholeDays(name, value);
    }
    if (autoDeleteObjects && protectData) {
      throw new Error(
        'ScannedUploadBucket: autoDeleteObjects deletes every upload, quarantined object and access log with the stack; set protectData: false as well (disposable stages only), or drop autoDeleteObjects.',
      );
    }
    this.uploadPrefix = uploadPrefix;

    const removalPolicy = protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const stack = Stack.of(this);

    this.key = new kms.Key(this, 'Key', {
      description: `Citadel uploads (${stack.stackName}): SSE-KMS for uploaded objects`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy,
    });
    this.quarantineKey = new kms.Key(this, 'QuarantineKey', {
      description: `Citadel quarantine (${stack.stackName}): SSE-KMS for infected and mistyped objects`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy,
    });

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access log delivery supports only SSE-S3 on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: accessLogRetention,
          noncurrentVersionExpiration,
          abortIncompleteMultipartUploadAfter: abortAfter,
        },
      ],
    });
    acknowledge(
      this.accessLogBucket,
      inPacks('S3DefaultEncryptionKMS', 'NIST.800.53.R5', 'HIPAA.Security'),
      'S3 server access log delivery supports only SSE-S3 on the target bucket, not SSE-KMS; this bucket holds the access logs of the uploads and quarantine buckets, never their objects.',
    );

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'uploads/',
      targetObjectKeyFormat: s3.TargetObjectKeyFormat.partitionedPrefix(s3.PartitionDateSource.EVENT_TIME),
      cors: corsOrigins.length > 0 ? [corsRule(corsOrigins)] : undefined,
      removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [
        {
          id: 'AbortIncompleteUploadsAndExpireOldVersions',
          abortIncompleteMultipartUploadAfter: abortAfter,
          noncurrentVersionExpiration,
          expiredObjectDeleteMarker: true,
        },
      ],
    });

    // GuardDuty turns S3's EventBridge notifications on when the plan is created; declaring them in the
    // template keeps stack updates from turning them off. Set on the L1: the L2's `eventBridgeEnabled`
    // goes through a custom-resource Lambda that merges notifications this bucket does not otherwise have.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.quarantineBucket = new s3.Bucket(this, 'Quarantine', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.quarantineKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'quarantine/',
      targetObjectKeyFormat: s3.TargetObjectKeyFormat.partitionedPrefix(s3.PartitionDateSource.EVENT_TIME),
      removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [
        {
          id: 'ExpireQuarantinedObjects',
          expiration: quarantineRetention,
          // Expiry leaves a delete marker on a versioned bucket; the expired version goes a day later.
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: abortAfter,
        },
      ],
    });

    for (const bucket of [this.accessLogBucket, this.bucket, this.quarantineBucket]) {
      acknowledge(
        bucket,
        inPacks('S3BucketReplicationEnabled', 'NIST.800.53.R5', 'HIPAA.Security'),
        'Cross-region replication is out of scope: Citadel runs each stage in one region, and a replica would need a bucket and KMS key per stage in a second region and would copy unscanned and infected objects outside the scan gate. In-region, versioning (noncurrent versions kept per stage) and RETAIN in protected stages guard against loss.',
      );
    }

    this.scanRole = new iam.Role(this, 'ScanRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Citadel scan-result pipeline: reads scanned uploads, moves infected ones to quarantine',
    });
    this.breakGlassRole = new iam.Role(this, 'BreakGlassRole', {
      assumedBy: new iam.AccountPrincipal(stack.account).withConditions({
        Bool: { 'aws:MultiFactorAuthPresent': 'true' },
      }),
      description: 'Citadel break-glass: the only principal that can read quarantined objects (MFA required)',
      maxSessionDuration: Duration.hours(1),
    });
    this.guardDutyRole = this.createGuardDutyRole();

    this.gateReadsOnScanResult();
    this.lockQuarantine();
    this.grantScanPipeline();
    this.grantBreakGlass();

    this.malwareProtectionPlan = new guardduty.CfnMalwareProtectionPlan(this, 'MalwareProtectionPlan', {
      role: this.guardDutyRole.roleArn,
      protectedResource: {
        s3Bucket: { bucketName: this.bucket.bucketName, objectPrefixes: [uploadPrefix] },
      },
      actions: { tagging: { status: 'ENABLED' } },
    });
  }

  /** Object pattern of the upload prefix, for grants and policies (`uploads/*`). */
  get objectPattern(): string {
    return `${this.uploadPrefix}*`;
  }

  /**
   * Lets `grantee` write objects under the prefix, directly or through URLs it presigns: create a multipart
   * upload, upload its parts, complete it, or PUT a small object whole; with the SSE-KMS key use they need.
   */
  grantWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnObjects(grantee, ...perms.writeObjects, ...perms.writeKey);
  }

  /** Lets `grantee` abort multipart uploads under the prefix (S3 drops their parts), directly or presigned. */
  grantAbort(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnObjects(grantee, ...perms.abortObjects);
  }

  /** Lets `grantee` list the parts S3 holds for a multipart upload under the prefix, directly or presigned. */
  grantListParts(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnObjects(grantee, ...perms.listPartsObjects, ...perms.listPartsKey);
  }

  /**
   * Lets `grantee` list objects under the prefix: whether, and how large, an object exists once its multipart
   * upload is gone (HeadObject is refused by the scan gate until the object is scanned; listing is not).
   */
  grantList(grantee: iam.IGrantable): iam.Grant {
    // No L2 grant takes a condition: the bucket-level statement is added through iam.Grant.
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...perms.listBucket],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [this.objectPattern] } },
    });
  }

  /**
   * Lets `grantee` read (and presign GETs for) objects under the prefix. The bucket policy still
   * refuses every object GuardDuty has not tagged `NO_THREATS_FOUND`.
   */
  grantPresignedDownload(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnObjects(grantee, ...perms.downloadObjects, ...perms.downloadKey);
  }

  /** Lets `grantee` delete objects under the prefix (current versions only: the bucket keeps the old ones). */
  grantDelete(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnObjects(grantee, ...perms.deleteObjects);
  }

  /** `actions` on objects under the prefix; `kms:` actions go to the bucket's key. */
  private grantOnObjects(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    const grant = this.bucket.grants.actionsOnObjectKeys(grantee, this.objectPattern, ...actions);
    this.acknowledgePrefixGrant(grantee);
    return grant;
  }

  /**
   * Matches GuardDuty's scan-result events for objects under this bucket's upload prefix
   * (`detail.s3ObjectDetails.{bucketName,objectKey,eTag,versionId}`, `detail.scanResultDetails.scanResultStatus`).
   */
  scanResultEventPattern(): events.EventPattern {
    return {
      source: ['aws.guardduty'],
      detailType: [SCAN_RESULT_DETAIL_TYPE],
      detail: {
        s3ObjectDetails: {
          bucketName: [this.bucket.bucketName],
          objectKey: [{ prefix: this.uploadPrefix }],
        },
      },
    };
  }

  /**
   * Matches S3's `Object Created` events for objects under the upload prefix (the bucket sends its events
   * to EventBridge): uploads a browser completed directly at S3 leave `uploading` on this event.
   */
  objectCreatedEventPattern(): events.EventPattern {
    return {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: {
        bucket: { name: [this.bucket.bucketName] },
        object: { key: [{ prefix: this.uploadPrefix }] },
      },
    };
  }

  /** Objects the scan Lambda counted under `outcome` (Sum over 5 minutes unless overridden). */
  metricScanResults(outcome: ScanOutcome, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: SCAN_OUTCOME_METRICS[outcome],
      dimensionsMap: { service: this.scanServiceName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Objects GuardDuty could not scan (UNSUPPORTED, ACCESS_DENIED, FAILED): held, and worth an alarm. */
  metricScanFailures(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricScanResults('failed', props);
  }

  /**
   * Reads under the prefix are denied until GuardDuty has tagged the object clean. No L2 option
   * expresses a deny conditioned on an object tag, so the statement is written by hand. Only GuardDuty
   * (which must read to scan) and the scan pipeline (which quarantines infected objects) are exempt.
   */
  private gateReadsOnScanResult(): void {
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyReadsUntilScannedClean',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...perms.tagGatedReads],
        resources: [this.bucket.arnForObjects(this.objectPattern)],
        conditions: {
          StringNotEquals: { [`s3:ExistingObjectTag/${SCAN_STATUS_TAG}`]: SCAN_CLEAN },
          ArnNotEquals: { 'aws:PrincipalArn': [this.guardDutyRole.roleArn, this.scanRole.roleArn] },
        },
      }),
    );
    // Without this, whoever may upload could set the tag to NO_THREATS_FOUND themselves (x-amz-tagging on
    // create, or PutObjectTagging) and read the object before, or instead of, the scan.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyScanStatusTagExceptGuardDuty',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...perms.scanTagWrites],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': [SCAN_STATUS_TAG] },
          ArnNotEquals: { 'aws:PrincipalArn': this.guardDutyRole.roleArn },
        },
      }),
    );
  }

  /** Quarantined objects are readable by the break-glass role only (written by hand: no L2 denies reads). */
  private lockQuarantine(): void {
    this.quarantineBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyReadsExceptBreakGlass',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...perms.quarantineReads],
        resources: [this.quarantineBucket.arnForObjects('*')],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': this.breakGlassRole.roleArn } },
      }),
    );
  }

  /** Read the scanned object, copy it into quarantine, delete it from uploads. */
  private grantScanPipeline(): void {
    const role = this.scanRole;
    this.bucket.grants.actionsOnObjectKeys(
      role,
      this.objectPattern,
      ...perms.scanReadObjects,
      ...perms.scanDeleteObjects,
      ...perms.scanReadKey,
    );
    this.quarantineBucket.grants.actionsOnObjectKeys(
      role,
      '*',
      ...perms.quarantineWriteObjects,
      ...perms.quarantineWriteKey,
    );
    acknowledge(
      role,
      inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      'The inline policy is what the bucket grants generate: scoped to the upload prefix and the quarantine bucket of this construct only.',
    );
    acknowledge(
      role,
      [
        `AwsSolutions-IAM5[Resource::<${this.logicalId(this.bucket)}.Arn>/${this.objectPattern}]`,
        `AwsSolutions-IAM5[Resource::<${this.logicalId(this.quarantineBucket)}.Arn>/*]`,
      ],
      'Object keys are generated per upload at run time; the pipeline acts on whichever object GuardDuty scanned, so the grant covers the upload prefix and the quarantine bucket, nothing else.',
    );
  }

  private grantBreakGlass(): void {
    const role = this.breakGlassRole;
    this.quarantineBucket.grants.actionsOnObjectKeys(
      role,
      '*',
      ...perms.breakGlassObjects,
      ...perms.breakGlassKey,
    );
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: [...perms.breakGlassBucket],
      resourceArns: [this.quarantineBucket.bucketArn],
    });
    acknowledge(
      role,
      inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      'The inline policy is what the bucket grants generate: read access to this quarantine bucket and its key, nothing else.',
    );
    acknowledge(
      role,
      [`AwsSolutions-IAM5[Resource::<${this.logicalId(this.quarantineBucket)}.Arn>/*]`],
      'Break-glass investigation must be able to read any quarantined object; their keys are only known at run time.',
    );
  }

  /**
   * The role the GuardDuty user guide documents for Malware Protection for S3 ("Create or update IAM role
   * policy"), narrowed to this bucket, its upload prefix and its key. A managed policy (not inline), attached
   * before the plan is created, because GuardDuty validates the role's permissions when the plan is created.
   */
  private createGuardDutyRole(): iam.Role {
    const stack = Stack.of(this);
    const managedRules = stack.formatArn({
      service: 'events',
      resource: 'rule',
      resourceName: `${MANAGED_RULE_PREFIX}*`,
    });
    const statement = (
      sid: string,
      actions: readonly string[],
      resources: string[],
      conditions?: Record<string, unknown>,
    ) => new iam.PolicyStatement({ sid, actions: [...actions], resources, conditions });
    const policy = new iam.ManagedPolicy(this, 'MalwareProtectionPolicy', {
      description: 'GuardDuty Malware Protection for S3: scan and tag new objects under the upload prefix',
      statements: [
        statement('AllowManagedRuleToSendS3EventsToGuardDuty', perms.guardDuty.managedRule, [managedRules], {
          StringLike: { 'events:ManagedBy': MALWARE_PROTECTION_PRINCIPAL },
        }),
        statement('AllowGuardDutyToMonitorEventBridgeManagedRule', perms.guardDuty.monitorManagedRule, [
          managedRules,
        ]),
        statement('AllowPostScanTag', perms.guardDuty.postScanTag, [
          this.bucket.arnForObjects(this.objectPattern),
        ]),
        statement('AllowEnableS3EventBridgeEvents', perms.guardDuty.bucketNotifications, [
          this.bucket.bucketArn,
        ]),
        statement('AllowPutValidationObject', perms.guardDuty.validationObject, [
          this.bucket.arnForObjects(VALIDATION_OBJECT_KEY),
        ]),
        statement('AllowCheckBucketOwnership', perms.guardDuty.bucketOwnership, [this.bucket.bucketArn]),
        // The guide grants reads on bucket/*; this plan scans the prefix only. The validation object is kept
        // readable in case GuardDuty reads back what it wrote to validate the role.
        statement('AllowMalwareScan', perms.guardDuty.scan, [
          this.bucket.arnForObjects(this.objectPattern),
          this.bucket.arnForObjects(VALIDATION_OBJECT_KEY),
        ]),
        statement('AllowDecryptForMalwareScan', perms.guardDuty.key, [this.key.keyArn], {
          StringLike: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
        }),
      ],
    });
    const role = new iam.Role(this, 'GuardDutyRole', {
      assumedBy: new iam.ServicePrincipal(MALWARE_PROTECTION_PRINCIPAL),
      description: 'GuardDuty Malware Protection for S3: scans and tags new Citadel uploads',
      managedPolicies: [policy],
    });
    acknowledge(
      policy,
      [
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*]',
        `AwsSolutions-IAM5[Resource::<${this.logicalId(this.bucket)}.Arn>/${this.objectPattern}]`,
      ],
      'The policy GuardDuty documents: it names its managed EventBridge rule with a generated suffix (condition events:ManagedBy), and it scans and tags every new object under the upload prefix, whose keys are generated at run time.',
    );
    return role;
  }

  /**
   * The grant methods cover every object under the prefix, whose keys are generated per upload, and
   * AwsSolutions-IAM5 flags that wildcard on the grantee: it is acknowledged here, where the grant is made.
   * The finding names the bucket ARN as the grantee's stack sees it, which for a grantee in another stack
   * is a cross-stack reference rendered only when the app is prepared, so the id is computed at validation.
   */
  private acknowledgePrefixGrant(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal) || this.acknowledgedGrantees.has(principal)) return;
    this.acknowledgedGrantees.add(principal);
    this.node.addValidation({
      validate: () => {
        const bucketArn = flattenReference(Stack.of(principal).resolve(this.bucket.bucketArn));
        acknowledge(
          principal,
          [`AwsSolutions-IAM5[Resource::${bucketArn}/${this.objectPattern}]`],
          `Object keys under ${this.uploadPrefix} are generated per upload at run time, so the grant covers that prefix of the one uploads bucket and nothing else in it.`,
        );
        return [];
      },
    });
  }

  private logicalId(bucket: s3.Bucket): string {
    return Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  }
}

/**
 * A resolved ARN reference written the way cdk-nag writes it in finding ids (its `flattenCfnReference`):
 * `<LogicalId.Arn>` for a reference in the same stack, the export name for `Fn::ImportValue`, and the
 * JSON of anything else.
 */
function flattenReference(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  const node = ref as { 'Fn::GetAtt'?: [string, string]; 'Fn::ImportValue'?: unknown; Ref?: string };
  if (Array.isArray(node['Fn::GetAtt'])) return `<${node['Fn::GetAtt'][0]}.${node['Fn::GetAtt'][1]}>`;
  if (node['Fn::ImportValue'] !== undefined) return flattenReference(node['Fn::ImportValue']);
  if (node.Ref !== undefined) return `<${node.Ref}>`;
  return JSON.stringify(ref);
}

/**
 * CORS for browser uploads with presigned URLs (Uppy's S3 plugin sends real S3 requests):
 * multipart create/complete (POST), parts and single PUTs, ListParts and downloads (GET), abort (DELETE).
 * ETag must be exposed, or the browser cannot read the part ETags it needs to complete an upload.
 */
function corsRule(origins: readonly string[]): s3.CorsRule {
  return {
    id: 'PresignedBrowserUploads',
    allowedOrigins: [...origins],
    allowedMethods: [
      s3.HttpMethods.GET,
      s3.HttpMethods.PUT,
      s3.HttpMethods.POST,
      s3.HttpMethods.DELETE,
      s3.HttpMethods.HEAD,
    ],
    // Presigned requests carry their signature in the query; browsers still send the content type, the
    // create-only condition of single PUTs (if-none-match), and SDK-signed headers (x-amz-*).
    allowedHeaders: ['content-type', 'content-md5', 'if-none-match', 'x-amz-*'],
    exposedHeaders: ['ETag', 'x-amz-version-id', 'x-amz-request-id', 'x-amz-id-2'],
    maxAge: 3000,
  };
}

const ORIGIN = /^(https:\/\/[a-z0-9.-]+(:\d+)?|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?)$/;

function validateOrigins(origins: readonly string[]): void {
  for (const origin of origins) {
    if (Token.isUnresolved(origin)) continue;
    if (origin.includes('*')) {
      throw new Error(
        `ScannedUploadBucket: CORS origin "${origin}" contains a wildcard; list each browser origin exactly (e.g. "https://app.example.com").`,
      );
    }
    if (!ORIGIN.test(origin)) {
      throw new Error(
        `ScannedUploadBucket: CORS origin "${origin}" must be "https://host[:port]" (plain http only for localhost), lower-case, with no path or trailing slash.`,
      );
    }
  }
}

function validatePrefix(prefix: string): void {
  if (Token.isUnresolved(prefix)) return;
  if (!prefix.endsWith('/')) {
    throw new Error(
      `ScannedUploadBucket: uploadPrefix "${prefix}" must end with "/" (e.g. "${prefix}/"), or grants and the read gate would also cover "${prefix}-other/…".`,
    );
  }
  if (!/^[A-Za-z0-9!_.()'-]+(\/[A-Za-z0-9!_.()'-]+)*\/$/.test(prefix)) {
    throw new Error(
      `ScannedUploadBucket: uploadPrefix "${prefix}" must be one or more non-empty path segments of letters, digits and !_.()'- with no leading "/" or wildcard (e.g. "uploads/").`,
    );
  }
}

function validateWholeDays(name: string, duration: Duration): void {
  if (Token.isUnresolved(duration.toString())) return;
  const days = duration.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `ScannedUploadBucket: ${name} must be a whole number of days, at least 1 (S3 lifecycle rules count in days); got ${duration.toHumanString()}. Use Duration.days(n).`,
    );
  }
}
