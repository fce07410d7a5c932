/**
 * IAM wiring, simulated offline against each stage's synthesized templates with `@cloud-copilot/iam-simulate`:
 * every declared AWS call of every function (`lib/wiring/aws-calls.ts`), the service-to-service edges the
 * templates wire, and a sample of requests that must be refused. `test/wiring/iam-defects.test.ts` shows each
 * check failing on the defect it targets.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { servesMachines } from '../../contract/route';
import { routeList } from '../../contract/routes';
import {
  type evaluate as Evaluate,
  evaluate,
  mismatches,
  type StageChecks,
  unusedGrants,
  wiringChecks,
} from '../support/wiring/iam-checks';
import { ALL_STAGES, stageTemplates } from '../support/wiring/stages';

type Results = Awaited<ReturnType<typeof Evaluate>>;

/**
 * Grants a role holds that none of its function's declared calls uses, reported to the lead rather than hidden:
 * the check reports exactly these, so narrowing one (or granting something new) fails until this list changes.
 */
const KNOWN_UNUSED_GRANTS = [
  // Secret#grantRead grants DescribeSecret with GetSecretValue; these functions only read the value. Narrowing
  // would mean a hand-written statement instead of the L2 grant, for a read of the secret's metadata.
  'Migrations: secretsmanager:DescribeSecret',
  'ReportingRotation: secretsmanager:DescribeSecret',
];

describe.each(ALL_STAGES)('IAM wiring: %s', (stage) => {
  let built: StageChecks;
  let results: Results;
  const of = (kind: string) => results.filter((r) => r.check.kind === kind);

  beforeAll(async () => {
    built = wiringChecks(stageTemplates(stage));
    results = await evaluate(built.checks);
    console.info(
      `iam wiring ${stage}: ${of('call').length} calls, ${of('edge').length} edges, ${of('deny').length} denies simulated (${built.functions.length} functions)`,
    );
  }, 300_000);

  it('declares every function the stage deploys, and the stage deploys every declared function', () => {
    expect(built.undeclared).toEqual([]);
    expect(built.undeployed).toEqual([]);
    expect(built.functions.length).toBeGreaterThanOrEqual(routeList.length + 6);
  });

  it('allows every declared call of every function', () => {
    expect(mismatches(of('call'))).toEqual([]);
    // Every function makes calls (at least its logs), and each is simulated.
    const withCalls = new Set(of('call').map((r) => r.check.function));
    expect(built.functions.map((f) => f.declaration.id).filter((id) => !withCalls.has(id))).toEqual([]);
  });

  it('allows every service-to-service edge', () => {
    expect(mismatches(of('edge'))).toEqual([]);
  });

  it('refuses every request that must be refused, by an explicit deny or for lack of an allow as expected', () => {
    expect(mismatches(of('deny'))).toEqual([]);
    expect(of('deny').length).toBeGreaterThanOrEqual(routeList.length * 2);
  });

  it('grants each function nothing its declared calls do not use (beyond the documented exceptions)', () => {
    const unused = unusedGrants(built, results).map((u) => u.replace(/ \(.*\)$/, ''));
    const present = new Set(built.functions.map((f) => f.declaration.id));
    expect(unused.sort()).toEqual(
      KNOWN_UNUSED_GRANTS.filter((k) => present.has(k.split(':')[0] as string)).sort(),
    );
  });

  it('covers the edges of every kind of service, for every function that has one', () => {
    const edges = of('edge').map((r) => r.check.id);
    const count = (pattern: RegExp) => edges.filter((id) => pattern.test(id)).length;
    // API Gateway invokes each route function from the public API, and machine routes from the machine API too.
    for (const route of routeList) {
      const fn = built.functions.find((f) => f.declaration.route === route.operationId);
      const expected = servesMachines(route) ? 2 : 1;
      expect({
        route: route.operationId,
        invocations: edges.filter((id) => id.startsWith('edge API Gateway') && id.endsWith(` ${fn?.arn}`))
          .length,
      }).toEqual({
        route: route.operationId,
        invocations: expected,
      });
    }
    // Every async function: EventBridge invokes it, and it and EventBridge can both write its dead letters.
    for (const fn of built.functions.filter((f) => f.declaration.invocation === 'async')) {
      expect(
        edges.some(
          (id) => id.startsWith('edge EventBridge') && id.endsWith(`lambda:InvokeFunction ${fn.arn}`),
        ),
      ).toBe(true);
      expect(
        count(
          new RegExp(
            `^edge Lambda \\(${fn.declaration.id}\\) → (sqs:SendMessage|kms:GenerateDataKey|kms:Decrypt) `,
          ),
        ),
      ).toBe(3);
    }
    expect(count(/^edge EventBridge .* → kms:(GenerateDataKey|Decrypt) /)).toBeGreaterThan(0);
    // Lambda assumes every execution role.
    expect(count(/^edge Lambda → sts:AssumeRole /)).toBe(built.functions.length);
    // Secrets Manager invokes each rotation function.
    const rotations = built.functions.filter((f) => /Rotation$/.test(f.declaration.id));
    expect(count(/^edge Secrets Manager .* lambda:InvokeFunction /)).toBe(rotations.length);
    // GuardDuty, CloudWatch Logs and S3 access logging, in every stage.
    expect(count(/^edge GuardDuty → sts:AssumeRole /)).toBe(1);
    expect(
      count(/^edge GuardDuty role → (s3:GetObject|s3:PutObjectTagging|kms:Decrypt) /),
    ).toBeGreaterThanOrEqual(3);
    expect(count(/^edge CloudWatch Logs → /)).toBeGreaterThan(built.functions.length);
    expect(count(/^edge S3 server access logging /)).toBe(2);
    // Where the stage has them: RDS Proxy, SMS MFA, restore tests.
    const config = stageTemplates(stage).config;
    expect(count(/^edge RDS Proxy role → rds-db:connect .*\/citadel_app$/)).toBe(
      config.database.proxy ? 1 : 0,
    );
    expect(count(/^edge Cognito SMS role → sns:Publish/)).toBe(config.identity.mfaSecondFactors.sms ? 1 : 0);
    expect(count(/^edge AWS Backup restore role /)).toBe(config.database.restoreTesting ? 3 : 0);
    const backups = config.database.awsBackup === false ? 0 : 1;
    expect(count(/^edge AWS Backup → sts:AssumeRole /)).toBe(
      backups + (config.database.restoreTesting ? 1 : 0),
    );
  });

  it('names, in each function, the key its bucket encrypts with (the key the simulated S3 calls use)', () => {
    const checked: string[] = [];
    for (const fn of built.functions) {
      for (const [bucketVariable, keyVariable] of [
        ['CITADEL_UPLOADS_BUCKET', 'CITADEL_UPLOADS_KEY_ARN'],
        ['CITADEL_QUARANTINE_BUCKET', 'CITADEL_QUARANTINE_KEY_ARN'],
      ] as const) {
        const key = fn.environment[keyVariable];
        if (key === undefined) continue;
        const bucket = built.resolver.findByRef('AWS::S3::Bucket', fn.environment[bucketVariable] ?? '');
        expect(bucket).toBeDefined();
        const encryption = built.resolver.property(
          bucket?.stack ?? '',
          bucket?.logicalId ?? '',
          'BucketEncryption',
        ) as {
          ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { KMSMasterKeyID: string } }[];
        };
        expect({ fn: fn.declaration.id, key }).toEqual({
          fn: fn.declaration.id,
          key: encryption.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.KMSMasterKeyID,
        });
        checked.push(fn.declaration.id);
      }
    }
    expect(checked).toContain('ScanPipeline');
    expect(checked).toContain('CreateUpload');
  });

  it('connects each function to the database through the proxy where there is one, else the instance', () => {
    const connects = of('call').filter(
      (r) => r.check.request.action === 'rds-db:connect' && r.check.function !== 'RestoreValidation',
    );
    expect(connects.length).toBeGreaterThan(routeList.length - 2);
    const proxy = stageTemplates(stage).config.database.proxy;
    for (const r of connects)
      expect(r.check.request.resource).toMatch(
        proxy ? /:dbuser:prx-[0-9a-f]{17}\/citadel_app$/ : /:dbuser:db-[A-Z0-9]{26}\/citadel_app$/,
      );
  });
});
