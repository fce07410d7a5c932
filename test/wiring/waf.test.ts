/**
 * Citadel's own traffic against the synthesized web ACLs of every stage, offline: the largest legitimate requests
 * must pass every rule of the ACL in front of them, and abuse must still be stopped.
 *
 * The ACLs are evaluated by a small model of the WAF statements Citadel uses (`test/support/wiring/waf-evaluator.ts`)
 * and of the AWS managed rule groups as documented (`waf-managed-rules.ts`, every rule with its source). What the
 * model cannot see: the managed rules' undisclosed signatures beyond their documented limits and examples, rules
 * AWS adds in later versions, the IP reputation lists' contents, and WAF's approximate rate estimation (the model
 * counts exactly; each scenario prints its peak against the limit). See the header of waf-managed-rules.ts.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadStageConfig, type StageName } from '../../lib/config';
import { ALL_STAGES, type CfnTemplate, stageTemplates } from '../support/wiring/stages';
import { mutated, type WafCheckReport, wafChecks } from '../support/wiring/waf-checks';
import { type Json, WebAclModel } from '../support/wiring/waf-evaluator';

/** Each stage's report on its own templates, computed once for the suites and the defects' baseline. */
const reports = new Map<StageName, Promise<WafCheckReport>>();
const reportOf = (stage: StageName): Promise<WafCheckReport> => {
  let report = reports.get(stage);
  if (!report) {
    const { config, templates } = stageTemplates(stage);
    report = wafChecks({ stage, config, templates });
    reports.set(stage, report);
  }
  return report;
};

const aclsOf = (t: CfnTemplate) => Object.values(t.Resources).filter((r) => r.Type === 'AWS::WAFv2::WebACL');
const ruleOf = (acl: { Properties?: Json }, name: string): Json => {
  const rule = acl.Properties?.Rules.find((r: { Name: string }) => r.Name === name);
  if (!rule) throw new Error(`no rule ${name}`);
  return rule;
};
/** The machine API's ACL is the one with a per-key rule. */
const machineAcl = (t: CfnTemplate) =>
  aclsOf(t).find((a) => a.Properties?.Rules.some((r: { Name: string }) => r.Name === 'PerApiKeyRateLimit'));
const publicAcl = (t: CfnTemplate) =>
  aclsOf(t).find((a) => !a.Properties?.Rules.some((r: { Name: string }) => r.Name === 'PerApiKeyRateLimit'));

function print(stage: string, report: WafCheckReport): void {
  const rows = [...report.legitimate.map((r) => ({ ...r, expected: 'all allowed' })), ...report.abuse].map(
    (r) =>
      `  ${r.acl.padEnd(10)} ${String(r.requests).padStart(5)} req ${String(r.blocked.length).padStart(5)} blocked  (expected: ${r.expected})  largest body ${r.largestBody} B  ${Object.entries(
        r.peaks,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}\n    ${r.scenario}`,
  );
  process.stdout.write(`WAF ${stage}\n${rows.join('\n')}\n`);
}

describe.each(ALL_STAGES)('%s web ACLs', (stage) => {
  let report: WafCheckReport;
  beforeAll(async () => {
    report = await reportOf(stage);
    print(stage, report);
  }, 120_000);

  it('put one web ACL in front of each API stage and the user pool, through AWS::WAFv2::WebACLAssociation', () => {
    expect(report.problems.filter((p) => !p.startsWith('legitimate') && !p.startsWith('abuse'))).toEqual([]);
    // The browser scenario runs once per allowed origin.
    const browsers = loadStageConfig(stage).api.corsOrigins.map(() => 'publicApi');
    expect(report.legitimate.map((r) => r.acl).sort()).toEqual(
      [
        'machineApi',
        'machineApi',
        'publicApi',
        'publicApi',
        ...browsers,
        'userPool',
        'userPool',
        'userPool',
      ].sort(),
    );
  });

  it("let Citadel's largest legitimate requests through every rule", () => {
    for (const r of report.legitimate) {
      expect({ scenario: r.scenario, blocked: r.blocked.slice(0, 3) }).toEqual({
        scenario: r.scenario,
        blocked: [],
      });
      expect(r.requests).toBeGreaterThan(0);
    }
    const config = loadStageConfig(stage);
    // The complete call names every part of the largest upload: well over the core rule set's 8 KiB.
    const upload = report.legitimate.find((r) => r.scenario.startsWith('largest upload through'));
    expect(upload?.largestBody).toBeGreaterThan(8192);
    // The premium tier's burst plus a minute at full rate reaches the per-key rule's count, under its limit.
    const premium = report.legitimate.find((r) => r.scenario.startsWith('premium'));
    const tier = config.api.usagePlans.premium;
    expect(premium?.requests).toBe((tier?.burstLimit ?? 0) + (tier?.rateLimit ?? 0) * 180);
    expect(premium?.peaks.PerApiKeyRateLimit).toMatch(/^12[34]\d\/1500 per 60 s$/);
    // Refreshes are never counted as sign-ins; the sign-ins are.
    const office = report.legitimate.find((r) => r.scenario.startsWith('office of'));
    expect(office?.peaks.SignInRateLimit).toMatch(/^7\/10 per 600 s$/);
    // Recoveries count on their own rule: five attempts in ten minutes, under the sign-in tier.
    const recoveries = report.legitimate.find((r) => r.scenario.startsWith('office recoveries'));
    expect(recoveries?.peaks.RecoveryRateLimit).toBe('5/10 per 600 s');
    // Verifying a texted or emailed code counts as a sign-in attempt; refreshes beside it do not.
    const enrolment = report.legitimate.find((r) => r.scenario.startsWith('factor enrolment'));
    expect(enrolment?.peaks.SignInRateLimit).toBe('3/10 per 600 s');
  });

  it('still stop password guessing, oversize bodies and one address hammering an API', () => {
    expect(report.problems).toEqual([]);
    expect(report.abuse.length).toBeGreaterThanOrEqual(10);
  });
});

describe('the WAF checks fail on the defects they target', () => {
  const prod = () => stageTemplates('prod');
  /** The problems the checks report on prod's templates with `change` applied (printed, for the record). */
  const problemsWith = async (suffix: 'Api' | 'Identity', change: (t: CfnTemplate) => void) => {
    const { config, templates } = prod();
    const { problems } = await wafChecks({
      stage: 'prod',
      config,
      templates: mutated(templates, `-${suffix}`, change),
    });
    process.stdout.write(
      `WAF defect: ${expect.getState().currentTestName}\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    return problems;
  };
  const refused = (overrides: (c: Json) => Json): string => {
    try {
      loadStageConfig('prod', { overrides });
      return '';
    } catch (e) {
      process.stdout.write(`WAF defect: ${expect.getState().currentTestName}\n${(e as Error).message}\n`);
      return (e as Error).message;
    }
  };

  it('passes the unmutated templates (the baseline the defects are measured against)', async () => {
    expect((await reportOf('prod')).problems).toEqual([]);
  }, 60_000);

  describe('1. the core rule set blocks the complete call of large uploads', () => {
    it('reports the core rule set blocking it when SizeRestrictions_BODY is not overridden', async () => {
      const problems = await problemsWith('Api', (t) => {
        for (const acl of aclsOf(t))
          delete ruleOf(acl, 'AWSManagedRulesCommonRuleSet').Statement.ManagedRuleGroupStatement
            .RuleActionOverrides;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^legitimate traffic blocked: largest upload through .*AWSManagedRulesCommonRuleSet:SizeRestrictions_BODY \(.*\); first: POST \/prod\/v1\/uploads\/.*\/complete/,
        ),
      );
      expect(problems).toContainEqual(
        expect.stringMatching(/^legitimate traffic blocked: largest upload by a machine client/),
      );
    });

    it('reports the complete call blocked when the body rule exempts no route', async () => {
      const problems = await problemsWith('Api', (t) => {
        for (const acl of aclsOf(t))
          ruleOf(acl, 'BodyOverCoreRuleSetLimit').Statement = ruleOf(
            acl,
            'BodyOverCoreRuleSetLimit',
          ).Statement.AndStatement.Statements[0];
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^legitimate traffic blocked: largest upload through .* by BodyOverCoreRuleSetLimit/,
        ),
      );
    });

    it('reports the complete call blocked when WAF inspects only the default 16 KB (oversize matches)', async () => {
      const problems = await problemsWith('Api', (t) => {
        for (const acl of aclsOf(t)) delete acl.Properties?.AssociationConfig;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(/^legitimate traffic blocked: largest upload through .* by BodyOverApiLimit/),
      );
    });

    it('reports oversize bodies let through when the 64 KiB rule cannot see 64 KiB and continues', async () => {
      const problems = await problemsWith('Api', (t) => {
        for (const acl of aclsOf(t)) {
          delete acl.Properties?.AssociationConfig;
          ruleOf(
            acl,
            'BodyOverApiLimit',
          ).Statement.SizeConstraintStatement.FieldToMatch.Body.OversizeHandling = 'CONTINUE';
        }
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^abuse not stopped as expected: complete body over the API limit \(publicApi\): expected 2 blocked by BodyOverApiLimit \(413\); got none blocked/,
        ),
      );
    });

    it('lets a stage allow uploads whose complete call could not name every ETag: the client leaves them out', async () => {
      const { config, templates } = prod();
      const huge = { ...config, uploads: { ...config.uploads, maxUploadBytes: 16 * 1024 ** 3 } };
      expect(refused((c) => ({ ...c, uploads: { ...c.uploads, maxUploadBytes: 16 * 1024 ** 3 } }))).toBe('');
      const report = await wafChecks({ stage: 'prod', config: huge, templates });
      const uploads = report.legitimate.filter((r) => r.scenario.includes('largest upload'));
      expect(uploads.length).toBeGreaterThanOrEqual(2);
      for (const r of uploads)
        expect({ scenario: r.scenario, blocked: r.blocked }).toEqual({ scenario: r.scenario, blocked: [] });
    }, 60_000);
  });

  describe('2. the per-key rule defeats the usage-plan tiers', () => {
    it('reports the premium tier blocked by the seed-era per-key rule (10 per 600 s)', async () => {
      const problems = await problemsWith('Api', (t) => {
        const rule = ruleOf(machineAcl(t) as Json, 'PerApiKeyRateLimit');
        rule.Statement.RateBasedStatement.Limit = 10;
        rule.Statement.RateBasedStatement.EvaluationWindowSec = 600;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^legitimate traffic blocked: premium tier .* by PerApiKeyRateLimit \(.*\); first: premium burst at 0.0 s \(429\)/,
        ),
      );
    });

    it('reports the premium tier blocked by a per-IP rule at the public API rate (100 per 60 s)', async () => {
      const problems = await problemsWith('Api', (t) => {
        ruleOf(machineAcl(t) as Json, 'PerIpRateLimit').Statement.RateBasedStatement.Limit = 100;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(/^legitimate traffic blocked: premium tier .* by PerIpRateLimit/),
      );
    });

    it('reports made-up keys getting through when the machine API has no per-IP rule', async () => {
      const problems = await problemsWith('Api', (t) => {
        const acl = machineAcl(t) as Json;
        acl.Properties.Rules = acl.Properties.Rules.filter(
          (r: { Name: string }) => r.Name !== 'PerIpRateLimit',
        );
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^abuse not stopped as expected: one address hammering the machine API with made-up keys/,
        ),
      );
    });

    it('refuses WAF limits below what the premium tier may send', () => {
      const message = refused((c) => ({
        ...c,
        api: {
          ...c.api,
          perApiKeyRateLimit: { limit: 10, windowSeconds: 600 },
          machinePerIpRateLimit: { limit: 100, windowSeconds: 60 },
        },
      }));
      expect(message).toMatch(
        /api\.perApiKeyRateLimit\.limit: the premium tier may send 12040 requests per 600 s \(20 rps × 600 s \+ burst 40\)/,
      );
      expect(message).toMatch(
        /api\.machinePerIpRateLimit\.limit: the premium tier may send 1240 requests per 60 s/,
      );
    });
  });

  describe('3. the sign-in rule counts token refreshes', () => {
    /** The seed's scope-down: the managed-login and OAuth paths, InitiateAuth and RespondToAuthChallenge. */
    const seedScopeDown = {
      OrStatement: {
        Statements: [
          ...['/login', '/oauth2/token', '/oauth2/authorize'].map((p) => ({
            ByteMatchStatement: {
              FieldToMatch: { UriPath: {} },
              PositionalConstraint: 'STARTS_WITH',
              SearchString: p,
              TextTransformations: [
                { Priority: 0, Type: 'NORMALIZE_PATH' },
                { Priority: 1, Type: 'LOWERCASE' },
              ],
            },
          })),
          ...['InitiateAuth', 'RespondToAuthChallenge'].map((op) => ({
            ByteMatchStatement: {
              FieldToMatch: { SingleHeader: { Name: 'x-amz-target' } },
              PositionalConstraint: 'EXACTLY',
              SearchString: `AWSCognitoIdentityProviderService.${op}`,
              TextTransformations: [{ Priority: 0, Type: 'NONE' }],
            },
          })),
        ],
      },
    };

    it("reports the office locked out with the seed's scope-down", async () => {
      const problems = await problemsWith('Identity', (t) => {
        ruleOf(aclsOf(t)[0] as Json, 'SignInRateLimit').Statement.RateBasedStatement.ScopeDownStatement =
          seedScopeDown;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^legitimate traffic blocked: office of 100 .* by SignInRateLimit \(refresh: POST \/oauth2\/token grant_type=refresh_token ×\d+/,
        ),
      );
    });

    it('reports machine clients locked out when client credentials count as sign-ins (no scope-down)', async () => {
      const problems = await problemsWith('Identity', (t) => {
        delete ruleOf(aclsOf(t)[0] as Json, 'SignInRateLimit').Statement.RateBasedStatement
          .ScopeDownStatement;
      });
      expect(problems).toContainEqual(
        expect.stringMatching(/^legitimate traffic blocked: 20 machine clients .* by SignInRateLimit/),
      );
    });

    it('reports password guesses dressed as refreshes getting through if unparsable bodies counted as refreshes', async () => {
      const problems = await problemsWith('Identity', (t) => {
        const text = JSON.stringify(ruleOf(aclsOf(t)[0] as Json, 'SignInRateLimit')).replaceAll(
          '"InvalidFallbackBehavior":"NO_MATCH"',
          '"InvalidFallbackBehavior":"MATCH"',
        );
        const acl = aclsOf(t)[0] as Json;
        acl.Properties.Rules = acl.Properties.Rules.map((r: { Name: string }) =>
          r.Name === 'SignInRateLimit' ? JSON.parse(text) : r,
        );
      });
      expect(problems).toEqual([
        expect.stringMatching(
          /^abuse not stopped as expected: password guesses dressed as refreshes .* got none blocked/,
        ),
      ]);
    });

    it('reports password guessing let through without the sign-in rule', async () => {
      const problems = await problemsWith('Identity', (t) => {
        const acl = aclsOf(t)[0] as Json;
        acl.Properties.Rules = acl.Properties.Rules.filter(
          (r: { Name: string }) => r.Name !== 'SignInRateLimit',
        );
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^abuse not stopped as expected: password guessing: 20 POST \/login .* got none blocked/,
        ),
      );
    });

    it('refuses a client-credentials limit no higher than the sign-in limit', () => {
      const message = refused((c) => ({
        ...c,
        identity: { ...c.identity, clientCredentialsRateLimit: { limit: 10, windowSeconds: 600 } },
      }));
      expect(message).toMatch(
        /identity\.clientCredentialsRateLimit: must allow a higher rate than signInRateLimit/,
      );
    });
  });

  describe('5. account recovery is not rate-limited', () => {
    it('reports recovery guessing let through without the recovery rule on the public API', async () => {
      const problems = await problemsWith('Api', (t) => {
        const acl = publicAcl(t) as Json;
        acl.Properties.Rules = acl.Properties.Rules.filter(
          (r: { Name: string }) => r.Name !== 'RecoveryRateLimit',
        );
      });
      expect(problems).toEqual([
        expect.stringMatching(
          /^abuse not stopped as expected: recovery guessing through the API: 20 POST \/v1\/auth\/recover .* got none blocked/,
        ),
      ]);
    });

    it('reports re-spelled guesses slipping past a rule that matches the path as sent', async () => {
      const problems = await problemsWith('Api', (t) => {
        const rule = ruleOf(publicAcl(t) as Json, 'RecoveryRateLimit');
        for (const s of rule.Statement.RateBasedStatement.ScopeDownStatement.AndStatement.Statements)
          if (s.RegexMatchStatement)
            s.RegexMatchStatement.TextTransformations = [{ Priority: 0, Type: 'NONE' }];
      });
      expect(problems).toEqual([
        // The ten re-spelled guesses are not counted, so the ten plain ones stay within the limit.
        expect.stringMatching(
          /^abuse not stopped as expected: recovery guessing .* expected 10 blocked by RecoveryRateLimit \(429\); got none blocked/,
        ),
      ]);
    });
  });

  describe('4. web ACL association right after the ACL is created', () => {
    it('reports a one-shot custom resource in place of AWS::WAFv2::WebACLAssociation', async () => {
      const problems = await problemsWith('Identity', (t) => {
        for (const [id, r] of Object.entries(t.Resources)) {
          if (r.Type !== 'AWS::WAFv2::WebACLAssociation') continue;
          (t.Resources as Record<string, Json>)[id] = {
            Type: 'Custom::AWS',
            Properties: {
              Create: JSON.stringify({
                service: 'WAFV2',
                action: 'AssociateWebACL',
                parameters: r.Properties,
              }),
            },
          };
        }
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /: a custom resource calls AssociateWebACL, once; .*WAFUnavailableEntityException/,
        ),
      );
      expect(problems).toContainEqual(
        'userPool: no AWS::WAFv2::WebACLAssociation puts a web ACL in front of it.',
      );
    });

    it('reports an association that names its ACL without Fn::GetAtt (no ordering after the ACL)', async () => {
      const problems = await problemsWith('Api', (t) => {
        for (const r of Object.values(t.Resources)) {
          if (r.Type === 'AWS::WAFv2::WebACLAssociation')
            (r.Properties as Json).WebACLArn =
              'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/citadel/abc';
        }
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /names its web ACL by "arn:aws:wafv2:.*", not Fn::GetAtt of a web ACL in the same stack/,
        ),
      );
      expect(problems).toContainEqual(
        'publicApi: no AWS::WAFv2::WebACLAssociation puts a web ACL in front of it.',
      );
    });
  });

  describe('5. browsers cannot read the errors WAF and API Gateway make', () => {
    /** The problems on dev's templates (two origins) with `change` applied to its Api stack. */
    const devProblems = async (change: (t: CfnTemplate) => void) => {
      const { config, templates } = stageTemplates('dev');
      const { problems } = await wafChecks({
        stage: 'dev',
        config,
        templates: mutated(templates, '-Api', change),
      });
      process.stdout.write(
        `WAF defect: ${expect.getState().currentTestName}\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
      );
      return problems;
    };
    const rulesOf = (t: CfnTemplate) => (publicAcl(t) as Json).Properties;

    it('passes dev unmutated (two origins)', async () => {
      expect(await devProblems(() => undefined)).toEqual([]);
    });

    it("reports API Gateway's errors unreadable from the second origin with the old single static origin", async () => {
      const problems = await devProblems((t) => {
        for (const r of Object.values(t.Resources)) {
          const params = (r.Properties as Json)?.ResponseParameters;
          if (
            r.Type === 'AWS::ApiGateway::GatewayResponse' &&
            params?.['gatewayresponse.header.Access-Control-Allow-Origin']
          )
            params['gatewayresponse.header.Access-Control-Allow-Origin'] = "'http://localhost:5173'";
        }
      });
      expect(problems).toEqual([
        "a page on http://127.0.0.1:5173 cannot read API Gateway's errors all 20 (DEFAULT_4XX, DEFAULT_5XX, BAD_REQUEST_BODY, …): Access-Control-Allow-Origin is http://localhost:5173",
      ]);
    });

    it("reports WAF's 429 and 413 unreadable in a browser without the per-origin answers", async () => {
      const problems = await devProblems((t) => {
        rulesOf(t).Rules = rulesOf(t).Rules.filter((r: { Name: string }) => !/-Origin\d+$/.test(r.Name));
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^a page on http:\/\/127\.0\.0\.1:5173 cannot read WAF's 429 \(PerIpRateLimit-Refused\): Access-Control-Allow-Origin is absent; the browser reports "Failed to fetch" \(100 of 100/,
        ),
      );
      expect(problems).toContainEqual(
        expect.stringMatching(/^a page on http:\/\/localhost:5173 cannot read WAF's 413/),
      );
    });

    it('reports a 429 whose Retry-After a page cannot read (not exposed)', async () => {
      const problems = await devProblems((t) => {
        for (const r of rulesOf(t).Rules)
          if (r.Action?.Block?.CustomResponse)
            r.Action.Block.CustomResponse.ResponseHeaders =
              r.Action.Block.CustomResponse.ResponseHeaders.filter(
                (h: { Name: string }) => h.Name !== 'Access-Control-Expose-Headers',
              );
      });
      expect(problems).toContainEqual(
        "a page on http://localhost:5173 cannot honour WAF's Retry-After: it is missing or not exposed (Access-Control-Expose-Headers) on 100 429s",
      );
    });

    it("reports pages on any origin reading API Gateway's errors without the foreign-origin rule", async () => {
      const problems = await devProblems((t) => {
        rulesOf(t).Rules = rulesOf(t).Rules.filter((r: { Name: string }) => r.Name !== 'ForeignOrigin');
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^6 of 6 pages on origins the stage does not list pass WAF \(https:\/\/attacker\.example, /,
        ),
      );
      expect(problems).toContainEqual(
        "a page on https://attacker.example, an origin the stage does not list, can read API Gateway's errors all 20 (DEFAULT_4XX, DEFAULT_5XX, BAD_REQUEST_BODY, …)",
      );
    });

    it('reports machine clients (no Origin) refused when the foreign-origin rule does not require an Origin', async () => {
      const problems = await devProblems((t) => {
        const rule = rulesOf(t).Rules.find((r: { Name: string }) => r.Name === 'ForeignOrigin');
        rule.Statement = rule.Statement.AndStatement.Statements[1];
      });
      expect(problems).toContainEqual(
        expect.stringMatching(
          /^legitimate traffic blocked: largest upload through the client library .* by ForeignOrigin/,
        ),
      );
    });
  });

  it('refuses to evaluate an ACL using a managed rule group the model has no documented table for', async () => {
    const { config, templates } = prod();
    const changed = mutated(templates, '-Api', (t) => {
      const acl = publicAcl(t) as Json;
      acl.Properties.Rules.push({
        ...ruleOf(acl, 'AWSManagedRulesKnownBadInputsRuleSet'),
        Name: 'SQLi',
        Priority: 99,
        Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesSQLiRuleSet' } },
      });
    });
    await expect(wafChecks({ stage: 'prod', config, templates: changed })).rejects.toThrow(
      /no model of managed rule group AWS\/AWSManagedRulesSQLiRuleSet: add its documented rules/,
    );
  });
});

describe('the WAF model', () => {
  const acl = (statement: Json, extra: Json = {}) => ({
    Scope: 'REGIONAL',
    DefaultAction: { Allow: {} },
    Rules: [{ Name: 'R', Priority: 0, Action: { Block: {} }, Statement: statement, VisibilityConfig: {} }],
    ...extra,
  });
  const request = (body: string) => ({
    at: 0,
    ip: '192.0.2.1',
    method: 'POST',
    path: '/',
    headers: { 'user-agent': 'x' },
    body,
    what: 't',
  });

  it('refuses regexes WAF refuses (capturing groups)', () => {
    const model = new WebAclModel(
      't',
      acl({
        RegexMatchStatement: {
          FieldToMatch: { UriPath: {} },
          RegexString: '^/(a|b)$',
          TextTransformations: [{ Priority: 0, Type: 'NONE' }],
        },
      }),
      'API_GATEWAY',
    );
    expect(() => model.evaluate(request(''))).toThrow(/capturing groups/);
  });

  it('treats a JSON body with duplicate keys as unparsable (its fallback decides)', () => {
    const statement = (fallback: string) => ({
      ByteMatchStatement: {
        FieldToMatch: {
          JsonBody: {
            MatchPattern: { IncludedPaths: ['/a'] },
            MatchScope: 'VALUE',
            InvalidFallbackBehavior: fallback,
            OversizeHandling: 'NO_MATCH',
          },
        },
        PositionalConstraint: 'EXACTLY',
        SearchString: 'x',
        TextTransformations: [{ Priority: 0, Type: 'NONE' }],
      },
    });
    expect(
      new WebAclModel('t', acl(statement('NO_MATCH')), 'API_GATEWAY').evaluate(request('{"a":"x"}')).action,
    ).toBe('BLOCK');
    expect(
      new WebAclModel('t', acl(statement('NO_MATCH')), 'API_GATEWAY').evaluate(request('{"a":"x","a":"y"}'))
        .action,
    ).toBe('ALLOW');
    expect(
      new WebAclModel('t', acl(statement('MATCH')), 'API_GATEWAY').evaluate(request('{"a":"y","a":"y"}'))
        .action,
    ).toBe('BLOCK');
  });

  it('sees only the inspection limit of a body; oversize handling decides beyond it', () => {
    const size = (handling: string) => ({
      SizeConstraintStatement: {
        FieldToMatch: { Body: { OversizeHandling: handling } },
        ComparisonOperator: 'GT',
        Size: 20_000,
        TextTransformations: [{ Priority: 0, Type: 'NONE' }],
      },
    });
    const big = request('a'.repeat(30_000));
    expect(new WebAclModel('t', acl(size('CONTINUE')), 'API_GATEWAY').evaluate(big).action).toBe('ALLOW');
    expect(new WebAclModel('t', acl(size('MATCH')), 'API_GATEWAY').evaluate(big).action).toBe('BLOCK');
    const raised = acl(size('CONTINUE'), {
      AssociationConfig: { RequestBody: { API_GATEWAY: { DefaultSizeInspectionLimit: 'KB_32' } } },
    });
    expect(new WebAclModel('t', raised, 'API_GATEWAY').evaluate(big).action).toBe('BLOCK');
    expect(new WebAclModel('t', raised, 'COGNITO_USER_POOL').evaluate(big).action).toBe('ALLOW');
  });
});
