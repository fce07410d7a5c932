import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  aws_cognito as cognito,
  Duration,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  Stack,
} from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { MAX_JSON_BODY_BYTES, SECURITY_HEADERS } from '../../contract/http';
import type { RouteDefinition } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { loadStageConfig } from '../../lib/config';
import { CitadelRestApi, MAX_INTEGRATION_SECONDS } from '../../lib/constructs/citadel-rest-api';
import { RegionalWebAcl, routePathPattern } from '../../lib/constructs/regional-web-acl';
import { bodyLimits, scanTimeout } from '../../lib/stacks/api-stack';
import { synthStage, testApp } from '../support/cdk';

let dev: Template;
let prod: Template;

beforeAll(() => {
  dev = synthStage('dev').templates.api;
  prod = synthStage('prod').templates.api;
});

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read field by field and asserted on.
type Json = any;
const quoted = (v: string) => `'${v.replace(/'/g, "\\'")}'`;

describe('Api stack', () => {
  it('is a regional REST API whose stage traces, throttles and logs JSON access logs without bodies', () => {
    dev.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    dev.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          DataTraceEnabled: false,
          LoggingLevel: 'ERROR',
          MetricsEnabled: true,
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        }),
      ]),
    });
    const stage = Object.values(dev.findResources('AWS::ApiGateway::Stage'))[0];
    const format = JSON.parse(stage?.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      principal: '$context.authorizer.claims.sub',
      ip: '$context.identity.sourceIp',
      route: '$context.resourcePath',
      status: '$context.status',
      latencyMs: '$context.responseLatency',
    });
  });

  it('encrypts access logs with the platform key and keeps them per stage', () => {
    dev.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 14 });
    prod.hasResource('AWS::Logs::LogGroup', {
      Properties: Match.objectLike({ RetentionInDays: 365 }),
      DeletionPolicy: 'Retain',
    });
  });

  it('builds one Lambda method per route of the route table, public only where declared', () => {
    for (const route of routeList) {
      dev.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: route.method,
        OperationName: route.operationId,
        AuthorizationType: route.auth.kind === 'public' ? 'NONE' : 'COGNITO_USER_POOLS',
        AuthorizationScopes:
          route.auth.kind === 'public' ? Match.absent() : route.auth.scopes.map((sc) => `citadel/${sc}`),
        AuthorizerId: route.auth.kind === 'public' ? Match.absent() : Match.anyValue(),
        Integration: Match.objectLike({ Type: 'AWS_PROXY' }),
      });
    }
    // One per route, plus four control functions (API keys, app clients, MFA, recovery), the key- and upload-expiry
    // jobs and the scan pipeline.
    dev.resourceCountIs('AWS::Lambda::Function', routeList.length + 7);
  });

  it('answers undeclared methods with a 405 problem from a mock, not a Lambda', () => {
    dev.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'ANY',
      Integration: Match.objectLike({
        Type: 'MOCK',
        IntegrationResponses: [
          Match.objectLike({
            StatusCode: '405',
            ResponseParameters: Match.objectLike({
              'method.response.header.Allow': "'GET, OPTIONS'",
              'method.response.header.Content-Type': "'application/problem+json'",
              'method.response.header.Content-Security-Policy': quoted(
                SECURITY_HEADERS['Content-Security-Policy'],
              ),
            }),
          }),
        ],
      }),
    });
  });

  it("gives API Gateway's own errors problem+json bodies with the request id and every security header", () => {
    const headers = Object.fromEntries(
      Object.entries(SECURITY_HEADERS).map(([k, v]) => [`gatewayresponse.header.${k}`, quoted(v)]),
    );
    for (const [type, status] of [
      ['DEFAULT_4XX', '400'],
      ['DEFAULT_5XX', '500'],
      ['MISSING_AUTHENTICATION_TOKEN', '404'],
      ['UNAUTHORIZED', '401'],
      ['ACCESS_DENIED', '403'],
      ['THROTTLED', '429'],
      ['WAF_FILTERED', '403'],
      ['BAD_REQUEST_BODY', '400'],
    ]) {
      dev.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseParameters: Match.objectLike({
          ...headers,
          'gatewayresponse.header.Content-Type': "'application/problem+json'",
        }),
        ResponseTemplates: {
          'application/json': Match.stringLikeRegexp(
            `"status":${status},.*"instance":"\\$context\\.requestId"`,
          ),
        },
      });
    }
  });

  it('runs handlers the house way: arm64, Node 24, in the VPC, KMS-encrypted logs, Powertools env', () => {
    dev.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() }),
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'citadel-getHealth',
          POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
          POWERTOOLS_LOGGER_LOG_EVENT: 'false',
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
          CITADEL_STAGE: 'dev',
          CITADEL_VERSION: '1.2.3',
          CITADEL_CORS_ORIGINS: 'http://localhost:5173,http://127.0.0.1:5173',
        }),
      },
    });
    // No AWSLambdaBasicExecutionRole: each function may write only its own log group.
    const roles = JSON.stringify(dev.findResources('AWS::IAM::Role'));
    expect(roles).not.toContain('AWSLambdaBasicExecutionRole');
  });

  it('protects the stage with a WAF web ACL: managed rules, a per-IP rate rule, logging with redaction', () => {
    dev.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' },
          },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' },
          },
        }),
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesAmazonIpReputationList' },
          },
        }),
        // Counted and labelled, then answered by the rules after it (per browser origin, see below).
        Match.objectLike({
          Name: 'PerIpRateLimit',
          Statement: { RateBasedStatement: { Limit: 100, EvaluationWindowSec: 60, AggregateKeyType: 'IP' } },
          Action: { Count: {} },
          RuleLabels: [{ Name: 'citadel:refused:PerIpRateLimit' }],
        }),
        Match.objectLike({
          Name: 'PerIpRateLimit-Refused',
          Statement: { LabelMatchStatement: { Scope: 'LABEL', Key: 'citadel:refused:PerIpRateLimit' } },
          Action: { Block: { CustomResponse: Match.objectLike({ ResponseCode: 429 }) } },
        }),
      ]),
    });
    dev.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':apigateway:'])]) }),
    });
    dev.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: Match.arrayWith([{ SingleHeader: { Name: 'authorization' } }]),
    });
    dev.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': [
          '',
          ['aws-waf-logs-citadel-dev-api-', Match.objectLike({ 'Fn::Select': Match.anyValue() })],
        ],
      },
    });
  });

  it('never allows a wildcard CORS origin outside dev', () => {
    const preflights = JSON.stringify(
      prod.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } }),
    );
    expect(preflights).toContain("'https://app.citadel.example.com'");
    expect(preflights).not.toMatch(/Allow-Origin":"'\*'/);
  });

  it('serves machine clients on a second API where every authenticated method needs a usage-plan key', () => {
    const apis = dev.findResources('AWS::ApiGateway::RestApi');
    expect(
      Object.values(apis)
        .map((a) => a.Properties.Name)
        .sort(),
    ).toEqual(['citadel-dev', 'citadel-dev-machine']);
    const methods = Object.values(dev.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties);
    const keyed = methods
      .filter((m) => m.ApiKeyRequired === true)
      .map((m) => m.OperationName)
      .sort();
    const machineRoutes = routeList.filter((r) => r.auth.kind === 'authenticated' && r.auth.machines);
    expect(keyed).toEqual(machineRoutes.map((r) => r.operationId).sort());
    // Admin and manager routes are for people only: absent from the machine API.
    expect(keyed).not.toContain('createApiClient');
    expect(keyed).not.toContain('listAuditEvents');
  });

  it('meters machine keys in basic, standard and premium usage plans with daily quotas', () => {
    for (const [tier, rate, quota] of [
      ['basic', 1, 480],
      ['standard', 5, 5000],
      ['premium', 20, 50000],
    ] as const) {
      dev.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        UsagePlanName: `citadel-dev-${tier}`,
        Throttle: Match.objectLike({ RateLimit: rate }),
        Quota: { Limit: quota, Period: 'DAY' },
        ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
      });
    }
  });

  it('limits the machine API per IP and per key at rates that admit the premium tier at full rate and burst', () => {
    const config = loadStageConfig('dev');
    const premium = config.api.usagePlans.premium as { rateLimit: number; burstLimit: number };
    for (const [name, limits, key] of [
      ['PerIpRateLimit', config.api.machinePerIpRateLimit, { AggregateKeyType: 'IP' }],
      [
        'PerApiKeyRateLimit',
        config.api.perApiKeyRateLimit,
        {
          AggregateKeyType: 'CUSTOM_KEYS',
          CustomKeys: [
            { Header: { Name: 'x-api-key', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
          ],
        },
      ],
    ] as const) {
      expect(limits.limit).toBeGreaterThanOrEqual(
        premium.rateLimit * limits.windowSeconds + premium.burstLimit,
      );
      dev.hasResourceProperties('AWS::WAFv2::WebACL', {
        Rules: Match.arrayWith([
          Match.objectLike({
            Name: name,
            Statement: {
              RateBasedStatement: { Limit: limits.limit, EvaluationWindowSec: limits.windowSeconds, ...key },
            },
          }),
        ]),
      });
    }
    dev.resourceCountIs('AWS::WAFv2::WebACLAssociation', 2);
  });

  it('lets large bodies only where the route table says so: 8 KiB elsewhere, 64 KiB seen whole everywhere', () => {
    const acls = Object.values(dev.findResources('AWS::WAFv2::WebACL'));
    expect(acls).toHaveLength(2);
    for (const acl of acls) {
      const byName = (n: string) => acl.Properties.Rules.find((r: { Name: string }) => r.Name === n);
      expect(acl.Properties.AssociationConfig).toEqual({
        RequestBody: { API_GATEWAY: { DefaultSizeInspectionLimit: 'KB_64' } },
      });
      expect(byName('BodyOverApiLimit').Statement.SizeConstraintStatement).toMatchObject({
        FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
        ComparisonOperator: 'GT',
        Size: MAX_JSON_BODY_BYTES,
      });
      // The public ACL counts it and answers per browser origin; the machine ACL (no browsers) blocks at once.
      const answer = byName('BodyOverApiLimit-Refused') ?? byName('BodyOverApiLimit');
      expect(answer.Action.Block.CustomResponse.ResponseCode).toBe(413);
      expect(
        byName('AWSManagedRulesCommonRuleSet').Statement.ManagedRuleGroupStatement.RuleActionOverrides,
      ).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
      // After the core rule set, whose label it reads.
      const core = byName('BodyOverCoreRuleSetLimit');
      expect(core.Priority).toBeGreaterThan(byName('AWSManagedRulesCommonRuleSet').Priority);
      const [label, exempt] = core.Statement.AndStatement.Statements;
      expect(label).toEqual({
        LabelMatchStatement: {
          Scope: 'LABEL',
          Key: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body',
        },
      });
      expect(exempt.NotStatement.Statement.AndStatement.Statements).toEqual([
        expect.objectContaining({ ByteMatchStatement: expect.objectContaining({ SearchString: 'POST' }) }),
        expect.objectContaining({
          RegexMatchStatement: expect.objectContaining({
            RegexString: '^/?[^/]*/v1/uploads/[^/]+/complete$',
          }),
        }),
      ]);
    }
  });

  it('derives the large-body routes from the route table and refuses one over the API limit', () => {
    expect(bodyLimits(routeList)).toEqual({
      maxBytes: MAX_JSON_BODY_BYTES,
      largeBodyRoutes: [{ method: 'POST', path: '/v1/uploads/{id}/complete' }],
    });
    const tooLarge = { ...(routeList[0] as RouteDefinition), operationId: 'huge', maxBodyBytes: 70_000 };
    expect(() => bodyLimits([tooLarge])).toThrow(
      /huge declares maxBodyBytes 70000, over the API's 65536-byte limit/,
    );
  });

  it('matches a route path behind a stage name or a custom domain, and nothing else', () => {
    const re = new RegExp(routePathPattern('/v1/uploads/{id}/complete'));
    expect(re.test('/dev/v1/uploads/0b6f2c3e-0000-4000-8000-000000000000/complete')).toBe(true);
    expect(re.test('/v1/uploads/abc/complete')).toBe(true);
    expect(re.test('/dev/v1/uploads/abc/complete/more')).toBe(false);
    expect(re.test('/dev/v1/uploads/abc/parts')).toBe(false);
    expect(re.test('/dev/v1/uploads/a/b/complete')).toBe(false);
  });

  it('throttles admin methods tighter than the stage', () => {
    const stage = Object.values(dev.findResources('AWS::ApiGateway::Stage')).find(
      (s) => s.Properties.MethodSettings.length > 1,
    );
    const admin = stage?.Properties.MethodSettings.find((m: { ResourcePath: string }) =>
      m.ResourcePath.includes('admin'),
    );
    expect(admin).toMatchObject({ ThrottlingRateLimit: 2, ThrottlingBurstLimit: 5 });
  });

  it('validates request bodies with models derived from the route schemas', () => {
    dev.hasResourceProperties('AWS::ApiGateway::Model', {
      Name: 'CreateApiClientBody',
      ContentType: 'application/json',
      Schema: Match.objectLike({
        $schema: 'http://json-schema.org/draft-04/schema#',
        type: 'object',
        additionalProperties: false,
        required: Match.arrayWith(['name', 'scopes', 'tier']),
      }),
    });
    dev.hasResourceProperties('AWS::ApiGateway::Method', {
      OperationName: 'createApiClient',
      RequestModels: { 'application/json': Match.anyValue() },
      RequestValidatorId: Match.anyValue(),
    });
  });

  it.each([
    ['ApiKeyControl', ['apigateway:POST', 'apigateway:PATCH', 'apigateway:DELETE']],
    ['AppClientControl', ['cognito-idp:CreateUserPoolClient', 'cognito-idp:DeleteUserPoolClient']],
    ['MfaControl', ['cognito-idp:AdminSetUserMFAPreference', 'cognito-idp:AdminUserGlobalSignOut']],
    [
      'RecoveryControl',
      [
        'cognito-idp:AdminInitiateAuth',
        'cognito-idp:AdminGetUser',
        'cognito-idp:AdminSetUserMFAPreference',
        'cognito-idp:AdminUserGlobalSignOut',
      ],
    ],
  ])('runs %s outside the VPC, holding only its own AWS calls', (prefix, actions) => {
    const [id, control] = Object.entries(dev.findResources('AWS::Lambda::Function')).find(([key]) =>
      key.startsWith(prefix),
    ) as [string, { Properties: Record<string, unknown> }];
    expect(control.Properties.VpcConfig).toBeUndefined();
    const [roleId] = (control.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    const own = Object.values(dev.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleId),
    );
    expect(own).toHaveLength(1);
    const granted = JSON.stringify(own);
    for (const action of actions) expect(granted).toContain(action);
    const others = ['apigateway:', 'cognito-idp:'].filter((svc) => !actions[0]?.startsWith(svc));
    for (const svc of others) expect(granted).not.toContain(svc);
    expect(granted).not.toMatch(/"(apigateway|cognito-idp):\*"/);
    expect(id).toMatch(new RegExp(`^${prefix}`));
  });

  it('lets the recovery control function send only as the stage SES sender (prod), and never where there is none (dev)', () => {
    const fn = (t: Template) =>
      Object.entries(t.findResources('AWS::Lambda::Function')).find(([key]) =>
        key.startsWith('RecoveryControl'),
      ) as [string, { Properties: { Environment: { Variables: Record<string, unknown> }; Role: unknown } }];
    const policyOf = (t: Template, role: unknown) =>
      JSON.stringify(
        Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
          (p.Properties.Roles as Array<{ Ref?: string }>).some(
            (r) => r.Ref === (role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
          ),
        ),
      );
    const { ses } = loadStageConfig('prod').identity;
    const [, prodFn] = fn(prod);
    expect(prodFn.Properties.Environment.Variables).toMatchObject({
      CITADEL_RECOVERY_CLIENT_ID: { 'Fn::ImportValue': expect.stringMatching(/RecoveryClient/) },
      CITADEL_SES_FROM_ADDRESS: ses?.fromAddress,
      CITADEL_SES_FROM_NAME: ses?.fromName,
      CITADEL_SES_REGION: ses?.region,
      CITADEL_SES_CONFIGURATION_SET: ses?.configurationSet,
    });
    const prodPolicy = policyOf(prod, prodFn.Properties.Role);
    expect(prodPolicy).toContain('"Action":"ses:SendEmail"');
    expect(prodPolicy).toContain(`"ses:FromAddress":"${ses?.fromAddress}"`);
    expect(prodPolicy).not.toContain('ses:SendRawEmail');
    const [, devFn] = fn(dev);
    expect(devFn.Properties.Environment.Variables.CITADEL_SES_FROM_ADDRESS).toBeUndefined();
    expect(policyOf(dev, devFn.Properties.Role)).not.toContain('ses:');
  });

  it('serves account recovery on the public API only, invoking the recovery control function', () => {
    const methods = Object.values(prod.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.OperationName === 'recoverAccount',
    );
    expect(methods).toHaveLength(1);
    expect(methods[0]?.Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'NONE' });
    const recover = Object.entries(prod.findResources('AWS::Lambda::Function')).find(([key]) =>
      key.startsWith('RecoverAccount'),
    )?.[1];
    expect(recover?.Properties.Environment.Variables.CITADEL_RECOVERY_FUNCTION).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^RecoveryControl/), 'Arn'],
    });
  });

  it('limits account recovery per address on the public API at the sign-in tier, counting POSTs to its path only', () => {
    const { limit, windowSeconds } = loadStageConfig('prod').identity.signInRateLimit;
    const acls = Object.values(prod.findResources('AWS::WAFv2::WebACL'));
    const rules = (name: string) =>
      acls
        .flatMap((a) => a.Properties.Rules as Array<{ Name: string; Statement: Json }>)
        .filter((r) => r.Name === name);
    const [rule, ...more] = rules('RecoveryRateLimit');
    expect(more).toHaveLength(0);
    expect(rule?.Statement.RateBasedStatement).toMatchObject({
      Limit: limit,
      EvaluationWindowSec: windowSeconds,
      AggregateKeyType: 'IP',
    });
    const [method, path] = (rule as Json).Statement.RateBasedStatement.ScopeDownStatement.AndStatement
      .Statements;
    expect(method.ByteMatchStatement).toMatchObject({
      SearchString: 'POST',
      PositionalConstraint: 'EXACTLY',
    });
    expect(path.RegexMatchStatement).toMatchObject({
      RegexString: '^/?[^/]*/v1/auth/recover$',
      TextTransformations: [
        { Priority: 0, Type: 'URL_DECODE' },
        { Priority: 1, Type: 'NORMALIZE_PATH' },
      ],
    });
  });

  it('gives machine clients the stage’s access-token lifetime, as people get', () => {
    const control = Object.entries(prod.findResources('AWS::Lambda::Function')).find(([key]) =>
      key.startsWith('AppClientControl'),
    )?.[1];
    expect(control?.Properties.Environment.Variables.CITADEL_ACCESS_TOKEN_MINUTES).toBe(
      String(loadStageConfig('prod').identity.tokenValidityMinutes),
    );
  });

  it("echoes the request's Origin on API Gateway's errors of the public API, behind a web ACL refusing every other origin", () => {
    for (const [template, stage] of [
      [dev, 'dev'],
      [prod, 'prod'],
    ] as const) {
      const origins = loadStageConfig(stage).api.corsOrigins;
      const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'));
      const echoing = responses.filter(
        (r) =>
          r.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'] ===
          'method.request.header.Origin',
      );
      // Every response type of the public API; none of the machine API's (no browsers there), never a wildcard.
      expect(echoing.length).toBe(responses.length / 2);
      expect(JSON.stringify(responses)).not.toMatch(/Allow-Origin":"'\*'/);
      const acl = Object.values(template.findResources('AWS::WAFv2::WebACL')).find((a) =>
        a.Properties.Rules.some((r: { Name: string }) => r.Name === 'ForeignOrigin'),
      );
      const foreign = acl?.Properties.Rules.find((r: { Name: string }) => r.Name === 'ForeignOrigin');
      expect(foreign.Priority).toBe(0);
      expect(foreign.Action.Block.CustomResponse.ResponseCode).toBe(403);
      const listed = JSON.stringify(foreign.Statement.AndStatement.Statements[1]);
      for (const origin of origins) expect(listed).toContain(`"SearchString":"${origin}"`);
      // Each refusal is answered with each origin's own Access-Control-Allow-Origin.
      for (const [i, origin] of origins.entries()) {
        const perOrigin = acl?.Properties.Rules.find(
          (r: { Name: string }) => r.Name === `PerIpRateLimit-Origin${i + 1}`,
        );
        expect(perOrigin.Action.Block.CustomResponse.ResponseHeaders).toEqual(
          expect.arrayContaining([
            { Name: 'Access-Control-Allow-Origin', Value: origin },
            { Name: 'Access-Control-Expose-Headers', Value: 'Retry-After' },
            { Name: 'Retry-After', Value: '60' },
          ]),
        );
      }
    }
  });

  it('refuses more browser origins than WAF can answer, and a wildcard', () => {
    const acl =
      (origins: string[], rateRules = 1) =>
      () =>
        new RegionalWebAcl(new Stack(testApp({ compliance: false }), 'Acl'), 'Acl', {
          name: 'acl',
          resourceType: 'API_GATEWAY',
          rateRules: Array.from({ length: rateRules }, (_, i) => ({
            name: `Rate${i}`,
            limit: 100,
            windowSeconds: 60,
          })),
          bodyLimits: bodyLimits(routeList),
          browserOrigins: origins,
          logsKey: new kms.Key(new Stack(testApp({ compliance: false }), 'Key'), 'Key'),
        });
    const four = ['https://a.example', 'https://b.example', 'https://c.example', 'https://d.example'];
    expect(acl(four.slice(0, 3))).toThrow(
      /3 browser origins; WAF allows 100 custom response headers per web ACL, which answer at most 2/,
    );
    expect(acl(['https://*.example'])).toThrow(/"\*" is never allowed/);
    expect(acl(four.slice(0, 2), 2)).not.toThrow();
    // Two origins leave room for two rate rules (the public API's): a third one's answers would pass WAF's quota.
    expect(acl(four.slice(0, 2), 3)).toThrow(
      /custom responses carry 121 headers; WAF allows 100 per web ACL/,
    );
    expect(() =>
      loadStageConfig('dev', { overrides: (c) => ({ ...c, api: { ...c.api, corsOrigins: [...four] } }) }),
    ).toThrow(/api\.corsOrigins: at most 2 origins/);
  });

  it('keeps every route function within API Gateway’s 29 s integration timeout', () => {
    const timeouts = Object.values(dev.findResources('AWS::Lambda::Permission'))
      .filter((p) => p.Properties.Principal === 'apigateway.amazonaws.com')
      .map((p) => (p.Properties.FunctionName as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0])
      .map((id) => dev.toJSON().Resources[id].Properties.Timeout as number);
    expect(timeouts.length).toBeGreaterThanOrEqual(routeList.length);
    expect(Math.max(...timeouts)).toBeLessThanOrEqual(MAX_INTEGRATION_SECONDS);
  });

  it('refuses a route whose function would outlive the integration timeout', () => {
    const stack = new Stack(testApp({ compliance: false }), 'Timeouts');
    const route = routeList.find((r) => r.operationId === 'getHealth') as RouteDefinition;
    const fn = new lambda.Function(stack, 'Slow', {
      runtime: lambda.Runtime.NODEJS_LATEST,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({})'),
      timeout: Duration.seconds(30),
    });
    const api = () =>
      new CitadelRestApi(stack, 'Api', {
        restApiName: 'slow',
        description: 'slow',
        stageName: 'test',
        routes: [route],
        functions: new Map([[route.operationId, fn]]),
        userPool: new cognito.UserPool(stack, 'Pool'),
        accessLogs: new logs.LogGroup(stack, 'Logs'),
        throttle: { rateLimit: 1, burstLimit: 1 },
        adminThrottle: { rateLimit: 1, burstLimit: 1 },
      });
    expect(api).toThrow(/getHealth has a 30 s function timeout.*29 s/);
  });

  it('gives the scan pipeline time to hash the largest file that may declare a SHA-256, within 5 to 15 minutes', () => {
    const GiB = 1024 ** 3;
    expect(scanTimeout(5 * GiB).toSeconds()).toBe(300);
    expect(scanTimeout(40 * GiB).toSeconds()).toBe(60 + 512);
    expect(scanTimeout(64 * GiB).toSeconds()).toBe(60 + 820);
    // Larger files may not declare a SHA-256 (the API refuses it), so the timeout stops growing there.
    expect(scanTimeout(5 * 1024 * GiB).toSeconds()).toBe(scanTimeout(64 * GiB).toSeconds());
    expect(scanTimeout(5 * 1024 * GiB).toSeconds()).toBeLessThanOrEqual(900);
  });

  it("runs the scan pipeline in the VPC as the storage stack's scan role, fed by GuardDuty and S3 events with a DLQ", () => {
    const [id, scan] = Object.entries(dev.findResources('AWS::Lambda::Function')).find(([key]) =>
      key.startsWith('ScanPipeline'),
    ) as [string, { Properties: Record<string, any> }];
    expect(scan.Properties.Timeout).toBe(300);
    expect(scan.Properties.VpcConfig).toBeDefined();
    expect(JSON.stringify(scan.Properties.Role)).toContain('ScanRole');
    expect(Object.keys(scan.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining([
        'CITADEL_UPLOADS_BUCKET',
        'CITADEL_QUARANTINE_BUCKET',
        'CITADEL_QUARANTINE_KEY_ARN',
        'CITADEL_DB_HOST',
        'CITADEL_DB_USER',
      ]),
    );
    expect(scan.Properties.DeadLetterConfig?.TargetArn).toBeDefined();
    const rules = Object.values(dev.findResources('AWS::Events::Rule')).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes(id),
    );
    const patterns = rules.map((r) => r.Properties.EventPattern);
    expect(patterns).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          source: ['aws.guardduty'],
          'detail-type': ['GuardDuty Malware Protection Object Scan Result'],
          detail: {
            s3ObjectDetails: { bucketName: [expect.anything()], objectKey: [{ prefix: 'uploads/' }] },
          },
        }),
        expect.objectContaining({
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: { bucket: { name: [expect.anything()] }, object: { key: [{ prefix: 'uploads/' }] } },
        }),
      ]),
    );
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      expect(rule.Properties.Targets[0]).toMatchObject({
        DeadLetterConfig: { Arn: expect.anything() },
        RetryPolicy: { MaximumRetryAttempts: 8 },
      });
    }
  });

  it('gives upload routes the uploads bucket, its key and the stage limits, and nothing to other routes', () => {
    const functions = dev.findResources('AWS::Lambda::Function');
    for (const route of routeList) {
      const fn = Object.entries(functions).find(([key]) =>
        key.startsWith(route.operationId.charAt(0).toUpperCase() + route.operationId.slice(1)),
      )?.[1];
      const env = fn?.Properties.Environment.Variables ?? {};
      const needsUploads = route.needs?.some((n) => n.startsWith('uploads:')) ?? false;
      expect({ route: route.operationId, bucket: 'CITADEL_UPLOADS_BUCKET' in env }).toEqual({
        route: route.operationId,
        bucket: needsUploads,
      });
      if (needsUploads) {
        expect(env).toMatchObject({
          CITADEL_MAX_UPLOAD_BYTES: String(5 * 1024 ** 3),
          CITADEL_ALLOWED_TYPES: expect.stringContaining('application/pdf'),
          CITADEL_UPLOADS_KEY_ARN: expect.anything(),
        });
        expect(env.CITADEL_QUARANTINE_BUCKET).toBeUndefined();
      }
    }
  });
});

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Statements of the inline policies on the role of the function whose logical id is `name` + hash. */
function functionPolicy(template: Template, name: string): Statement[] {
  const matches = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    new RegExp(`^${name}[0-9A-F]{8}$`).test(id),
  );
  expect(matches.map(([id]) => id)).toHaveLength(1);
  const [, fn] = matches[0] as [string, { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }];
  const role = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref?: string }) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actions = (statements: Statement[], where: (s: Statement) => boolean): string[] =>
  [...new Set(statements.filter(where).flatMap((s) => [s.Action].flat()))].sort();

/** The S3 actions a function may take, and what it may do with the uploads bucket's key. */
function uploadsAccess(template: Template, prefix: string): { s3: string[]; key: string[] } {
  const statements = functionPolicy(template, prefix);
  return {
    s3: actions(statements, (s) => [s.Action].flat().some((a) => a.startsWith('s3:'))),
    key: actions(statements, (s) => /UploadsKey[0-9A-F]{8}/.test(JSON.stringify(s.Resource))),
  };
}

const WRITE_KEY = ['kms:Decrypt', 'kms:GenerateDataKey'];

/**
 * What each upload handler calls at S3, following its imports into lambda/uploads/{service,multipart}.ts
 * (a presigned URL is the signer's call). ListParts of an SSE-KMS upload needs kms:Decrypt.
 */
const EXPECTED: Record<string, { s3: string[]; key: string[] }> = {
  // CreateMultipartUpload; AbortMultipartUpload when the row cannot be written.
  CreateUpload: { s3: ['s3:AbortMultipartUpload', 's3:PutObject'], key: WRITE_KEY },
  // Presigned UploadPart.
  SignUploadParts: { s3: ['s3:PutObject'], key: WRITE_KEY },
  // ListParts; for an upload S3 no longer knows, ListObjectsV2, and DeleteObject of a wrong-sized object.
  GetUpload: {
    s3: ['s3:DeleteObject', 's3:ListBucket', 's3:ListMultipartUploadParts'],
    key: ['kms:Decrypt'],
  },
  // ListParts, CompleteMultipartUpload or AbortMultipartUpload; the gone-upload path as GetUpload.
  CompleteUpload: {
    s3: [
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:ListBucket',
      's3:ListMultipartUploadParts',
      's3:PutObject',
    ],
    key: WRITE_KEY,
  },
  // AbortMultipartUpload, then ListObjectsV2 to see whether a completion won.
  AbortUpload: { s3: ['s3:AbortMultipartUpload', 's3:ListBucket'], key: [] },
  // Presigned CreateMultipartUpload, PutObject, UploadPart, ListParts, CompleteMultipartUpload and abort;
  // `abort` also aborts at S3 itself, then lists to see whether a completion won (cancelUpload).
  SignUploadRequest: {
    s3: ['s3:AbortMultipartUpload', 's3:ListBucket', 's3:ListMultipartUploadParts', 's3:PutObject'],
    key: WRITE_KEY,
  },
  // Presigned GetObject.
  DownloadFile: { s3: ['s3:GetObject'], key: ['kms:Decrypt'] },
  // AbortMultipartUpload of an upload in progress, DeleteObject.
  DeleteFile: { s3: ['s3:AbortMultipartUpload', 's3:DeleteObject'], key: [] },
  ListFiles: { s3: [], key: [] },
  GetFile: { s3: [], key: [] },
  // The hourly job: AbortMultipartUpload, then ListObjectsV2.
  ExpireUploads: { s3: ['s3:AbortMultipartUpload', 's3:ListBucket'], key: [] },
};

describe('Api stack: uploads bucket grants', () => {
  it.each(Object.entries(EXPECTED))(
    'gives %s exactly the S3 and key actions its handler calls',
    (fn, expected) => {
      expect(uploadsAccess(dev, fn)).toEqual(expected);
    },
  );

  it('lets the download function read objects, but not write or delete them', () => {
    const { s3 } = uploadsAccess(dev, 'DownloadFile');
    expect(s3).toContain('s3:GetObject');
    expect(s3).not.toContain('s3:PutObject');
    expect(s3).not.toContain('s3:DeleteObject');
  });

  it('lets create-upload run multipart uploads, but not read or delete objects', () => {
    const { s3, key } = uploadsAccess(dev, 'CreateUpload');
    expect(s3).toEqual(expect.arrayContaining(['s3:PutObject', 's3:AbortMultipartUpload']));
    expect(key).toEqual(expect.arrayContaining(['kms:GenerateDataKey']));
    expect(s3).not.toContain('s3:GetObject');
    expect(s3).not.toContain('s3:DeleteObject');
  });

  it('lets delete-file delete objects, but not write or read them', () => {
    const { s3 } = uploadsAccess(dev, 'DeleteFile');
    expect(s3).toContain('s3:DeleteObject');
    expect(s3).not.toContain('s3:PutObject');
    expect(s3).not.toContain('s3:GetObject');
  });

  it('grants no function the tag writes, version deletes or upload listing that no handler calls', () => {
    for (const template of [dev, prod]) {
      const granted = JSON.stringify(template.findResources('AWS::IAM::Policy'));
      expect(granted).not.toContain('s3:PutObjectTagging');
      expect(granted).not.toContain('s3:ListBucketMultipartUploads');
      expect(granted).not.toContain('s3:DeleteObjectVersion');
    }
  });

  it('scopes object actions to uploads/ and listing to the uploads/ prefix', () => {
    for (const fn of Object.keys(EXPECTED)) {
      for (const st of functionPolicy(dev, fn)) {
        const acts = [st.Action].flat();
        if (!acts.some((a) => a.startsWith('s3:'))) continue;
        if (acts.includes('s3:ListBucket')) {
          expect(acts).toEqual(['s3:ListBucket']);
          expect(st.Condition).toEqual({ StringLike: { 's3:prefix': ['uploads/*'] } });
          expect(JSON.stringify(st.Resource)).not.toContain('/');
        } else {
          expect(JSON.stringify(st.Resource)).toMatch(/UploadsBucket[0-9A-F]{8}Arn.*"\/uploads\/\*"/);
        }
      }
    }
  });
});
