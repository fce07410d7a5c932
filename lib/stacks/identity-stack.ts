import {
  Aws,
  aws_cognito as cognito,
  Duration,
  aws_iam as iam,
  RemovalPolicy,
  type aws_wafv2 as wafv2,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RESOURCE_SERVER_ID, ROLES, type Role, SCOPES, type Scope } from '../../contract/roles';
import { acknowledge } from '../compliance';
import type { StageConfig } from '../config';
import { CitadelStack } from '../constructs/citadel-stack';
import { RegionalWebAcl } from '../constructs/regional-web-acl';
import type { NetworkStack } from './network-stack';

export interface IdentityStackProps {
  readonly config: StageConfig;
  readonly network: NetworkStack;
}

/** What the admin API does with machine clients: create them and revoke them. */
const MACHINE_CLIENT_ADMIN_ACTIONS = [
  'cognito-idp:CreateUserPoolClient',
  'cognito-idp:DeleteUserPoolClient',
] as const;

/** What the admin API does to reset a user's MFA: read the user, clear the preference, end sessions. */
const MFA_RESET_ACTIONS = [
  'cognito-idp:AdminGetUser',
  'cognito-idp:AdminSetUserMFAPreference',
  'cognito-idp:AdminUserGlobalSignOut',
] as const;

/**
 * What self-service recovery does with a recovery code: verify the password (`AdminInitiateAuth` on the recovery
 * client, which stops at the MFA challenge), read the user (sub, verified email), clear the MFA preference and
 * end every session.
 */
const ACCOUNT_RECOVERY_ACTIONS = ['cognito-idp:AdminInitiateAuth', ...MFA_RESET_ACTIONS] as const;

/** Cognito groups, highest role first; a lower precedence number wins when a user is in several. */
const GROUP_DESCRIPTIONS: Record<Role, string> = {
  admin: 'Everything a manager may do, plus deleting anyone’s files, managing API clients and resetting MFA',
  manager: 'Everything a user may do, plus reading anyone’s files and the audit log',
  user: 'Uploads files and lists, reads, downloads and deletes their own',
  guest: 'Health, own profile, read-only',
};

const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'files.read': 'List, read and download files',
  'files.write': 'Upload and delete files',
  admin: 'Administer API clients and users',
};

/** Precedence step between neighbouring roles, leaving room to insert a role later. */
const PRECEDENCE_STEP = 10;

/** Prefix of every Cognito user-pool API operation's `x-amz-target`, lower-cased. */
const COGNITO_TARGET_PREFIX = 'awscognitoidentityproviderservice.';

/** Cognito API operations that always present a password, an MFA code or a recovery code. */
const CREDENTIAL_TARGETS = [
  'RespondToAuthChallenge',
  'ConfirmForgotPassword',
  'VerifySoftwareToken',
  // The code texted or emailed to verify a phone number or email address (enrolling an SMS or email factor).
  'VerifyUserAttribute',
];

/** `InitiateAuth` flows that present a refresh token, not a password: not sign-in attempts. */
const REFRESH_AUTH_FLOWS = ['REFRESH_TOKEN_AUTH', 'REFRESH_TOKEN'];

/** Refresh-token rotation: how long the superseded refresh token stays usable, for client retries. */
const REFRESH_TOKEN_RETRY_GRACE = Duration.seconds(10);

/**
 * Who signs in: the Cognito user pool (email sign-in, MFA required, strong passwords, threat
 * protection per stage), the role groups, the `citadel` resource server and its scopes, the web
 * client, the managed-login domain, and a WAF web ACL that rate-limits sign-in per client IP.
 */
export class IdentityStack extends CitadelStack {
  readonly userPool: cognito.UserPool;
  /** The role groups by name; precedence encodes the hierarchy (admin wins). */
  readonly groups: Readonly<Record<Role, cognito.UserPoolGroup>>;
  readonly resourceServer: cognito.UserPoolResourceServer;
  /** The resource server's scopes, as OAuth scopes for clients (`citadel/<scope>`). */
  readonly scopes: Readonly<Record<Scope, cognito.OAuthScope>>;
  /** The browser client: authorization code (the SPA adds PKCE), SRP, no secret, rotating refresh tokens. */
  readonly webClient: cognito.UserPoolClient;
  /**
   * The client self-service recovery verifies passwords with: `ADMIN_USER_PASSWORD_AUTH` only, which needs IAM
   * credentials (`cognito-idp:AdminInitiateAuth`), no OAuth, no secret. MFA is required, so it never yields tokens.
   */
  readonly recoveryClient: cognito.UserPoolClient;
  /** The managed-login prefix domain, `<domainPrefix>-<account id>`. */
  readonly domain: cognito.UserPoolDomain;
  readonly webAcl: RegionalWebAcl;

  constructor(scope: Construct, props: IdentityStackProps) {
    super(scope, 'Identity', { config: props.config, stateful: true });
    const { config, network } = props;
    const identity = config.identity;

    this.userPool = this.createUserPool(config);
    this.groups = this.createGroups();

    const serverScopes = SCOPES.map(
      (s) => new cognito.ResourceServerScope({ scopeName: s, scopeDescription: SCOPE_DESCRIPTIONS[s] }),
    );
    this.resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_ID,
      userPoolResourceServerName: 'Citadel API',
      scopes: serverScopes,
    });
    this.scopes = Object.fromEntries(
      serverScopes.map((s) => [s.scopeName, cognito.OAuthScope.resourceServer(this.resourceServer, s)]),
    ) as Record<Scope, cognito.OAuthScope>;

    this.webClient = this.createWebClient(config);
    this.recoveryClient = this.createRecoveryClient();

    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: `${identity.domainPrefix}-${Aws.ACCOUNT_ID}` },
      managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
    });
    // Managed login (v2) renders only for app clients that have a branding style; use Cognito's default.
    const branding = new cognito.CfnManagedLoginBranding(this, 'WebClientBranding', {
      userPoolId: this.userPool.userPoolId,
      clientId: this.webClient.userPoolClientId,
      useCognitoProvidedValues: true,
    });
    branding.node.addDependency(this.domain);

    this.webAcl = this.createWebAcl(config, network);
  }

  /** Lets the admin API create, read back and delete machine (client-credentials) clients of this pool. */
  grantMachineClientAdmin(grantee: iam.IGrantable): iam.Grant {
    return this.userPool.grant(grantee, ...MACHINE_CLIENT_ADMIN_ACTIONS);
  }

  /** Lets the admin API reset a user's MFA in this pool and sign the user out everywhere. */
  grantMfaReset(grantee: iam.IGrantable): iam.Grant {
    return this.userPool.grant(grantee, ...MFA_RESET_ACTIONS);
  }

  /**
   * Lets self-service recovery verify a user's password (the recovery client's admin password flow), read the user,
   * reset their MFA and sign them out everywhere, in this pool.
   */
  grantAccountRecovery(grantee: iam.IGrantable): iam.Grant {
    return this.userPool.grant(grantee, ...ACCOUNT_RECOVERY_ACTIONS);
  }

  /**
   * Lets `grantee` send mail as the stage's SES sender (`identity.ses`): `ses:SendEmail` on the identity and the
   * configuration set, from the configured address only. `undefined` when the stage has no SES sender.
   */
  grantSendAsSesSender(grantee: iam.IGrantable): iam.Grant | undefined {
    const ses = this.config.identity.ses;
    if (!ses) return undefined;
    // SES has no L2 grant for an identity verified outside the app in another region (EmailIdentity's grant builds
    // the ARN in this stack's region and adds SendRawEmail): SendEmail (v2) is authorized on the identity and on the
    // configuration set it names, and ses:FromAddress pins the sender.
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ses:SendEmail'],
      resourceArns: [
        sesArn(ses.region, `identity/${ses.identity}`),
        sesArn(ses.region, `configuration-set/${ses.configurationSet}`),
      ],
      conditions: { StringEquals: { 'ses:FromAddress': ses.fromAddress } },
    });
  }

  private createUserPool(config: StageConfig): cognito.UserPool {
    const identity = config.identity;
    const threatProtection = {
      off: undefined,
      audit: cognito.StandardThreatProtectionMode.AUDIT_ONLY,
      enforced: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
    }[identity.threatProtection];

    const sms = identity.mfaSecondFactors.sms;
    const smsRole = sms ? this.createSmsRole() : undefined;

    const userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `citadel-${config.stage}`,
      featurePlan:
        identity.featurePlan === 'plus' ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: threatProtection,
      selfSignUpEnabled: identity.selfSignUp,
      signInAliases: { email: true, username: false, phone: false, preferredUsername: false },
      signInCaseSensitive: false,
      // Where SMS is a factor, users add a phone number themselves: Cognito texts a code (auto-verification) and
      // keeps the verified number in force until the new one is verified, so a stolen token cannot redirect codes.
      autoVerify: { email: true, phone: sms },
      keepOriginal: { email: true, phone: sms },
      standardAttributes: {
        email: { required: true, mutable: true },
        ...(sms ? { phoneNumber: { required: false, mutable: true } } : {}),
      },
      mfa: cognito.Mfa.REQUIRED,
      // Email MFA needs an SES sender; the config schema refuses it without `identity.ses`.
      mfaSecondFactor: { otp: true, sms, email: identity.mfaSecondFactors.email },
      ...(identity.ses
        ? {
            email: cognito.UserPoolEmail.withSES({
              fromEmail: identity.ses.fromAddress,
              fromName: identity.ses.fromName,
              replyTo: identity.ses.replyTo,
              sesRegion: identity.ses.region,
              // A domain identity signs for every address of the domain; an address identity only for itself.
              sesVerifiedDomain: identity.ses.identity.includes('@') ? undefined : identity.ses.identity,
              configurationSetName: identity.ses.configurationSet,
            }),
          }
        : {}),
      ...(smsRole ? { smsRole: smsRole.role, smsRoleExternalId: smsRole.externalId } : {}),
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
        // Both plans the config allows (Essentials, Plus) support password history; Lite does not.
        passwordHistorySize: 5,
      },
      // Cognito never sends a reset code over the channel a user has as an MFA factor ("Email MFA is also
      // disqualifying for account recovery with email"): with SMS on, a user whose email is their factor resets by
      // a verified phone, and the reverse.
      accountRecovery: sms
        ? cognito.AccountRecovery.EMAIL_AND_PHONE_WITHOUT_MFA
        : cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: config.protectData,
    });

    if (identity.threatProtection === 'enforced') {
      // Explicit risk actions instead of Cognito's defaults. Users are told of blocked and challenged sign-ins when
      // the stage has an SES sender (notifications need one); Cognito's default message templates are used.
      const notify = identity.ses !== undefined;
      new cognito.CfnUserPoolRiskConfigurationAttachment(this, 'RiskConfiguration', {
        userPoolId: userPool.userPoolId,
        clientId: 'ALL',
        compromisedCredentialsRiskConfiguration: {
          eventFilter: ['SIGN_IN', 'SIGN_UP', 'PASSWORD_CHANGE'],
          actions: { eventAction: 'BLOCK' },
        },
        accountTakeoverRiskConfiguration: {
          ...(identity.ses
            ? {
                notifyConfiguration: {
                  sourceArn: sesArn(identity.ses.region, `identity/${identity.ses.identity}`),
                  from: identity.ses.fromAddress,
                  replyTo: identity.ses.replyTo,
                },
              }
            : {}),
          actions: {
            highAction: { eventAction: 'BLOCK', notify },
            mediumAction: { eventAction: 'MFA_REQUIRED', notify },
            lowAction: { eventAction: 'NO_ACTION', notify: false },
          },
        },
      });
    }
    if (identity.featurePlan !== 'plus') {
      acknowledge(
        userPool,
        ['AwsSolutions-COG8'],
        `Stage ${config.stage} uses the Essentials feature plan to save cost, so threat protection is unavailable; staging and prod run Plus and prod enforces threat protection (enforced by the stage config schema).`,
      );
    }
    return userPool;
  }

  /**
   * The role Cognito assumes to send SMS codes. Written here instead of the L2's default so the
   * permission lives in a managed policy (no inline policy) and the trust carries confused-deputy
   * conditions besides the external id.
   */
  private createSmsRole(): { role: iam.Role; externalId: string } {
    // Not a secret: with the source-account condition it binds the role to this account's user pools.
    const externalId = `citadel-${this.config.stage}-user-pool-sms`;
    const role = new iam.Role(this, 'SmsRole', {
      description: 'Lets Cognito send SMS MFA codes for the Citadel user pool',
      assumedBy: new iam.ServicePrincipal('cognito-idp.amazonaws.com').withConditions({
        StringEquals: { 'sts:ExternalId': externalId, 'aws:SourceAccount': Aws.ACCOUNT_ID },
      }),
    });
    const policy = new iam.ManagedPolicy(this, 'SmsPublishPolicy', {
      description: 'Cognito SMS MFA: publish text messages through SNS',
      statements: [new iam.PolicyStatement({ actions: ['sns:Publish'], resources: ['*'] })],
    });
    role.addManagedPolicy(policy);
    acknowledge(
      policy,
      ['AwsSolutions-IAM5[Resource::*]'],
      'Cognito sends SMS codes with sns:Publish straight to phone numbers, which have no ARN; only this user pool can assume the role (external id and source account).',
    );
    return { role, externalId };
  }

  private createGroups(): Record<Role, cognito.UserPoolGroup> {
    const top = ROLES.length - 1;
    return Object.fromEntries(
      ROLES.map((role, rank) => [
        role,
        this.userPool.addGroup(`${role.charAt(0).toUpperCase()}${role.slice(1)}Group`, {
          groupName: role,
          description: GROUP_DESCRIPTIONS[role],
          precedence: (top - rank) * PRECEDENCE_STEP,
        }),
      ]),
    ) as Record<Role, cognito.UserPoolGroup>;
  }

  /**
   * Cognito has no switch that requires PKCE; a client without a secret is a public client, and the
   * SPA sends `code_challenge` (S256) with every authorization request.
   * Refresh-token rotation is on, which rules out `REFRESH_TOKEN_AUTH`: tokens are refreshed at the
   * token endpoint (`refresh_token` grant) or with `GetTokensFromRefreshToken`.
   */
  private createWebClient(config: StageConfig): cognito.UserPoolClient {
    const identity = config.identity;
    const sms = identity.mfaSecondFactors.sms;
    const tokenValidity = Duration.minutes(identity.tokenValidityMinutes);
    return this.userPool.addClient('WebClient', {
      userPoolClientName: 'citadel-web',
      generateSecret: false,
      authFlows: { userSrp: true, userPassword: false, adminUserPassword: false, custom: false, user: false },
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [
          cognito.OAuthScope.OPENID,
          cognito.OAuthScope.EMAIL,
          cognito.OAuthScope.PROFILE,
          ...(sms ? [cognito.OAuthScope.PHONE] : []),
          // Lets a managed-login token call the user's own Cognito operations: add and verify a phone number or
          // email address (UpdateUserAttributes, VerifyUserAttribute) and choose factors (SetUserMFAPreference).
          cognito.OAuthScope.COGNITO_ADMIN,
          ...SCOPES.map((s) => this.scopes[s]),
        ],
        callbackUrls: [...identity.callbackUrls],
        logoutUrls: [...identity.logoutUrls],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: tokenValidity,
      idTokenValidity: tokenValidity,
      refreshTokenValidity: Duration.days(identity.refreshTokenValidityDays),
      refreshTokenRotationGracePeriod: REFRESH_TOKEN_RETRY_GRACE,
      // Where SMS is a factor the SPA shows and changes the user's phone number (UpdateUserAttributes, then
      // VerifyUserAttribute with the texted code); `*_verified` are read-only to clients.
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({
        email: true,
        emailVerified: true,
        phoneNumber: sms,
        phoneNumberVerified: sms,
      }),
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({
        email: true,
        phoneNumber: sms,
      }),
    });
  }

  /**
   * The app client recovery verifies a password with, server side: `ALLOW_ADMIN_USER_PASSWORD_AUTH` only (an
   * IAM-authorized flow: nobody without `cognito-idp:AdminInitiateAuth` on this pool can use the client), no OAuth
   * flow or scope, no secret (the caller is authenticated by IAM), sessions of 3 minutes. Refresh-token
   * rotation is on, which keeps `ALLOW_REFRESH_TOKEN_AUTH` off. MFA is required on the pool, so a correct password
   * only ever reaches the MFA challenge: this client issues no tokens.
   */
  private createRecoveryClient(): cognito.UserPoolClient {
    return this.userPool.addClient('RecoveryClient', {
      userPoolClientName: 'citadel-recovery',
      generateSecret: false,
      authFlows: { adminUserPassword: true },
      disableOAuth: true,
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      authSessionValidity: Duration.minutes(3),
      accessTokenValidity: Duration.minutes(5),
      idTokenValidity: Duration.minutes(5),
      refreshTokenValidity: Duration.minutes(60),
      refreshTokenRotationGracePeriod: REFRESH_TOKEN_RETRY_GRACE,
    });
  }

  /**
   * WAF on the user pool: AWS managed rules, then two per-IP rate rules.
   *
   * `SignInRateLimit` counts only requests that present a password, an MFA code or a recovery code (see
   * {@link credentialAttempts}); token refreshes, which a user behind an office NAT makes every
   * `tokenValidityMinutes`, are never counted. The seeds allowed 5 failed sign-ins per 15 minutes per IP; WAF's
   * floor is 10 requests per window of 60–600 s, so `identity.signInRateLimit` is 10 per 600 s: 10 password or
   * code guesses, or about three complete managed-login sign-ins (password, MFA code, code exchange) per IP per
   * 10 minutes. Cognito's own lockout after failed passwords (and, with Plus, threat protection) complements it.
   *
   * `ClientCredentialsRateLimit` gives machine clients' client-credentials token requests their own, higher
   * limit per calling IP (they ask once per token lifetime).
   */
  private createWebAcl(config: StageConfig, network: NetworkStack): RegionalWebAcl {
    const webAcl = new RegionalWebAcl(this, 'WebAcl', {
      name: `citadel-${config.stage}-identity`,
      resourceType: 'COGNITO_USER_POOL',
      logsKey: network.logsKey,
      logRetention: config.observability.logRetentionDays,
      logRemovalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      rateRules: [
        { name: 'SignInRateLimit', ...config.identity.signInRateLimit, scopeDown: credentialAttempts() },
        {
          name: 'ClientCredentialsRateLimit',
          ...config.identity.clientCredentialsRateLimit,
          scopeDown: clientCredentialsGrants(),
        },
      ],
    });
    webAcl.associate('UserPoolAssociation', this.userPool.userPoolArn);
    return webAcl;
  }
}

/** An SES resource ARN in the SES sender's region (which need not be the stack's). */
const sesArn = (region: string, resource: string): string =>
  `arn:${Aws.PARTITION}:ses:${region}:${Aws.ACCOUNT_ID}:${resource}`;

type Statement = wafv2.CfnWebACL.StatementProperty;
type Transformation = 'NONE' | 'LOWERCASE' | 'NORMALIZE_PATH';

const transforms = (...types: Transformation[]) => types.map((type, priority) => ({ priority, type }));
const not = (statement: Statement): Statement => ({ notStatement: { statement } });
const and = (...statements: Statement[]): Statement => ({ andStatement: { statements } });
const or = (...statements: Statement[]): Statement =>
  statements.length === 1 ? (statements[0] as Statement) : { orStatement: { statements } };

/** The URI path, `//` and `/./` collapsed and lower-cased, compared with `path`. */
const path = (positionalConstraint: 'EXACTLY' | 'STARTS_WITH', searchString: string): Statement => ({
  byteMatchStatement: {
    fieldToMatch: { uriPath: {} },
    positionalConstraint,
    searchString,
    textTransformations: transforms('NORMALIZE_PATH', 'LOWERCASE'),
  },
});

/** A Cognito API call to `operation` (`x-amz-target`, compared lower-cased: case variants count too). */
const target = (operation: string): Statement => ({
  byteMatchStatement: {
    fieldToMatch: { singleHeader: { Name: 'x-amz-target' } },
    positionalConstraint: 'EXACTLY',
    searchString: `${COGNITO_TARGET_PREFIX}${operation.toLowerCase()}`,
    textTransformations: transforms('LOWERCASE'),
  },
});

/** Any Cognito user-pool API call (as opposed to a managed-login page or an OAuth endpoint). */
const anyCognitoApiCall = (): Statement => ({
  byteMatchStatement: {
    fieldToMatch: { singleHeader: { Name: 'x-amz-target' } },
    positionalConstraint: 'STARTS_WITH',
    searchString: COGNITO_TARGET_PREFIX,
    textTransformations: transforms('LOWERCASE'),
  },
});

/**
 * A form body (`application/x-www-form-urlencoded`) whose field `name` is exactly `value`, as clients encode it.
 * No transformation: a differently encoded field is not recognised, so it is counted as a sign-in attempt.
 * Oversize bodies (over Cognito's 16 KB inspection default) do not match.
 */
const formField = (name: string, value: string): Statement => {
  const field = `${name}=${value}`;
  const body = (
    positionalConstraint: 'EXACTLY' | 'STARTS_WITH' | 'ENDS_WITH' | 'CONTAINS',
    searchString: string,
  ) => ({
    byteMatchStatement: {
      fieldToMatch: { body: { oversizeHandling: 'NO_MATCH' } },
      positionalConstraint,
      searchString,
      textTransformations: transforms('NONE'),
    },
  });
  return or(
    body('EXACTLY', field),
    body('STARTS_WITH', `${field}&`),
    body('ENDS_WITH', `&${field}`),
    body('CONTAINS', `&${field}&`),
  );
};

/**
 * An `InitiateAuth` body whose `AuthFlow` is a refresh flow. A body WAF cannot parse completely (duplicate keys,
 * say a second `AuthFlow`) or that is oversize does not match, so it is counted as a sign-in attempt.
 */
const refreshAuthFlow = (): Statement =>
  or(
    ...REFRESH_AUTH_FLOWS.map(
      (flow): Statement => ({
        byteMatchStatement: {
          fieldToMatch: {
            jsonBody: {
              matchPattern: { includedPaths: ['/AuthFlow'] },
              matchScope: 'VALUE',
              invalidFallbackBehavior: 'NO_MATCH',
              oversizeHandling: 'NO_MATCH',
            },
          },
          positionalConstraint: 'EXACTLY',
          searchString: flow,
          textTransformations: transforms('NONE'),
        },
      }),
    ),
  );

const TOKEN_ENDPOINT = '/oauth2/token';

/**
 * Requests that present a password, an MFA code or a recovery code:
 * - form posts to the managed-login pages (sign-in, MFA, recovery, sign-up): every POST on the user-pool domain
 *   but the OAuth endpoints and Cognito API calls;
 * - token-endpoint grants that are neither refreshes nor client credentials (authorization code: the end of a
 *   sign-in);
 * - `InitiateAuth` with any flow but a refresh flow, and `RespondToAuthChallenge`, `ConfirmForgotPassword`,
 *   `VerifySoftwareToken`.
 * Never counted: `grant_type=refresh_token`, `InitiateAuth` with `REFRESH_TOKEN_AUTH`/`REFRESH_TOKEN`,
 * `GetTokensFromRefreshToken`, and client-credentials grants (their own rule). Transformations widen what is
 * counted (case, path variants), never what is exempt.
 */
export function credentialAttempts(): Statement {
  return or(
    and(
      {
        byteMatchStatement: {
          fieldToMatch: { method: {} },
          positionalConstraint: 'EXACTLY',
          searchString: 'POST',
          textTransformations: transforms('NONE'),
        },
      },
      not(path('STARTS_WITH', '/oauth2/')),
      not(anyCognitoApiCall()),
    ),
    and(
      path('EXACTLY', TOKEN_ENDPOINT),
      not(formField('grant_type', 'refresh_token')),
      not(formField('grant_type', 'client_credentials')),
    ),
    and(target('InitiateAuth'), not(refreshAuthFlow())),
    ...CREDENTIAL_TARGETS.map(target),
  );
}

/** Machine clients asking for a token: the client-credentials grant, or the `GetClientToken` operation. */
export function clientCredentialsGrants(): Statement {
  return or(
    and(path('EXACTLY', TOKEN_ENDPOINT), formField('grant_type', 'client_credentials')),
    target('GetClientToken'),
  );
}
