import { beforeAll, describe, expect, it } from '@jest/globals';
import { type App, aws_iam as iam, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { acknowledge, inPacks } from '../../lib/compliance';
import { loadStageConfig, type StageConfig } from '../../lib/config';
import { IdentityStack } from '../../lib/stacks/identity-stack';
import { NetworkStack } from '../../lib/stacks/network-stack';
import { testApp } from '../support/cdk';

const STAGES = ['dev', 'staging', 'prod'] as const;
type Stage = (typeof STAGES)[number];

interface Synthesized {
  readonly config: StageConfig;
  readonly stack: IdentityStack;
  readonly template: Template;
  /** The synthesis error (unacknowledged cdk-nag findings), or '' when synthesis passed. */
  readonly synthError: string;
  /** prod only: a consumer stack whose roles received the admin grants. */
  readonly consumer?: Template;
}

const synthesized: Partial<Record<Stage, Synthesized>> = {};

/** A stack standing in for the Api stack: one role per grant, so each policy can be read alone. */
function addGrantConsumer(app: App, identity: IdentityStack): Stack {
  const consumer = new Stack(app, 'IdentityGrantConsumer');
  for (const [id, grant] of [
    ['MachineClientAdminRole', (r: iam.Role) => identity.grantMachineClientAdmin(r)],
    ['MfaResetRole', (r: iam.Role) => identity.grantMfaReset(r)],
  ] as const) {
    const role = new iam.Role(consumer, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    grant(role);
    acknowledge(
      role,
      inPacks('IAMNoInlinePolicy', 'NIST.800.53.R5', 'HIPAA.Security'),
      'Test fixture: the grant under test lands in the role default policy, as it does for Citadel functions.',
    );
  }
  return consumer;
}

beforeAll(() => {
  for (const stage of STAGES) {
    // Prepare
    const app = testApp();
    const config = loadStageConfig(stage);
    const network = new NetworkStack(app, { config });
    const stack = new IdentityStack(app, { config, network });
    const consumer = stage === 'prod' ? addGrantConsumer(app, stack) : undefined;
    // Act: synthesis runs the cdk-nag packs and throws on any unacknowledged finding.
    let synthError = '';
    try {
      app.synth();
    } catch (e) {
      synthError = (e as Error).message;
    }
    synthesized[stage] = {
      config,
      stack,
      template: Template.fromStack(stack),
      synthError,
      consumer: consumer ? Template.fromStack(consumer) : undefined,
    };
  }
});

const of = (stage: Stage): Synthesized => synthesized[stage] as Synthesized;
const tpl = (stage: Stage): Template => of(stage).template;

/** The single user pool's properties. */
const userPoolProps = (stage: Stage): Record<string, unknown> => {
  const pools = Object.values(tpl(stage).findResources('AWS::Cognito::UserPool'));
  expect(pools).toHaveLength(1);
  return pools[0]?.Properties as Record<string, unknown>;
};

const userPoolLogicalId = (stage: Stage): string =>
  Object.keys(tpl(stage).findResources('AWS::Cognito::UserPool'))[0] as string;

describe('Identity stack', () => {
  it.each(STAGES)('%s: synthesizes with every cdk-nag finding fixed or acknowledged', (stage) => {
    expect(of(stage).synthError).toBe('');
  });

  it.each(STAGES)('%s: requires MFA, with TOTP always on', (stage) => {
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      EnabledMfas: Match.arrayWith(['SOFTWARE_TOKEN_MFA']),
    });
  });

  it('dev: TOTP is the only second factor', () => {
    tpl('dev').hasResourceProperties('AWS::Cognito::UserPool', { EnabledMfas: ['SOFTWARE_TOKEN_MFA'] });
    tpl('dev').resourceCountIs('AWS::IAM::Role', 0);
  });

  it.each(['staging', 'prod'] as const)(
    '%s: SMS is a second factor, sent through a dedicated role',
    (stage) => {
      const t = tpl(stage);
      t.hasResourceProperties('AWS::Cognito::UserPool', {
        EnabledMfas: Match.arrayWith(['SMS_MFA', 'SOFTWARE_TOKEN_MFA']),
        SmsConfiguration: {
          ExternalId: `citadel-${stage}-user-pool-sms`,
          SnsCallerArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SmsRole'), 'Arn'] },
        },
      });
      t.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Principal: { Service: 'cognito-idp.amazonaws.com' },
              Condition: {
                StringEquals: {
                  'sts:ExternalId': `citadel-${stage}-user-pool-sms`,
                  'aws:SourceAccount': { Ref: 'AWS::AccountId' },
                },
              },
            }),
          ],
        },
        ManagedPolicyArns: [{ Ref: Match.stringLikeRegexp('^SmsPublishPolicy') }],
      });
      t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        PolicyDocument: Match.objectLike({
          Statement: [{ Action: 'sns:Publish', Effect: 'Allow', Resource: '*' }],
        }),
      });
    },
  );

  it.each(STAGES)('%s: leaves email MFA off while the config has no SES sender', (stage) => {
    const mfas = userPoolProps(stage).EnabledMfas as string[];
    expect(mfas).not.toContain('EMAIL_OTP');
    expect(userPoolProps(stage).EmailConfiguration).toBeUndefined();
  });

  it.each(STAGES)(
    '%s: signs in with a verified, case-insensitive email and keeps it until a change is verified',
    (stage) => {
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
        UsernameAttributes: ['email'],
        UsernameConfiguration: { CaseSensitive: false },
        AutoVerifiedAttributes: ['email'],
        Schema: [{ Name: 'email', Required: true, Mutable: true }],
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      });
    },
  );

  it('allows self sign-up only where the stage config does (dev yes, prod no)', () => {
    tpl('dev').hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
    });
    tpl('prod').hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
  });

  it.each(STAGES)(
    '%s: enforces a 12+ character password with every class, short temporary passwords and history',
    (stage) => {
      const policy = (userPoolProps(stage).Policies as { PasswordPolicy: Record<string, unknown> })
        .PasswordPolicy;
      expect(policy.MinimumLength).toBeGreaterThanOrEqual(12);
      expect(policy).toMatchObject({
        RequireLowercase: true,
        RequireUppercase: true,
        RequireNumbers: true,
        RequireSymbols: true,
        TemporaryPasswordValidityDays: 3,
        PasswordHistorySize: 5,
      });
    },
  );

  it.each(STAGES)('%s: recovers accounts by verified email only', (stage) => {
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
    });
  });

  it('dev: Essentials plan without threat protection', () => {
    tpl('dev').hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolTier: 'ESSENTIALS',
      UserPoolAddOns: Match.absent(),
    });
    tpl('dev').resourceCountIs('AWS::Cognito::UserPoolRiskConfigurationAttachment', 0);
  });

  it('staging: Plus plan with threat protection in audit mode', () => {
    tpl('staging').hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'AUDIT' },
    });
  });

  it('prod: Plus plan with threat protection enforced, blocking compromised credentials and high risk', () => {
    tpl('prod').hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
    });
    tpl('prod').hasResourceProperties('AWS::Cognito::UserPoolRiskConfigurationAttachment', {
      UserPoolId: { Ref: userPoolLogicalId('prod') },
      ClientId: 'ALL',
      CompromisedCredentialsRiskConfiguration: {
        EventFilter: ['SIGN_IN', 'SIGN_UP', 'PASSWORD_CHANGE'],
        Actions: { EventAction: 'BLOCK' },
      },
      AccountTakeoverRiskConfiguration: {
        Actions: Match.objectLike({ HighAction: { EventAction: 'BLOCK', Notify: false } }),
      },
    });
  });

  it('protects the pool from deletion where the stage protects data', () => {
    tpl('prod').hasResource('AWS::Cognito::UserPool', {
      Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }),
      DeletionPolicy: 'Retain',
    });
    tpl('staging').hasResourceProperties('AWS::Cognito::UserPool', { DeletionProtection: 'ACTIVE' });
    tpl('dev').hasResource('AWS::Cognito::UserPool', {
      Properties: Match.objectLike({ DeletionProtection: 'INACTIVE' }),
      DeletionPolicy: 'Delete',
    });
  });

  it('creates the four role groups, precedence encoding admin > manager > user > guest', () => {
    const t = tpl('prod');
    t.resourceCountIs('AWS::Cognito::UserPoolGroup', 4);
    const precedence = Object.fromEntries(
      Object.values(t.findResources('AWS::Cognito::UserPoolGroup')).map((g) => {
        expect(g.Properties.Description).toEqual(expect.any(String));
        expect(g.Properties.UserPoolId).toEqual({ Ref: userPoolLogicalId('prod') });
        return [g.Properties.GroupName, g.Properties.Precedence];
      }),
    );
    expect(precedence).toEqual({ admin: 0, manager: 10, user: 20, guest: 30 });
  });

  it('defines the citadel resource server with the files.read, files.write and admin scopes', () => {
    tpl('prod').hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'citadel',
      Scopes: [
        { ScopeName: 'files.read', ScopeDescription: Match.anyValue() },
        { ScopeName: 'files.write', ScopeDescription: Match.anyValue() },
        { ScopeName: 'admin', ScopeDescription: Match.anyValue() },
      ],
    });
  });

  it.each(STAGES)('%s: the web client is a public authorization-code client without a secret', (stage) => {
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
    });
  });

  it.each(STAGES)('%s: the web client signs in with SRP only, never with a plain password', (stage) => {
    const client = Object.values(tpl(stage).findResources('AWS::Cognito::UserPoolClient'))[0];
    const flows = client?.Properties.ExplicitAuthFlows as string[];
    expect(flows).toContain('ALLOW_USER_SRP_AUTH');
    for (const banned of [
      'ALLOW_USER_PASSWORD_AUTH',
      'ALLOW_ADMIN_USER_PASSWORD_AUTH',
      'ALLOW_CUSTOM_AUTH',
    ]) {
      expect(flows).not.toContain(banned);
    }
  });

  it.each(STAGES)(
    '%s: the web client rotates refresh tokens (so REFRESH_TOKEN_AUTH is off by design)',
    (stage) => {
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
        RefreshTokenRotation: { Feature: 'ENABLED', RetryGracePeriodSeconds: 10 },
        ExplicitAuthFlows: Match.not(Match.arrayWith(['ALLOW_REFRESH_TOKEN_AUTH'])),
      });
    },
  );

  it.each(STAGES)('%s: the web client asks for OIDC scopes and the three citadel scopes', (stage) => {
    const scope = (name: string) => ({
      'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('ResourceServer') }, `/${name}`]],
    });
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthScopes: [
        'openid',
        'email',
        'profile',
        scope('files.read'),
        scope('files.write'),
        scope('admin'),
      ],
    });
  });

  it.each(STAGES)(
    '%s: tokens live as long as the stage config says, access and ID at most 60 minutes',
    (stage) => {
      const { tokenValidityMinutes, refreshTokenValidityDays } = of(stage).config.identity;
      const client = Object.values(tpl(stage).findResources('AWS::Cognito::UserPoolClient'))[0];
      const p = client?.Properties;
      expect(p.TokenValidityUnits).toEqual({
        AccessToken: 'minutes',
        IdToken: 'minutes',
        RefreshToken: 'minutes',
      });
      expect(p.AccessTokenValidity).toBe(tokenValidityMinutes);
      expect(p.IdTokenValidity).toBe(tokenValidityMinutes);
      expect(p.AccessTokenValidity).toBeLessThanOrEqual(60);
      expect(p.IdTokenValidity).toBeLessThanOrEqual(60);
      expect(p.RefreshTokenValidity).toBe(refreshTokenValidityDays * 24 * 60);
    },
  );

  it.each(STAGES)('%s: the web client redirects only to the configured callback and logout URLs', (stage) => {
    const { callbackUrls, logoutUrls } = of(stage).config.identity;
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      CallbackURLs: callbackUrls,
      LogoutURLs: logoutUrls,
    });
  });

  it.each(STAGES)('%s: the web client reads only the email attributes and writes only email', (stage) => {
    tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ReadAttributes: ['email', 'email_verified'],
      WriteAttributes: ['email'],
    });
  });

  it.each(STAGES)(
    '%s: serves managed login (v2) on <domainPrefix>-<account id>, styled for the web client',
    (stage) => {
      const t = tpl(stage);
      t.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
        Domain: { 'Fn::Join': ['', [`citadel-${stage}-`, { Ref: 'AWS::AccountId' }]] },
        ManagedLoginVersion: 2,
        UserPoolId: { Ref: userPoolLogicalId(stage) },
      });
      t.hasResourceProperties('AWS::Cognito::ManagedLoginBranding', {
        UserPoolId: { Ref: userPoolLogicalId(stage) },
        ClientId: { Ref: Match.stringLikeRegexp('WebClient') },
        UseCognitoProvidedValues: true,
      });
    },
  );

  it.each(STAGES)('%s: a WAF web ACL with AWS managed rules protects the user pool', (stage) => {
    const t = tpl(stage);
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' },
          },
        }),
      ]),
    });
    t.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { 'Fn::GetAtt': [userPoolLogicalId(stage), 'Arn'] },
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebAcl'), 'Arn'] },
    });
  });

  it.each(STAGES)('%s: the sign-in rate rule counts per IP at the configured limit and window', (stage) => {
    const { limit, windowSeconds } = of(stage).config.identity.signInRateLimit;
    tpl(stage).hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([
        Match.objectLike({
          Name: 'SignInRateLimit',
          Action: { Block: Match.objectLike({ CustomResponse: Match.objectLike({ ResponseCode: 429 }) }) },
          Statement: {
            RateBasedStatement: Match.objectLike({
              Limit: limit,
              EvaluationWindowSec: windowSeconds,
              AggregateKeyType: 'IP',
            }),
          },
        }),
      ]),
    });
  });

  describe('the sign-in rule counts what presents a password, an MFA code or a recovery code', () => {
    const rule = (name: string) => {
      const acl = Object.values(tpl('prod').findResources('AWS::WAFv2::WebACL'))[0];
      return acl?.Properties.Rules.find((r: { Name: string }) => r.Name === name);
    };
    const scopeDown = (name: string) =>
      JSON.stringify(rule(name).Statement.RateBasedStatement.ScopeDownStatement);

    it('counts managed-login form posts, code exchanges and the sign-in API operations', () => {
      const counted =
        rule('SignInRateLimit').Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements;
      expect(counted).toHaveLength(6);
      const text = JSON.stringify(counted);
      for (const op of [
        'initiateauth',
        'respondtoauthchallenge',
        'confirmforgotpassword',
        'verifysoftwaretoken',
      ])
        expect(text).toContain(`"awscognitoidentityproviderservice.${op}"`);
      expect(text).toContain('"SearchString":"/oauth2/token"');
      expect(text).toContain('"SearchString":"POST"');
    });

    it('never counts refreshes: refresh-token grants, InitiateAuth refresh flows, GetTokensFromRefreshToken', () => {
      const text = scopeDown('SignInRateLimit');
      for (const field of [
        'grant_type=refresh_token',
        'grant_type=refresh_token&',
        '&grant_type=refresh_token',
      ])
        expect(text).toContain(`"SearchString":"${field}"`);
      expect(text).toContain('"IncludedPaths":["/AuthFlow"]');
      expect(text).toContain('"SearchString":"REFRESH_TOKEN_AUTH"');
      expect(text).toContain('"SearchString":"REFRESH_TOKEN"');
      // Unparsable (e.g. duplicate AuthFlow) or oversize bodies are not refreshes: they are counted.
      expect(text).toContain('"InvalidFallbackBehavior":"NO_MATCH"');
      expect(text).not.toMatch(/gettokensfromrefreshtoken/i);
    });

    it('gives client credentials their own rule per IP, at the configured, higher rate', () => {
      const { limit, windowSeconds } = of('prod').config.identity.clientCredentialsRateLimit;
      expect(rule('ClientCredentialsRateLimit').Statement.RateBasedStatement).toMatchObject({
        Limit: limit,
        EvaluationWindowSec: windowSeconds,
        AggregateKeyType: 'IP',
      });
      const text = scopeDown('ClientCredentialsRateLimit');
      expect(text).toContain('"SearchString":"grant_type=client_credentials"');
      expect(text).toContain('"SearchString":"awscognitoidentityproviderservice.getclienttoken"');
      expect(scopeDown('SignInRateLimit')).toContain('"SearchString":"grant_type=client_credentials&"');
    });
  });

  it.each(STAGES)(
    '%s: WAF logs go to an encrypted aws-waf-logs-* group with the stage retention',
    (stage) => {
      tpl(stage).hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: {
          'Fn::Join': [
            '',
            [`aws-waf-logs-citadel-${stage}-identity-`, Match.objectLike({ 'Fn::Select': Match.anyValue() })],
          ],
        },
        RetentionInDays: of(stage).config.observability.logRetentionDays,
        KmsKeyId: Match.anyValue(),
      });
    },
  );

  describe('grants for the admin API', () => {
    /** How the consumer stack refers to the user pool ARN: the import of the Identity stack's export. */
    const poolArnReference = () => {
      const outputs = tpl('prod').findOutputs('*', {
        Value: { 'Fn::GetAtt': [userPoolLogicalId('prod'), 'Arn'] },
      });
      const [output, ...others] = Object.values(outputs);
      expect(others).toHaveLength(0);
      return { 'Fn::ImportValue': output?.Export.Name };
    };

    const statementsOf = (rolePrefix: string) => {
      const policies = (of('prod').consumer as Template).findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }] },
      });
      expect(Object.keys(policies)).toHaveLength(1);
      return Object.values(policies)[0]?.Properties.PolicyDocument.Statement as Array<{
        Action: string | string[];
        Resource: unknown;
      }>;
    };

    it('grantMachineClientAdmin allows exactly create/delete user pool client on this pool', () => {
      const [statement, ...rest] = statementsOf('MachineClientAdminRole');
      expect(rest).toHaveLength(0);
      expect([statement?.Action].flat().sort()).toEqual([
        'cognito-idp:CreateUserPoolClient',
        'cognito-idp:DeleteUserPoolClient',
      ]);
      expect(statement?.Resource).toEqual(poolArnReference());
    });

    it('grantMfaReset allows exactly the MFA reset actions on this pool', () => {
      const [statement, ...rest] = statementsOf('MfaResetRole');
      expect(rest).toHaveLength(0);
      expect([statement?.Action].flat().sort()).toEqual([
        'cognito-idp:AdminGetUser',
        'cognito-idp:AdminSetUserMFAPreference',
        'cognito-idp:AdminUserGlobalSignOut',
      ]);
      expect(statement?.Resource).toEqual(poolArnReference());
    });
  });

  it('refuses (in the stage config) a domain prefix Cognito reserves, saying how to fix it', () => {
    expect(() =>
      loadStageConfig('dev', {
        overrides: (c) => ({ ...c, identity: { ...c.identity, domainPrefix: 'citadel-cognito-dev' } }),
      }),
    ).toThrow(/identity\.domainPrefix: Cognito reserves the words aws, amazon and cognito/);
  });

  it('refuses email MFA without an SES sender, and sends through SES when one is configured', () => {
    expect(() =>
      loadStageConfig('staging', {
        overrides: (c) => ({
          ...c,
          identity: { ...c.identity, mfaSecondFactors: { sms: true, email: true } },
        }),
      }),
    ).toThrow(/identity\.ses: email MFA needs an SES sender/);
    const app = testApp({ compliance: false });
    const config = loadStageConfig('staging', {
      overrides: (c) => ({
        ...c,
        identity: {
          ...c.identity,
          mfaSecondFactors: { sms: true, email: true },
          ses: { fromAddress: 'no-reply@example.com', region: 'eu-west-1' },
        },
      }),
    });
    const stack = new IdentityStack(app, { config, network: new NetworkStack(app, { config }) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Cognito::UserPool', {
      EnabledMfas: ['SMS_MFA', 'SOFTWARE_TOKEN_MFA', 'EMAIL_OTP'],
      EmailConfiguration: Match.objectLike({
        EmailSendingAccount: 'DEVELOPER',
        From: 'no-reply@example.com',
      }),
    });
  });
});
