/**
 * Every AWS call every Lambda function of a Citadel stage makes, and what AWS authorizes for each: the IAM
 * action on which resource, and the KMS calls AWS services make with the caller's credentials on its behalf.
 *
 * Read by the IAM wiring test (`test/wiring/iam*.test.ts`), which
 * - checks the declaration against the code: each function's bundle sends exactly the SDK commands declared
 *   for it (`test/support/wiring/bundle-calls.ts`);
 * - simulates every declared call against the synthesized templates (identity, resource and KMS key policies).
 * It has no test-only imports, so stacks and scripts may read it too.
 *
 * Route functions derive their calls from the route's `needs` through one table ({@link NEED_CALLS}): a new
 * route needs no declaration of its own. The other functions (control functions, jobs, the scan pipeline,
 * rotations, the migration trigger, the restore-test validator, and CDK's own provider functions) are listed in
 * {@link FUNCTIONS}. Calls the Lambda runtime makes with the function's role, without an SDK command in our code,
 * are added by {@link callsOf} ({@link RUNTIME_CALLS}).
 *
 * Resources are named by how the code finds them (an environment variable, the rotation event, …), never by
 * ARN: the test resolves each {@link Target} in the templates the way the running function would.
 */
import type { ResourceNeed } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { CONTROL_FUNCTION_ENV, type ControlNeed } from '../../lambda/admin/control-protocol';
import type { StageConfig } from '../config';

/** AWS SDK v3 clients, by the package suffix of `@aws-sdk/client-<name>`. */
export const SDK_CLIENTS = {
  s3: 'S3',
  'secrets-manager': 'SecretsManager',
  lambda: 'Lambda',
  'api-gateway': 'APIGateway',
  'cognito-identity-provider': 'CognitoIdentityProvider',
  rds: 'RDS',
  backup: 'Backup',
  ec2: 'EC2',
  guardduty: 'GuardDuty',
  sesv2: 'SESv2',
} as const;
export type SdkClient = (typeof SDK_CLIENTS)[keyof typeof SDK_CLIENTS];

/** The sample object key the test uses for objects under the upload prefix (`uploads/<owner>/<file id>`). */
export const SAMPLE_UPLOAD_KEY =
  'uploads/3f1e2d4c-5b6a-4978-8e9f-0a1b2c3d4e5f/7c9d8e1f-2a3b-4c5d-9e8f-1a2b3c4d5e6f';

/**
 * A resource a call acts on, named by how the function finds it at run time. Where the target is encrypted
 * with KMS, the key is the one its resource is configured with (bucket default encryption, the secret's key).
 */
export type Target =
  /**
   * An object under the upload prefix of the bucket `CITADEL_UPLOADS_BUCKET` names. `scanStatus` is the
   * `GuardDutyMalwareScanStatus` tag the object carries when it is read (`none`: not scanned yet).
   */
  | { readonly kind: 'uploads-object'; readonly scanStatus?: 'NO_THREATS_FOUND' | 'THREATS_FOUND' | 'none' }
  /** The bucket `CITADEL_UPLOADS_BUCKET` names, listed under an upload key (`s3:prefix`). */
  | { readonly kind: 'uploads-bucket' }
  /** An object in the bucket `CITADEL_QUARANTINE_BUCKET` names. */
  | { readonly kind: 'quarantine-object' }
  /** The secret whose ARN the environment variable `env` holds. */
  | { readonly kind: 'secret-from-env'; readonly env: string }
  /** The secret whose rotation schedule names this function (Secrets Manager passes it in the event). */
  | { readonly kind: 'rotated-secret' }
  /** The secret the rotated secret's `masterarn` field names (alternating-users rotation). */
  | { readonly kind: 'master-of-rotated-secret' }
  /** The database user `CITADEL_DB_USER` on the RDS Proxy or instance `CITADEL_DB_HOST` names (IAM auth). */
  | { readonly kind: 'db-user-from-env' }
  /** The user `CITADEL_DB_USER` on an instance AWS Backup restored (its resource id is known only then). */
  | { readonly kind: 'restored-db-user' }
  /** An instance AWS Backup restored for a restore test (named by AWS Backup at restore time). */
  | { readonly kind: 'restored-db-instance' }
  /** The function whose ARN the environment variable `env` holds. */
  | { readonly kind: 'function-from-env'; readonly env: string }
  /** The resource whose ARN the environment variable `env` holds (e.g. the GuardDuty Malware Protection plan). */
  | { readonly kind: 'arn-from-env'; readonly env: string }
  /** The user pool `CITADEL_USER_POOL_ID` names. */
  | { readonly kind: 'user-pool-from-env' }
  /**
   * The stage's SES sender (`identity.ses`) as the function sends with it: the identity its From address
   * `CITADEL_SES_FROM_ADDRESS` belongs to (`ses:FromAddress` set), and the configuration set
   * `CITADEL_SES_CONFIGURATION_SET`, in the region `CITADEL_SES_REGION`.
   */
  | { readonly kind: 'ses-identity-from-env' }
  | { readonly kind: 'ses-configuration-set-from-env' }
  /** API Gateway's API-key collection (`/apikeys`). */
  | { readonly kind: 'api-keys' }
  /** One API key (`/apikeys/{id}`; ids are made at run time). */
  | { readonly kind: 'api-key' }
  /** The key collection of every usage plan `CITADEL_USAGE_PLANS` lists (`/usageplans/{id}/keys`). */
  | { readonly kind: 'usage-plan-keys' }
  /** Actions without resource-level permissions (`*`). */
  | { readonly kind: 'any' }
  /** A stream of the function's log group (`LoggingConfig.LogGroup`, else `/aws/lambda/<function name>`). */
  | { readonly kind: 'own-log-stream' }
  /** The function's log group itself (Lambda creates `/aws/lambda/<name>` when no log group is configured). */
  | { readonly kind: 'own-log-group' }
  /** The function's subnets and security groups (`VpcConfig`), where Lambda creates its network interfaces. */
  | { readonly kind: 'own-vpc-placement' }
  /** A network interface Lambda manages for the function. */
  | { readonly kind: 'network-interface' }
  /** The function version a CDK trigger (`Custom::Trigger`) invokes. */
  | { readonly kind: 'trigger-handler' }
  /** The VPC default security group `Custom::VpcRestrictDefaultSG` empties. */
  | { readonly kind: 'vpc-default-security-group' }
  /** Every bucket a `Custom::S3AutoDeleteObjects` resource empties, or an object in each. */
  | { readonly kind: 'auto-deleted-bucket' }
  | { readonly kind: 'auto-deleted-object' };

export type KmsAction = 'kms:Decrypt' | 'kms:GenerateDataKey';

/** One authorization AWS performs for a call. */
export interface AuthRequest {
  readonly action: string;
  readonly target: Target;
  /**
   * KMS calls the service makes with the caller's credentials, with the key that encrypts `target`
   * (S3 SSE-KMS with the bucket's key, Secrets Manager with the secret's key).
   */
  readonly kms?: readonly KmsAction[];
  /** Request context AWS sets for this call beyond what the target implies (e.g. `s3:RequestObjectTagKeys`). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

/** How a call is made when it is not an SDK command in our code. */
export type RuntimeCall =
  /** An RDS IAM auth token, SigV4-signed locally (`lambda/shared/db/iam-token.ts`), presented to PostgreSQL. */
  | 'rds-iam-token'
  /** The Lambda runtime writing the function's logs with its role. */
  | 'lambda-logs'
  /** The Lambda runtime sending X-Ray segments with the function's role (active tracing). */
  | 'xray'
  /** Lambda managing the network interfaces of a VPC function with its role. */
  | 'vpc-eni';

export interface AwsCall {
  /** The SDK v3 client and command our code sends, or presigns (a presigned URL carries the signer's rights). */
  readonly sdk?: { readonly client: SdkClient; readonly command: string };
  /** A call without an SDK command in our code. */
  readonly runtime?: RuntimeCall;
  readonly why: string;
  readonly requests: readonly AuthRequest[];
  /** Only in stages where this holds. @default every stage */
  readonly when?: (config: StageConfig) => boolean;
}

const s3 = (command: string, why: string, ...requests: AuthRequest[]): AwsCall => ({
  sdk: { client: 'S3', command },
  why,
  requests,
});
const secrets = (command: string, why: string, ...requests: AuthRequest[]): AwsCall => ({
  sdk: { client: 'SecretsManager', command },
  why,
  requests,
});

const UPLOAD: Target = { kind: 'uploads-object' };
const QUARANTINE: Target = { kind: 'quarantine-object' };

/**
 * KMS use per S3 operation on an SSE-KMS object (S3 API reference, "Permissions" of each operation): a new object
 * or multipart upload needs `kms:GenerateDataKey`; uploading or copying a part, completing, listing parts and
 * reading need `kms:Decrypt`.
 */
const SSE = {
  newObject: ['kms:GenerateDataKey'],
  existing: ['kms:Decrypt'],
} as const satisfies Record<string, readonly KmsAction[]>;

/** PostgreSQL as `citadel_app` with an IAM token: through RDS Proxy where there is one, else the instance. */
const DATABASE_CONNECT: AwsCall = {
  runtime: 'rds-iam-token',
  why: 'connects to PostgreSQL with an IAM auth token signed locally for CITADEL_DB_USER at CITADEL_DB_HOST',
  requests: [{ action: 'rds-db:connect', target: { kind: 'db-user-from-env' } }],
};

const invokeControl = (need: ControlNeed): AwsCall => ({
  sdk: { client: 'Lambda', command: 'Invoke' },
  why: `asks the ${need} control function outside the VPC (lambda/admin/aws.ts)`,
  requests: [
    {
      action: 'lambda:InvokeFunction',
      target: { kind: 'function-from-env', env: CONTROL_FUNCTION_ENV[need] },
    },
  ],
});

/**
 * The one table from a route's (or job's) needs to the calls they let its function make. `Api stack#grantNeeds`
 * turns each need into grants; this says which calls those grants are for.
 */
export const NEED_CALLS: { readonly [N in ResourceNeed]: readonly AwsCall[] } = {
  database: [DATABASE_CONNECT],
  'cognito-clients': [invokeControl('cognito-clients')],
  'cognito-mfa': [invokeControl('cognito-mfa')],
  'cognito-recovery': [invokeControl('cognito-recovery')],
  'api-keys': [invokeControl('api-keys')],
  'uploads:write': [
    s3('CreateMultipartUpload', 'starts an upload (sent, or presigned for browsers)', {
      action: 's3:PutObject',
      target: UPLOAD,
      kms: SSE.newObject,
    }),
    s3('UploadPart', 'presigned part URLs', { action: 's3:PutObject', target: UPLOAD, kms: SSE.existing }),
    s3('CompleteMultipartUpload', 'assembles the parts (sent, or presigned for browsers)', {
      action: 's3:PutObject',
      target: UPLOAD,
      kms: SSE.existing,
    }),
    s3('PutObject', 'presigned create-only single PUTs', {
      action: 's3:PutObject',
      target: UPLOAD,
      kms: SSE.newObject,
    }),
  ],
  'uploads:abort': [
    s3('AbortMultipartUpload', 'aborts an upload (sent, or presigned)', {
      action: 's3:AbortMultipartUpload',
      target: UPLOAD,
    }),
  ],
  'uploads:list-parts': [
    s3('ListParts', 'lists the parts S3 holds (sent, or presigned)', {
      action: 's3:ListMultipartUploadParts',
      target: UPLOAD,
      kms: SSE.existing,
    }),
  ],
  'uploads:list': [
    s3('ListObjectsV2', 'whether and how large an object exists once its upload is gone', {
      action: 's3:ListBucket',
      target: { kind: 'uploads-bucket' },
    }),
  ],
  'uploads:read': [
    s3('GetObject', 'presigned downloads of clean files', {
      action: 's3:GetObject',
      target: { kind: 'uploads-object', scanStatus: 'NO_THREATS_FOUND' },
      kms: SSE.existing,
    }),
  ],
  'uploads:delete': [
    s3('DeleteObject', 'deletes the current version (a delete marker)', {
      action: 's3:DeleteObject',
      target: UPLOAD,
    }),
  ],
};

/** Calls the Lambda runtime makes with every function's role. */
export const RUNTIME_CALLS = {
  logs: {
    runtime: 'lambda-logs',
    why: 'the runtime writes the function logs (CreateLogStream, PutLogEvents)',
    requests: [
      { action: 'logs:CreateLogStream', target: { kind: 'own-log-stream' } },
      { action: 'logs:PutLogEvents', target: { kind: 'own-log-stream' } },
    ],
  },
  /** CDK's provider functions have no log group of their own: the runtime creates `/aws/lambda/<name>`. */
  defaultLogGroup: {
    runtime: 'lambda-logs',
    why: 'the runtime creates the default log group /aws/lambda/<name>',
    requests: [{ action: 'logs:CreateLogGroup', target: { kind: 'own-log-group' } }],
  },
  xray: {
    runtime: 'xray',
    why: 'active tracing: the runtime sends segments and telemetry (no resource-level permissions)',
    requests: [
      { action: 'xray:PutTraceSegments', target: { kind: 'any' } },
      { action: 'xray:PutTelemetryRecords', target: { kind: 'any' } },
    ],
    when: (config) => config.observability.tracing,
  },
  // Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC": the execution role
  // creates, describes and deletes the function's network interfaces and assigns their addresses.
  vpc: {
    runtime: 'vpc-eni',
    why: 'Lambda manages the network interfaces of a VPC function with its role',
    requests: [
      { action: 'ec2:CreateNetworkInterface', target: { kind: 'own-vpc-placement' } },
      { action: 'ec2:DescribeNetworkInterfaces', target: { kind: 'any' } },
      { action: 'ec2:DeleteNetworkInterface', target: { kind: 'network-interface' } },
      { action: 'ec2:AssignPrivateIpAddresses', target: { kind: 'network-interface' } },
      { action: 'ec2:UnassignPrivateIpAddresses', target: { kind: 'network-interface' } },
    ],
  },
} as const satisfies Record<string, AwsCall>;

export type StackName = 'Network' | 'Data' | 'Identity' | 'Storage' | 'Api' | 'Observability';

export interface FunctionDeclaration {
  /** Construct id: the function's logical id is this followed by CDK's 8-character hash. */
  readonly id: string;
  readonly stack: StackName;
  /** Our handler module (bundled and checked against this declaration). */
  readonly entry?: string;
  /** The route (`operationId`) a route handler serves. */
  readonly route?: string;
  /**
   * A function CDK ships (a custom-resource provider): its handler is `aws-cdk-lib/<handler>`, not our code,
   * so the bundle check only confirms each declared SDK operation appears in that handler.
   */
  readonly framework?: { readonly handler: string };
  /** Route needs the calls derive from (through {@link NEED_CALLS}). */
  readonly needs?: readonly ResourceNeed[];
  /** Calls beyond the needs. */
  readonly calls?: readonly AwsCall[];
  /** Asynchronously invoked functions have a dead-letter queue. */
  readonly invocation: 'sync' | 'async';
  readonly vpc: boolean;
  /** Only in stages where this holds. @default every stage */
  readonly when?: (config: StageConfig) => boolean;
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The route handlers: one function per route in the Api stack, its calls from its needs. */
const ROUTE_FUNCTIONS: readonly FunctionDeclaration[] = routeList.map((route) => ({
  id: pascal(route.operationId),
  stack: 'Api',
  entry: route.entry,
  route: route.operationId,
  needs: route.needs ?? [],
  invocation: 'sync',
  vpc: true,
}));

const ROTATION_CALLS: readonly AwsCall[] = [
  secrets('DescribeSecret', 'reads the rotation state (version stages)', {
    action: 'secretsmanager:DescribeSecret',
    target: { kind: 'rotated-secret' },
  }),
  secrets('GetSecretValue', 'reads AWSCURRENT / AWSPENDING', {
    action: 'secretsmanager:GetSecretValue',
    target: { kind: 'rotated-secret' },
    kms: ['kms:Decrypt'],
  }),
  secrets('GetRandomPassword', 'generates the new password', {
    action: 'secretsmanager:GetRandomPassword',
    target: { kind: 'any' },
  }),
  secrets('PutSecretValue', 'stores AWSPENDING', {
    action: 'secretsmanager:PutSecretValue',
    target: { kind: 'rotated-secret' },
    kms: ['kms:GenerateDataKey'],
  }),
  secrets('UpdateSecretVersionStage', 'moves AWSCURRENT to the new version', {
    action: 'secretsmanager:UpdateSecretVersionStage',
    target: { kind: 'rotated-secret' },
  }),
];

/** Every function that is not a route handler. */
export const FUNCTIONS: readonly FunctionDeclaration[] = [
  {
    id: 'ApiKeyControl',
    stack: 'Api',
    entry: 'lambda/admin/control/api-keys.ts',
    invocation: 'sync',
    vpc: false,
    calls: [
      {
        sdk: { client: 'APIGateway', command: 'CreateApiKey' },
        why: 'POST /apikeys',
        requests: [{ action: 'apigateway:POST', target: { kind: 'api-keys' } }],
      },
      {
        sdk: { client: 'APIGateway', command: 'CreateUsagePlanKey' },
        why: "POST /usageplans/{id}/keys: the key joins its tier's plan",
        requests: [{ action: 'apigateway:POST', target: { kind: 'usage-plan-keys' } }],
      },
      {
        sdk: { client: 'APIGateway', command: 'UpdateApiKey' },
        why: 'PATCH /apikeys/{id}: disables a superseded key',
        requests: [{ action: 'apigateway:PATCH', target: { kind: 'api-key' } }],
      },
      {
        sdk: { client: 'APIGateway', command: 'DeleteApiKey' },
        why: 'DELETE /apikeys/{id}: undoes a key that could not join its plan',
        requests: [{ action: 'apigateway:DELETE', target: { kind: 'api-key' } }],
      },
    ],
  },
  {
    id: 'AppClientControl',
    stack: 'Api',
    entry: 'lambda/admin/control/app-clients.ts',
    invocation: 'sync',
    vpc: false,
    calls: ['CreateUserPoolClient', 'DeleteUserPoolClient'].map((command) => ({
      sdk: { client: 'CognitoIdentityProvider', command },
      why: 'machine (client-credentials) app clients',
      requests: [{ action: `cognito-idp:${command}`, target: { kind: 'user-pool-from-env' } }],
    })),
  },
  {
    id: 'MfaControl',
    stack: 'Api',
    entry: 'lambda/admin/control/mfa.ts',
    invocation: 'sync',
    vpc: false,
    calls: ['AdminGetUser', 'AdminSetUserMFAPreference', 'AdminUserGlobalSignOut'].map((command) => ({
      sdk: { client: 'CognitoIdentityProvider', command },
      why: "resets a user's MFA and signs them out everywhere",
      requests: [{ action: `cognito-idp:${command}`, target: { kind: 'user-pool-from-env' } }],
    })),
  },
  {
    id: 'RecoveryControl',
    stack: 'Api',
    entry: 'lambda/admin/control/recovery.ts',
    invocation: 'sync',
    vpc: false,
    calls: [
      ...[
        ['AdminInitiateAuth', "checks the password (the recovery client's ADMIN_USER_PASSWORD_AUTH)"],
        ['AdminGetUser', "reads the user's sub, status and verified email"],
        ['AdminSetUserMFAPreference', 'turns every MFA factor off'],
        ['AdminUserGlobalSignOut', 'signs the user out everywhere'],
      ].map(([command, why]) => ({
        sdk: { client: 'CognitoIdentityProvider' as const, command: command as string },
        why: why as string,
        requests: [{ action: `cognito-idp:${command}`, target: { kind: 'user-pool-from-env' } as const }],
      })),
      {
        sdk: { client: 'SESv2', command: 'SendEmail' },
        why: 'tells the user a recovery code was used, as the stage SES sender',
        requests: [
          { action: 'ses:SendEmail', target: { kind: 'ses-identity-from-env' } },
          { action: 'ses:SendEmail', target: { kind: 'ses-configuration-set-from-env' } },
        ],
        when: (config) => config.identity.ses !== undefined,
      },
    ],
  },
  {
    id: 'ExpireApiKeys',
    stack: 'Api',
    entry: 'lambda/admin/expire-api-keys.ts',
    needs: ['database', 'api-keys'],
    invocation: 'async',
    vpc: true,
  },
  {
    id: 'ExpireUploads',
    stack: 'Api',
    entry: 'lambda/uploads/expire-uploads.ts',
    needs: ['database', 'uploads:abort', 'uploads:list'],
    invocation: 'async',
    vpc: true,
  },
  {
    id: 'ScanPipeline',
    stack: 'Api',
    entry: 'lambda/scan/handler.ts',
    needs: ['database'],
    invocation: 'async',
    vpc: true,
    calls: [
      s3(
        'GetObject',
        "reads the scanned version's first bytes (or all of it, to hash), before any verdict",
        { action: 's3:GetObject', target: { kind: 'uploads-object', scanStatus: 'none' }, kms: SSE.existing },
        { action: 's3:GetObjectVersion', target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' } },
      ),
      s3(
        'CopyObject',
        // The source is the scanned version when the event names it, else the current object.
        'copies an infected or mistyped object (the scanned version) into quarantine with its tags',
        {
          action: 's3:GetObjectVersion',
          target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' },
          kms: SSE.existing,
        },
        {
          action: 's3:GetObjectVersionTagging',
          target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' },
        },
        { action: 's3:GetObject', target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' } },
        { action: 's3:GetObjectTagging', target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' } },
        {
          action: 's3:PutObject',
          target: QUARANTINE,
          kms: SSE.newObject,
          context: { 's3:RequestObjectTagKeys': ['GuardDutyMalwareScanStatus'] },
        },
        { action: 's3:PutObjectTagging', target: QUARANTINE },
      ),
      s3('CreateMultipartUpload', 'starts a multipart copy into quarantine (objects over 5 GiB)', {
        action: 's3:PutObject',
        target: QUARANTINE,
        kms: SSE.newObject,
      }),
      s3(
        'UploadPartCopy',
        'copies a 1 GiB range of the infected object (the scanned version, else the current one)',
        {
          action: 's3:GetObjectVersion',
          target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' },
          kms: SSE.existing,
        },
        { action: 's3:GetObject', target: { kind: 'uploads-object', scanStatus: 'THREATS_FOUND' } },
        { action: 's3:PutObject', target: QUARANTINE, kms: SSE.existing },
      ),
      s3('CompleteMultipartUpload', 'assembles the quarantined copy', {
        action: 's3:PutObject',
        target: QUARANTINE,
        kms: SSE.existing,
      }),
      s3('AbortMultipartUpload', 'abandons a failed multipart copy', {
        action: 's3:AbortMultipartUpload',
        target: QUARANTINE,
      }),
      s3(
        'DeleteObject',
        'removes the quarantined version from uploads for good, or a short object (current version)',
        { action: 's3:DeleteObjectVersion', target: UPLOAD },
        { action: 's3:DeleteObject', target: UPLOAD },
      ),
    ],
  },
  {
    id: 'MasterRotation',
    stack: 'Data',
    entry: 'lambda/rotation/handler.ts',
    invocation: 'sync',
    vpc: true,
    calls: ROTATION_CALLS,
  },
  {
    id: 'ReportingRotation',
    stack: 'Data',
    entry: 'lambda/rotation/handler.ts',
    invocation: 'sync',
    vpc: true,
    when: (config) => config.database.reportingUser,
    calls: [
      ...ROTATION_CALLS,
      secrets('GetSecretValue', 'logs in as the master to create and alter the reporting logins', {
        action: 'secretsmanager:GetSecretValue',
        target: { kind: 'master-of-rotated-secret' },
        kms: ['kms:Decrypt'],
      }),
    ],
  },
  {
    id: 'Migrations',
    stack: 'Data',
    entry: 'lambda/migrate/handler.ts',
    invocation: 'sync',
    vpc: true,
    calls: [
      secrets('GetSecretValue', 'applies migrations as the master user', {
        action: 'secretsmanager:GetSecretValue',
        target: { kind: 'secret-from-env', env: 'CITADEL_MASTER_SECRET_ARN' },
        kms: ['kms:Decrypt'],
      }),
      {
        ...secrets('GetSecretValue', "creates the reporting login from its secret's first value", {
          action: 'secretsmanager:GetSecretValue',
          target: { kind: 'secret-from-env', env: 'CITADEL_REPORTING_SECRET_ARN' },
          kms: ['kms:Decrypt'],
        }),
        when: (config) => config.database.reportingUser,
      },
    ],
  },
  {
    id: 'RestoreValidation',
    stack: 'Data',
    entry: 'lambda/restore-validation/handler.ts',
    invocation: 'async',
    vpc: true,
    when: (config) => config.database.restoreTesting,
    calls: [
      {
        sdk: { client: 'RDS', command: 'DescribeDBInstances' },
        why: 'checks the restored instance: encrypted with the data key, not public',
        requests: [{ action: 'rds:DescribeDBInstances', target: { kind: 'restored-db-instance' } }],
      },
      {
        runtime: 'rds-iam-token',
        why: 'reads the restored files and audit tables as the app role with an IAM token',
        requests: [{ action: 'rds-db:connect', target: { kind: 'restored-db-user' } }],
      },
      {
        sdk: { client: 'Backup', command: 'PutRestoreValidationResult' },
        why: 'reports the verdict to AWS Backup (no resource-level permissions)',
        requests: [{ action: 'backup:PutRestoreValidationResult', target: { kind: 'any' } }],
      },
    ],
  },
  {
    id: 'HealthProbe',
    stack: 'Observability',
    entry: 'lambda/monitoring/health-probe.ts',
    invocation: 'async',
    vpc: false,
    calls: [
      {
        sdk: { client: 'GuardDuty', command: 'GetMalwareProtectionPlan' },
        why: 'reports whether the uploads bucket’s Malware Protection plan is ACTIVE',
        requests: [
          {
            action: 'guardduty:GetMalwareProtectionPlan',
            target: { kind: 'arn-from-env', env: 'CITADEL_MALWARE_PLAN_ARN' },
          },
        ],
      },
      secrets('DescribeSecret', 'reports how long ago the master secret was rotated (metadata, no value)', {
        action: 'secretsmanager:DescribeSecret',
        target: { kind: 'secret-from-env', env: 'CITADEL_MASTER_SECRET_ARN' },
      }),
      {
        ...secrets(
          'DescribeSecret',
          'reports how long ago the reporting secret was rotated (metadata, no value)',
          {
            action: 'secretsmanager:DescribeSecret',
            target: { kind: 'secret-from-env', env: 'CITADEL_REPORTING_SECRET_ARN' },
          },
        ),
        when: (config) => config.database.reportingUser,
      },
    ],
  },
  // CDK's own provider functions (custom resources). Their handlers ship in aws-cdk-lib.
  {
    id: 'AWSCDKTriggerCustomResourceProviderCustomResourceProviderHandler',
    stack: 'Data',
    framework: { handler: 'custom-resource-handlers/dist/triggers/lambda/index.js' },
    invocation: 'sync',
    vpc: false,
    calls: [
      {
        sdk: { client: 'Lambda', command: 'Invoke' },
        why: 'runs the migration trigger on deploy',
        requests: [{ action: 'lambda:InvokeFunction', target: { kind: 'trigger-handler' } }],
      },
    ],
  },
  {
    id: 'CustomVpcRestrictDefaultSGCustomResourceProviderHandler',
    stack: 'Network',
    framework: {
      handler: 'custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler/index.js',
    },
    invocation: 'sync',
    vpc: false,
    calls: [
      'RevokeSecurityGroupIngress',
      'RevokeSecurityGroupEgress',
      'AuthorizeSecurityGroupIngress',
      'AuthorizeSecurityGroupEgress',
    ].map((command) => ({
      sdk: { client: 'EC2', command },
      why: 'empties the VPC default security group (restores it on delete)',
      requests: [{ action: `ec2:${command}`, target: { kind: 'vpc-default-security-group' } }],
    })),
  },
  {
    id: 'CustomS3AutoDeleteObjectsCustomResourceProviderHandler',
    stack: 'Storage',
    framework: { handler: 'custom-resource-handlers/dist/aws-s3/auto-delete-objects-handler/index.js' },
    invocation: 'sync',
    vpc: false,
    when: (config) => !config.protectData,
    calls: [
      s3('GetBucketTagging', 'only empties buckets tagged for auto-deletion', {
        action: 's3:GetBucketTagging',
        target: { kind: 'auto-deleted-bucket' },
      }),
      s3('GetBucketPolicy', 'reads the bucket policy before denying new writes', {
        action: 's3:GetBucketPolicy',
        target: { kind: 'auto-deleted-bucket' },
      }),
      s3('PutBucketPolicy', 'denies new writes while the bucket is emptied', {
        action: 's3:PutBucketPolicy',
        target: { kind: 'auto-deleted-bucket' },
      }),
      s3('ListObjectVersions', 'lists every version', {
        action: 's3:ListBucketVersions',
        target: { kind: 'auto-deleted-bucket' },
      }),
      s3(
        'DeleteObjects',
        'deletes every version',
        { action: 's3:DeleteObject', target: { kind: 'auto-deleted-object' } },
        { action: 's3:DeleteObjectVersion', target: { kind: 'auto-deleted-object' } },
      ),
    ],
  },
];

/** Every function Citadel deploys in a stage. */
export function declaredFunctions(config: StageConfig): FunctionDeclaration[] {
  return [...ROUTE_FUNCTIONS, ...FUNCTIONS].filter((fn) => fn.when?.(config) ?? true);
}

/** Every call `fn` makes in `config`'s stage: from its needs, its own, and the Lambda runtime's. */
export function callsOf(fn: FunctionDeclaration, config: StageConfig): AwsCall[] {
  const runtime: AwsCall[] = fn.framework
    ? [RUNTIME_CALLS.defaultLogGroup, RUNTIME_CALLS.logs]
    : [RUNTIME_CALLS.logs, RUNTIME_CALLS.xray, ...(fn.vpc ? [RUNTIME_CALLS.vpc] : [])];
  return [...(fn.needs ?? []).flatMap((need) => NEED_CALLS[need]), ...(fn.calls ?? []), ...runtime].filter(
    (call) => call.when?.(config) ?? true,
  );
}

/** A call's name: its SDK client and command (`S3 CreateMultipartUpload`), or its runtime kind. */
export const callName = (call: AwsCall): string =>
  call.sdk ? `${call.sdk.client} ${call.sdk.command}` : `runtime ${call.runtime}`;
