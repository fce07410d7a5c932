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
    ['AccountRecoveryRole', (r: iam.Role) => identity.grantAccountRecovery(r)],
    ['SesSenderRole', (r: iam.Role) => identity.grantSendAsSesSender(r)],
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

/** An app client's properties, by its name (`citadel-web`, `citadel-recovery`). */
const clientNamed = (template: Template, name: string): Record<string, unknown> => {
  const found = Object.values(template.findResources('AWS::Cognito::UserPoolClient')).filter(
    (c) => c.Properties.ClientName === name,
  );
  expect(found).toHaveLength(1);
  return found[0]?.Properties as Record<string, unknown>;
};
const webClient = (stage: Stage) => clientNamed(tpl(stage), 'citadel-web');

type Props = Record<string, unknown>;

/**
 * What the web client must let a stage's users do with their own factors: read and write exactly the attributes
 * the stage's factors need (the phone number where SMS is one), and call their own Cognito operations from a
 * managed-login token (`aws.cognito.signin.user.admin`). One sentence per problem.
 */
function webClientProblems(config: StageConfig, client: Props, pool: Props): string[] {
  const sms = config.identity.mfaSecondFactors.sms;
  const problems: string[] = [];
  const read = [...((client.ReadAttributes as string[]) ?? [])].sort();
  const write = [...((client.WriteAttributes as string[]) ?? [])].sort();
  const wantRead = [
    'email',
    'email_verified',
    ...(sms ? ['phone_number', 'phone_number_verified'] : []),
  ].sort();
  const wantWrite = ['email', ...(sms ? ['phone_number'] : [])].sort();
  if (JSON.stringify(read) !== JSON.stringify(wantRead))
    problems.push(`web client reads ${read.join(', ')}; it must read ${wantRead.join(', ')}`);
  if (JSON.stringify(write) !== JSON.stringify(wantWrite))
    problems.push(`web client writes ${write.join(', ')}; it must write ${wantWrite.join(', ')}`);
  const scopes = JSON.stringify(client.AllowedOAuthScopes ?? []);
  if (!scopes.includes('"aws.cognito.signin.user.admin"'))
    problems.push(
      'managed-login tokens cannot call UpdateUserAttributes/VerifyUserAttribute (no aws.cognito.signin.user.admin)',
    );
  if (sms && !scopes.includes('"phone"')) problems.push('the phone scope is missing where SMS is a factor');
  const verified = (pool.AutoVerifiedAttributes as string[]) ?? [];
  const kept =
    ((pool.UserAttributeUpdateSettings as Props)?.AttributesRequireVerificationBeforeUpdate as string[]) ??
    [];
  if (sms && !verified.includes('phone_number'))
    problems.push(
      'Cognito does not text a code when a phone number is added (phone_number not auto-verified)',
    );
  if (sms && !kept.includes('phone_number'))
    problems.push('an unverified new phone number replaces the verified one (not kept until verified)');
  const schema = JSON.stringify(pool.Schema ?? []);
  if (sms && !schema.includes('"Name":"phone_number"'))
    problems.push('the pool has no mutable phone_number attribute');
  return problems;
}

/** The recovery client: the admin password flow only, no OAuth, no secret, user existence hidden. */
function recoveryClientProblems(client: Props): string[] {
  const problems: string[] = [];
  if (JSON.stringify(client.ExplicitAuthFlows) !== JSON.stringify(['ALLOW_ADMIN_USER_PASSWORD_AUTH']))
    problems.push(
      `recovery client flows are ${JSON.stringify(client.ExplicitAuthFlows)}, not ADMIN_USER_PASSWORD_AUTH alone`,
    );
  if (client.AllowedOAuthFlowsUserPoolClient !== false || client.AllowedOAuthFlows !== undefined)
    problems.push('recovery client allows OAuth');
  if (client.GenerateSecret !== false) problems.push('recovery client has a secret');
  if (client.PreventUserExistenceErrors !== 'ENABLED')
    problems.push('recovery client reveals whether users exist');
  return problems;
}

/** Cognito mails through the stage's SES sender, with its configuration set, from its address. */
function sesProblems(config: StageConfig, pool: Props): string[] {
  const ses = config.identity.ses;
  const email = pool.EmailConfiguration as Props | undefined;
  if (!ses) return email ? ['the pool sends through SES although the stage has no sender'] : [];
  const problems: string[] = [];
  if (email?.EmailSendingAccount !== 'DEVELOPER') problems.push("the pool uses Cognito's default email");
  if (email?.ConfigurationSet !== ses.configurationSet)
    problems.push(`the pool's mail does not use configuration set ${ses.configurationSet}`);
  if (!String(email?.From ?? '').includes(ses.fromAddress))
    problems.push(`the pool's mail is not from ${ses.fromAddress}`);
  const source = JSON.stringify(email?.SourceArn ?? '');
  if (!source.includes(`:ses:${ses.region}:`) || !source.includes(`:identity/${ses.identity}`))
    problems.push(`the pool's mail is not sent as identity ${ses.identity} in ${ses.region}`);
  return problems;
}

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

  it("dev: email MFA off and Cognito's own email (the stage has no SES sender)", () => {
    expect(userPoolProps('dev').EnabledMfas as string[]).not.toContain('EMAIL_OTP');
    expect(userPoolProps('dev').EmailConfiguration).toBeUndefined();
    expect(sesProblems(of('dev').config, userPoolProps('dev'))).toEqual([]);
  });

  it.each(['staging', 'prod'] as const)(
    '%s: email is a second factor, and every Cognito email goes through the stage SES sender and configuration set',
    (stage) => {
      const { ses } = of(stage).config.identity;
      expect(userPoolProps(stage).EnabledMfas).toEqual(['SMS_MFA', 'SOFTWARE_TOKEN_MFA', 'EMAIL_OTP']);
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
        EmailConfiguration: {
          EmailSendingAccount: 'DEVELOPER',
          From: `Citadel <${ses?.fromAddress}>`,
          ConfigurationSet: ses?.configurationSet,
          SourceArn: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                `:ses:${ses?.region}:`,
                { Ref: 'AWS::AccountId' },
                `:identity/${ses?.identity}`,
              ],
            ],
          },
        },
      });
      expect(sesProblems(of(stage).config, userPoolProps(stage))).toEqual([]);
    },
  );

  it("the SES check reports the pool sending with Cognito's email, without the configuration set, or as another identity", () => {
    const { config } = of('prod');
    const pool = userPoolProps('prod');
    const without = (key: string) => {
      const email = { ...(pool.EmailConfiguration as Props) };
      delete email[key];
      return { ...pool, EmailConfiguration: email };
    };
    expect(sesProblems(config, { ...pool, EmailConfiguration: undefined })).toContain(
      "the pool uses Cognito's default email",
    );
    expect(sesProblems(config, without('ConfigurationSet'))).toEqual([
      "the pool's mail does not use configuration set citadel-prod",
    ]);
    expect(sesProblems(config, without('SourceArn'))).toEqual([
      "the pool's mail is not sent as identity citadel.example.com in eu-west-1",
    ]);
  });

  it.each(STAGES)(
    '%s: signs in with a verified, case-insensitive email and keeps it (and the phone number) until a change is verified',
    (stage) => {
      const sms = of(stage).config.identity.mfaSecondFactors.sms;
      const verified = sms ? ['email', 'phone_number'] : ['email'];
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
        UsernameAttributes: ['email'],
        UsernameConfiguration: { CaseSensitive: false },
        AutoVerifiedAttributes: verified,
        Schema: sms
          ? [
              { Name: 'email', Required: true, Mutable: true },
              { Name: 'phone_number', Required: false, Mutable: true },
            ]
          : [{ Name: 'email', Required: true, Mutable: true }],
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: verified },
      });
    },
  );

  it.each(STAGES)('%s: the web client lets users enrol the factors the stage offers', (stage) => {
    expect(webClientProblems(of(stage).config, webClient(stage), userPoolProps(stage))).toEqual([]);
  });

  it('the client-attribute check reports what stops SMS enrolment (prod, each defect put back)', () => {
    const { config } = of('prod');
    const client = webClient('prod');
    const pool = userPoolProps('prod');
    expect(
      webClientProblems(
        config,
        { ...client, ReadAttributes: ['email', 'email_verified'], WriteAttributes: ['email'] },
        pool,
      ),
    ).toEqual([
      'web client reads email, email_verified; it must read email, email_verified, phone_number, phone_number_verified',
      'web client writes email; it must write email, phone_number',
    ]);
    expect(
      webClientProblems(
        config,
        {
          ...client,
          AllowedOAuthScopes: (client.AllowedOAuthScopes as unknown[]).filter(
            (s) => s !== 'aws.cognito.signin.user.admin',
          ),
        },
        pool,
      ),
    ).toEqual([
      'managed-login tokens cannot call UpdateUserAttributes/VerifyUserAttribute (no aws.cognito.signin.user.admin)',
    ]);
    expect(
      webClientProblems(config, client, {
        ...pool,
        AutoVerifiedAttributes: ['email'],
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      }),
    ).toEqual([
      'Cognito does not text a code when a phone number is added (phone_number not auto-verified)',
      'an unverified new phone number replaces the verified one (not kept until verified)',
    ]);
  });

  it.each(STAGES)(
    '%s: self-service recovery checks passwords on its own client: the admin password flow only, no OAuth, no secret',
    (stage) => {
      const client = clientNamed(tpl(stage), 'citadel-recovery');
      expect(recoveryClientProblems(client)).toEqual([]);
      expect(client).toMatchObject({
        AuthSessionValidity: 3,
        EnableTokenRevocation: true,
        RefreshTokenRotation: { Feature: 'ENABLED' },
      });
    },
  );

  it('the recovery-client check reports a client that anyone could sign in with', () => {
    const client = clientNamed(tpl('prod'), 'citadel-recovery');
    expect(
      recoveryClientProblems({
        ...client,
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_USER_PASSWORD_AUTH'],
      }),
    ).toEqual([
      'recovery client flows are ["ALLOW_ADMIN_USER_PASSWORD_AUTH","ALLOW_USER_PASSWORD_AUTH"], not ADMIN_USER_PASSWORD_AUTH alone',
    ]);
    expect(
      recoveryClientProblems({
        ...client,
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthFlows: ['code'],
      }),
    ).toEqual(['recovery client allows OAuth']);
    expect(recoveryClientProblems({ ...client, PreventUserExistenceErrors: 'LEGACY' })).toEqual([
      'recovery client reveals whether users exist',
    ]);
  });

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

  it('dev: resets forgotten passwords by verified email only', () => {
    tpl('dev').hasResourceProperties('AWS::Cognito::UserPool', {
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
    });
  });

  it.each(['staging', 'prod'] as const)(
    '%s: resets forgotten passwords by verified email, else a verified phone that is not the MFA factor',
    (stage) => {
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPool', {
        AccountRecoverySetting: {
          RecoveryMechanisms: [
            { Name: 'verified_email', Priority: 1 },
            { Name: 'verified_phone_number', Priority: 2 },
          ],
        },
      });
    },
  );

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
        // Blocked and challenged sign-ins are notified through the stage's SES sender.
        NotifyConfiguration: Match.objectLike({
          From: 'no-reply@citadel.example.com',
          SourceArn: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        }),
        Actions: {
          HighAction: { EventAction: 'BLOCK', Notify: true },
          MediumAction: { EventAction: 'MFA_REQUIRED', Notify: true },
          LowAction: { EventAction: 'NO_ACTION', Notify: false },
        },
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
      ClientName: 'citadel-web',
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
    });
  });

  it.each(STAGES)('%s: the web client signs in with SRP only, never with a plain password', (stage) => {
    const flows = webClient(stage).ExplicitAuthFlows as string[];
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

  it.each(STAGES)(
    '%s: the web client asks for OIDC scopes, its own user operations and the three citadel scopes',
    (stage) => {
      const scope = (name: string) => ({
        'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('ResourceServer') }, `/${name}`]],
      });
      const sms = of(stage).config.identity.mfaSecondFactors.sms;
      tpl(stage).hasResourceProperties('AWS::Cognito::UserPoolClient', {
        ClientName: 'citadel-web',
        AllowedOAuthScopes: [
          'openid',
          'email',
          'profile',
          ...(sms ? ['phone'] : []),
          'aws.cognito.signin.user.admin',
          scope('files.read'),
          scope('files.write'),
          scope('admin'),
        ],
      });
    },
  );

  it.each(STAGES)(
    '%s: tokens live as long as the stage config says, access and ID at most 60 minutes',
    (stage) => {
      const { tokenValidityMinutes, refreshTokenValidityDays } = of(stage).config.identity;
      const p = webClient(stage);
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

  it('dev: the web client reads only the email attributes and writes only email', () => {
    expect(webClient('dev')).toMatchObject({
      ReadAttributes: ['email', 'email_verified'],
      WriteAttributes: ['email'],
    });
  });

  it.each(['staging', 'prod'] as const)(
    '%s: the web client also reads and writes the phone number (SMS is a factor), never the verified flags',
    (stage) => {
      expect(webClient(stage)).toMatchObject({
        ReadAttributes: ['email', 'email_verified', 'phone_number', 'phone_number_verified'],
        WriteAttributes: ['email', 'phone_number'],
      });
    },
  );

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
      expect(counted).toHaveLength(7);
      const text = JSON.stringify(counted);
      for (const op of [
        'initiateauth',
        'respondtoauthchallenge',
        'confirmforgotpassword',
        'verifysoftwaretoken',
        'verifyuserattribute',
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

  describe('grants for self-service recovery', () => {
    const statementsOf = (rolePrefix: string) => {
      const policies = (of('prod').consumer as Template).findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }] },
      });
      expect(Object.keys(policies)).toHaveLength(1);
      return Object.values(policies)[0]?.Properties.PolicyDocument.Statement as Array<
        Record<string, unknown>
      >;
    };

    it('grantAccountRecovery allows the password check, the user read, the MFA reset and the sign-out on this pool', () => {
      const [statement, ...rest] = statementsOf('AccountRecoveryRole');
      expect(rest).toHaveLength(0);
      expect([statement?.Action].flat().sort()).toEqual([
        'cognito-idp:AdminGetUser',
        'cognito-idp:AdminInitiateAuth',
        'cognito-idp:AdminSetUserMFAPreference',
        'cognito-idp:AdminUserGlobalSignOut',
      ]);
    });

    it('grantSendAsSesSender allows ses:SendEmail on the identity and configuration set, from the stage address only', () => {
      const { ses } = of('prod').config.identity;
      const [statement, ...rest] = statementsOf('SesSenderRole');
      expect(rest).toHaveLength(0);
      expect(statement).toMatchObject({
        Action: 'ses:SendEmail',
        Effect: 'Allow',
        Condition: { StringEquals: { 'ses:FromAddress': ses?.fromAddress } },
      });
      const resources = JSON.stringify(statement?.Resource);
      expect(resources).toContain(`:ses:${ses?.region}:`);
      expect(resources).toContain(`:identity/${ses?.identity}`);
      expect(resources).toContain(`:configuration-set/${ses?.configurationSet}`);
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
      loadStageConfig('dev', {
        overrides: (c) => ({
          ...c,
          identity: { ...c.identity, mfaSecondFactors: { sms: false, email: true } },
        }),
      }),
    ).toThrow(/identity\.ses: email MFA needs an SES sender/);
    const app = testApp({ compliance: false });
    const config = loadStageConfig('dev', {
      overrides: (c) => ({
        ...c,
        identity: {
          ...c.identity,
          mfaSecondFactors: { sms: false, email: true },
          ses: {
            identity: 'no-reply@example.com',
            fromAddress: 'no-reply@example.com',
            region: 'eu-west-1',
            configurationSet: 'citadel-dev',
          },
        },
      }),
    });
    const stack = new IdentityStack(app, { config, network: new NetworkStack(app, { config }) });
    const pool = Object.values(Template.fromStack(stack).findResources('AWS::Cognito::UserPool'))[0]
      ?.Properties as Props;
    expect(pool.EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA', 'EMAIL_OTP']);
    expect(pool.EmailConfiguration).toMatchObject({
      EmailSendingAccount: 'DEVELOPER',
      From: 'no-reply@example.com',
      ConfigurationSet: 'citadel-dev',
    });
    // An address identity is its own source: no domain in the ARN.
    expect(JSON.stringify(pool.EmailConfiguration)).toContain(':identity/no-reply@example.com');
    expect(sesProblems(config, pool)).toEqual([]);
  });
});
