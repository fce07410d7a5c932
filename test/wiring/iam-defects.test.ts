/**
 * Each IAM wiring check fails on the defect it targets: the templates are mutated the way a regression would,
 * and the simulation must then report exactly the affected requests (an allowed call now denied, or a deny
 * now allowed), and nothing else.
 */
import { describe, expect, it } from '@jest/globals';
import type { StageName } from '../../lib/config';
import { evaluate, unusedGrants, wiringChecks } from '../support/wiring/iam-checks';
import type { CfnTemplate, StageTemplates } from '../support/wiring/stages';
import { stageTemplates } from '../support/wiring/stages';

type Templates = Record<string, CfnTemplate>;

/** Runs every check of `stage` on a mutated copy of its templates; returns what now differs from expectations. */
async function changedBy(
  stage: StageName,
  mutate: (templates: Templates, names: Record<string, string>) => void,
) {
  const original = stageTemplates(stage);
  const templates = structuredClone(original.templates) as Templates;
  mutate(templates, original.stackNames as Record<string, string>);
  const built = wiringChecks({ ...original, templates } as StageTemplates);
  const results = await evaluate(built.checks);
  return {
    ids: built.checks.map((c) => c.id),
    unused: unusedGrants(built, results),
    changed: Object.fromEntries(
      results.filter((r) => r.result !== r.check.expect).map((r) => [r.check.id, r.result]),
    ),
  };
}

/** The one resource of `template` whose logical id is `prefix` followed by CDK's hash. */
// biome-ignore lint/suspicious/noExplicitAny: template properties are arbitrary JSON, mutated in place.
type Props = Record<string, any>;

function resource(template: CfnTemplate | undefined, prefix: string): [string, { Properties: Props }] {
  const found = Object.entries(template?.Resources ?? {}).filter(([id]) =>
    new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
  );
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0] as [string, { Properties: Props }];
}

const statements = (document: { Statement: Record<string, unknown>[] }) => document.Statement;

describe('IAM wiring checks fail on the defects they target', () => {
  it.each(['staging', 'prod'] as const)(
    '%s: RDS Proxy role without its policy: only the proxy’s rds-db:connect is denied',
    async (stage) => {
      const { ids, changed } = await changedBy(stage, (t, names) => {
        const [policyId] = resource(t[names.Data as string], 'ProxyRoleDefaultPolicy');
        delete t[names.Data as string]?.Resources[policyId];
      });
      const target = ids.filter((id) => /^edge RDS Proxy role → rds-db:connect /.test(id));
      expect(target).toHaveLength(1);
      expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
    },
  );

  it('dead-letter key without the statement for events.amazonaws.com: only EventBridge’s dead letters are refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, key] = resource(t[names.Api as string], 'DeadLettersKey');
      const policy = key.Properties.KeyPolicy;
      policy.Statement = statements(policy).filter(
        (s) => s.Sid !== 'EventBridgeRulesOfThisStackSendDeadLetters',
      );
    });
    const target = ids.filter((id) =>
      /^edge EventBridge .* → kms:(GenerateDataKey|Decrypt) .*Citadel-prod-Api-/.test(id),
    );
    expect(target.length).toBe(8); // 4 rules × (GenerateDataKey, Decrypt)
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });

  it('an async function without its grant on the dead-letter key: only its dead letters are refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, policy] = resource(t[names.Api as string], 'ExpireApiKeysRoleDefaultPolicy');
      const document = policy.Properties.PolicyDocument;
      document.Statement = statements(document).filter(
        (s) => !JSON.stringify(s.Resource).includes('DeadLettersKey'),
      );
    });
    const target = ids.filter((id) => /^edge Lambda \(ExpireApiKeys\) → kms:/.test(id));
    expect(target).toHaveLength(2);
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });

  it('a schedule without its Lambda permission: only that invocation is refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const api = t[names.Api as string] as CfnTemplate;
      const [permission] = Object.keys(api.Resources).filter((id) =>
        id.startsWith('ExpireUploadsScheduleAllowEventRule'),
      );
      delete api.Resources[permission as string];
    });
    const target = ids.filter((id) =>
      /^edge EventBridge ExpireUploadsSchedule[0-9A-F]{8} → lambda:InvokeFunction /.test(id),
    );
    expect(target).toHaveLength(1);
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });

  it('a route without its API Gateway permission: only that API’s invocation is refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const api = t[names.Api as string] as CfnTemplate;
      const permissions = Object.keys(api.Resources).filter((id) =>
        /^PublicRestApiv1healthGETApiPermissionCitadel/.test(id),
      );
      expect(permissions).toHaveLength(1);
      delete api.Resources[permissions[0] as string];
    });
    const target = ids.filter((id) =>
      /^edge API Gateway \S+ GET \/v1\/health → lambda:InvokeFunction /.test(id),
    );
    expect(target).toHaveLength(2); // public and machine APIs
    const publicApi = Object.keys(changed);
    expect(publicApi).toHaveLength(1);
    expect(target).toContain(publicApi[0]);
    expect(Object.values(changed)).toEqual(['ImplicitlyDenied']);
  });

  it('quarantine without its read deny: the administrator reads it, and every other refusal loses its explicit deny', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, policy] = resource(t[names.Storage as string], 'UploadsQuarantinePolicy');
      const document = policy.Properties.PolicyDocument;
      document.Statement = statements(document).filter((s) => s.Sid !== 'DenyReadsExceptBreakGlass');
    });
    const target = ids.filter((id) =>
      /^deny .* → s3:GetObject arn:aws:s3:::citadel-prod-storage-uploadsquarantine/.test(id),
    );
    expect(target.length).toBeGreaterThan(20);
    expect(Object.keys(changed).sort()).toEqual([...target].sort());
    const administrator = target.filter((id) => id.includes('(s3:* on *)'));
    expect(administrator).toHaveLength(1);
    expect(changed[administrator[0] as string]).toBe('Allowed');
    for (const id of target.filter((i) => !administrator.includes(i)))
      expect(changed[id]).toBe('ImplicitlyDenied');
  });

  it('the logs key narrowed to another account’s log groups: CloudWatch Logs can no longer encrypt (encryption context is evaluated)', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, key] = resource(t[names.Network as string], 'LogsKey');
      const document = JSON.stringify(key.Properties.KeyPolicy).replaceAll(
        '"kms:EncryptionContext:aws:logs:arn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":logs:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},',
        '"kms:EncryptionContext:aws:logs:arn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":logs:",{"Ref":"AWS::Region"},":","444455556666",',
      );
      expect(document).toContain('444455556666');
      key.Properties.KeyPolicy = JSON.parse(document);
    });
    const target = ids.filter((id) => id.startsWith('edge CloudWatch Logs → '));
    expect(target.length).toBeGreaterThan(30);
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });

  it('the scan role no longer exempt from the scan gate: only its reads of unscanned uploads are refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, policy] = resource(t[names.Storage as string], 'UploadsBucketPolicy');
      const gate = statements(policy.Properties.PolicyDocument).find(
        (s) => s.Sid === 'DenyReadsUntilScannedClean',
      ) as {
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': unknown[] } };
      };
      gate.Condition.ArnNotEquals['aws:PrincipalArn'] = gate.Condition.ArnNotEquals['aws:PrincipalArn'].slice(
        0,
        1,
      );
    });
    const target = ids.filter((id) => /^call ScanPipeline · S3 \w+ · s3:GetObject(Version)? /.test(id));
    expect(target.length).toBe(6); // GetObject, and the CopyObject and UploadPartCopy sources (version or current)
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ExplicitlyDenied'])));
  });

  it('the uploads key no longer trusting the account: IAM grants alone do not let anyone use it', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, key] = resource(t[names.Storage as string], 'UploadsKey');
      const policy = key.Properties.KeyPolicy;
      // The key policy keeps only statements for named principals; none trusts the account any more.
      policy.Statement = statements(policy).filter((s) => !JSON.stringify(s.Principal).includes(':root'));
      expect(policy.Statement).toEqual([]);
      policy.Statement = [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:role/key-admin' },
          Action: 'kms:*',
          Resource: '*',
        },
      ];
    });
    const uploadsKey = /key\/[0-9a-f-]{36}/.exec(
      ids.find((id) => id.startsWith('call CreateUpload · S3 CreateMultipartUpload · kms:GenerateDataKey')) ??
        '',
    )?.[0] as string;
    const target = ids.filter(
      (id) => /^(call|edge) /.test(id) && id.includes(`arn:aws:kms:eu-west-1:111122223333:${uploadsKey}`),
    );
    expect(target.length).toBeGreaterThan(15);
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });

  it('a grant no declared call uses is reported', async () => {
    const { unused, changed } = await changedBy('prod', (t, names) => {
      const [, policy] = resource(t[names.Api as string], 'GetHealthRoleDefaultPolicy');
      statements(policy.Properties.PolicyDocument).push({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
      });
    });
    expect(changed).toEqual({});
    expect(unused.filter((u) => u.startsWith('GetHealth:'))).toEqual([
      expect.stringMatching(
        /^GetHealth: s3:GetObject \(Citadel-prod-Api\/GetHealthRoleDefaultPolicy[0-9A-F]{8}#\d\)$/,
      ),
    ]);
  });

  it('the recovery notice sent as another address: only the recovery control function’s SendEmail is refused', async () => {
    const { ids, changed } = await changedBy('prod', (t, names) => {
      const [, policy] = resource(t[names.Api as string], 'RecoveryControlRoleDefaultPolicy');
      const ses = statements(policy.Properties.PolicyDocument).find(
        (st) => st.Action === 'ses:SendEmail',
      ) as Props;
      ses.Condition = { StringEquals: { 'ses:FromAddress': 'someone-else@citadel.example.com' } };
    });
    const target = ids.filter((id) => /^call RecoveryControl .*ses:SendEmail /.test(id));
    expect(target).toHaveLength(2);
    expect(changed).toEqual(Object.fromEntries(target.map((id) => [id, 'ImplicitlyDenied'])));
  });
});
