/**
 * The Cognito control functions the admin API invokes (`lambda/admin/control/app-clients.ts` and `mfa.ts`,
 * their exported `handler`) against a moto user pool shaped like the Identity stack's: MFA required (TOTP and
 * SMS), and the `citadel` resource server with the contract's scopes.
 *
 * moto stores an app client's settings as sent and checks nothing about its scopes (Cognito refuses a scope
 * the pool's resource servers do not define with ScopeDoesNotExistException), so that rule is checked here
 * against the resource server moto holds. moto ignores `EmailMfaSettings` (Cognito requires the Essentials
 * plan only to turn email MFA on; the function only turns it off).
 */
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserMFAPreferenceCommand,
  AdminSetUserPasswordCommand,
  AssociateSoftwareTokenCommand,
  CognitoIdentityProviderClient,
  CreateResourceServerCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  DescribeResourceServerCommand,
  DescribeUserPoolClientCommand,
  ListUserPoolClientsCommand,
  SetUserPoolMfaConfigCommand,
  type UserPoolClientType,
  VerifySoftwareTokenCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RESOURCE_SERVER_ID, SCOPES } from '../../contract/roles';
import { clientCreated, clientDeleted, mfaReset } from '../../lambda/admin/control-protocol';
import { lambdaContext } from '../support/lambda';
import { describeAgainstMoto } from '../support/moto';

/** AccessTokenValidity may range from five minutes to one day (Cognito API reference, TokenValidityUnitsType). */
const MINUTES_PER_UNIT = { seconds: 1 / 60, minutes: 1, hours: 60, days: 1440 } as const;
const accessTokenMinutes = (client: UserPoolClientType) =>
  (client.AccessTokenValidity ?? 1) * MINUTES_PER_UNIT[client.TokenValidityUnits?.AccessToken ?? 'hours'];

describeAgainstMoto('Cognito admin control functions against a moto user pool', () => {
  let appClients: typeof import('../../lambda/admin/control/app-clients');
  let mfa: typeof import('../../lambda/admin/control/mfa');
  let cognito: CognitoIdentityProviderClient;
  let UserPoolId: string;
  /** A client the tests sign users in with (the web client's password flow, for setting up sessions). */
  let signInClientId: string;
  let definedScopes: Set<string>;

  beforeAll(async () => {
    cognito = new CognitoIdentityProviderClient({});
    const pool = await cognito.send(
      new CreateUserPoolCommand({
        PoolName: 'citadel-test',
        MfaConfiguration: 'ON',
        Policies: { PasswordPolicy: { MinimumLength: 12 } },
      }),
    );
    UserPoolId = pool.UserPool?.Id as string;
    await cognito.send(
      new SetUserPoolMfaConfigCommand({
        UserPoolId,
        MfaConfiguration: 'ON',
        SoftwareTokenMfaConfiguration: { Enabled: true },
        SmsMfaConfiguration: {
          SmsConfiguration: { SnsCallerArn: 'arn:aws:iam::123456789012:role/citadel-test-sms' },
        },
      }),
    );
    await cognito.send(
      new CreateResourceServerCommand({
        UserPoolId,
        Identifier: RESOURCE_SERVER_ID,
        Name: 'Citadel API',
        Scopes: SCOPES.map((ScopeName) => ({ ScopeName, ScopeDescription: `${ScopeName} access` })),
      }),
    );
    const server = await cognito.send(
      new DescribeResourceServerCommand({ UserPoolId, Identifier: RESOURCE_SERVER_ID }),
    );
    definedScopes = new Set(
      (server.ResourceServer?.Scopes ?? []).map((s) => `${server.ResourceServer?.Identifier}/${s.ScopeName}`),
    );
    const web = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId,
        ClientName: 'citadel-test-web',
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    signInClientId = web.UserPoolClient?.ClientId as string;
    process.env.CITADEL_USER_POOL_ID = UserPoolId;
    process.env.CITADEL_ACCESS_TOKEN_MINUTES = '15';
    appClients = await import('../../lambda/admin/control/app-clients');
    mfa = await import('../../lambda/admin/control/mfa');
  });
  afterAll(() => {
    delete process.env.CITADEL_USER_POOL_ID;
    delete process.env.CITADEL_ACCESS_TOKEN_MINUTES;
    cognito?.destroy();
  });

  /** Scopes of `client` that no resource server of the pool defines (Cognito's ScopeDoesNotExistException). */
  const undefinedScopes = (client: UserPoolClientType) =>
    (client.AllowedOAuthScopes ?? []).filter((scope) => !definedScopes.has(scope));

  const describeClient = async (ClientId: string) =>
    (await cognito.send(new DescribeUserPoolClientCommand({ UserPoolId, ClientId }))).UserPoolClient ?? {};

  describe('app clients', () => {
    it('creates a client-credentials client with a secret, the citadel scopes asked for and the stage’s token lifetime', async () => {
      // Act
      const reply = clientCreated.parse(
        await appClients.handler(
          { action: 'create', name: 'reporting-bot', scopes: ['files.read', 'admin'] },
          lambdaContext(),
        ),
      );

      // Assess: what moto stored.
      const client = await describeClient(reply.clientId);
      expect(client).toMatchObject({
        ClientName: 'reporting-bot',
        ClientSecret: reply.clientSecret,
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthFlows: ['client_credentials'],
        AllowedOAuthScopes: ['citadel/files.read', 'citadel/admin'],
        ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
        EnableTokenRevocation: true,
        PreventUserExistenceErrors: 'ENABLED',
        AccessTokenValidity: 15,
        TokenValidityUnits: { AccessToken: 'minutes' },
      });
      expect(reply.clientSecret.length).toBeGreaterThan(0);
      expect(undefinedScopes(client)).toEqual([]);
      expect(accessTokenMinutes(client)).toBe(15);
      expect(accessTokenMinutes(client)).toBeGreaterThanOrEqual(5);
      expect(accessTokenMinutes(client)).toBeLessThanOrEqual(1440);
    });

    it('(the scope and validity checks report what Cognito would refuse, though moto accepts it)', async () => {
      // Prepare: a client created with an unqualified scope and one the resource server does not define.
      const { UserPoolClient } = await cognito.send(
        new CreateUserPoolClientCommand({
          UserPoolId,
          ClientName: 'bad-scopes',
          GenerateSecret: true,
          AllowedOAuthFlowsUserPoolClient: true,
          AllowedOAuthFlows: ['client_credentials'],
          AllowedOAuthScopes: ['files.read', 'citadel/files.delete', 'citadel/files.write'],
        }),
      );
      // Act / Assess
      expect(undefinedScopes(await describeClient(UserPoolClient?.ClientId as string))).toEqual([
        'files.read',
        'citadel/files.delete',
      ]);
      // A validity beyond one day, and a bare 60 (hours, Cognito's default unit), are seen too.
      expect(
        accessTokenMinutes({ AccessTokenValidity: 2, TokenValidityUnits: { AccessToken: 'days' } }),
      ).toBe(2880);
      expect(accessTokenMinutes({ AccessTokenValidity: 60 })).toBe(3600);
    });

    it('deletes a client, and answers {deleted:false} when it is already gone', async () => {
      // Prepare
      const { clientId } = clientCreated.parse(
        await appClients.handler(
          { action: 'create', name: 'short-lived', scopes: ['files.write'] },
          lambdaContext(),
        ),
      );
      const listed = async () =>
        (
          (await cognito.send(new ListUserPoolClientsCommand({ UserPoolId, MaxResults: 60 })))
            .UserPoolClients ?? []
        )
          .map((c) => c.ClientId)
          .includes(clientId);
      expect(await listed()).toBe(true);

      // Act
      const first = await appClients.handler({ action: 'delete', clientId }, lambdaContext());
      const second = await appClients.handler({ action: 'delete', clientId }, lambdaContext());

      // Assess
      expect(clientDeleted.parse(first)).toEqual({ deleted: true });
      expect(clientDeleted.parse(second)).toEqual({ deleted: false });
      expect(await listed()).toBe(false);
      await expect(describeClient(clientId)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    });
  });

  describe('MFA reset', () => {
    const PASSWORD = 'Correct-Horse-Battery-9';

    /** A user who signed in, enrolled an authenticator (TOTP) and a phone (SMS), and prefers TOTP. */
    async function enrolledUser(Username: string) {
      await cognito.send(
        new AdminCreateUserCommand({
          UserPoolId,
          Username,
          MessageAction: 'SUPPRESS',
          UserAttributes: [
            { Name: 'phone_number', Value: '+15555550100' },
            { Name: 'phone_number_verified', Value: 'true' },
          ],
        }),
      );
      await cognito.send(
        new AdminSetUserPasswordCommand({ UserPoolId, Username, Password: PASSWORD, Permanent: true }),
      );
      const signedIn = await cognito.send(
        new AdminInitiateAuthCommand({
          UserPoolId,
          ClientId: signInClientId,
          AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
          AuthParameters: { USERNAME: Username, PASSWORD },
        }),
      );
      const AccessToken = signedIn.AuthenticationResult?.AccessToken as string;
      await cognito.send(new AssociateSoftwareTokenCommand({ AccessToken }));
      await cognito.send(new VerifySoftwareTokenCommand({ AccessToken, UserCode: '123456' }));
      await cognito.send(
        new AdminSetUserMFAPreferenceCommand({
          UserPoolId,
          Username,
          SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
          SMSMfaSettings: { Enabled: true, PreferredMfa: false },
        }),
      );
      return { refreshToken: signedIn.AuthenticationResult?.RefreshToken as string };
    }

    const factors = async (Username: string) => {
      const user = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username }));
      return { enabled: user.UserMFASettingList ?? [], preferred: user.PreferredMfaSetting || undefined };
    };
    const refresh = (refreshToken: string) =>
      cognito.send(
        new AdminInitiateAuthCommand({
          UserPoolId,
          ClientId: signInClientId,
          AuthFlow: 'REFRESH_TOKEN_AUTH',
          AuthParameters: { REFRESH_TOKEN: refreshToken },
        }),
      );

    it("turns every factor off and ends the user's sessions", async () => {
      // Prepare
      const { refreshToken } = await enrolledUser('alice');
      expect(await factors('alice')).toEqual({
        enabled: ['SOFTWARE_TOKEN_MFA', 'SMS_MFA'],
        preferred: 'SOFTWARE_TOKEN_MFA',
      });
      expect((await refresh(refreshToken)).AuthenticationResult?.AccessToken).toEqual(expect.any(String));

      // Act
      const reply = await mfa.handler({ action: 'reset', username: 'alice' }, lambdaContext());

      // Assess
      expect(mfaReset.parse(reply)).toEqual({ reset: true });
      expect(await factors('alice')).toEqual({ enabled: [], preferred: undefined });
      await expect(refresh(refreshToken)).rejects.toMatchObject({ name: 'NotAuthorizedException' });
    });

    it('(the factor check sees a factor left on, as a reset that forgot SMS would leave it)', async () => {
      await enrolledUser('bob');
      await cognito.send(
        new AdminSetUserMFAPreferenceCommand({
          UserPoolId,
          Username: 'bob',
          SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false },
        }),
      );
      expect(await factors('bob')).toEqual({ enabled: ['SMS_MFA'], preferred: undefined });
    });

    it('answers {reset:false} for a user the pool does not have', async () => {
      // Act
      const reply = await mfa.handler({ action: 'reset', username: 'nobody' }, lambdaContext());
      // Assess
      expect(mfaReset.parse(reply)).toEqual({ reset: false });
      await expect(
        cognito.send(new AdminGetUserCommand({ UserPoolId, Username: 'nobody' })),
      ).rejects.toMatchObject({
        name: 'UserNotFoundException',
      });
    });
  });
});
