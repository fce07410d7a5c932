/**
 * The recovery control function (`lambda/admin/control/recovery.ts`, its exported `handler`) against moto: a user
 * pool shaped like the Identity stack's (people sign in with their email, MFA required), its recovery client
 * (`ALLOW_ADMIN_USER_PASSWORD_AUTH` only), and an SES v2 identity with a configuration set.
 *
 * What moto 5.2 does not do, and how the tests stand in for it:
 * - it ignores an app client's `ExplicitAuthFlows` (Cognito refuses a flow the client does not allow) and
 *   `PreventUserExistenceErrors` (AdminInitiateAuth answers UserNotFoundException for an unknown user, where Cognito
 *   answers NotAuthorizedException): the function treats both answers alike, and the client's flows are asserted on
 *   the template (`test/lib/identity-stack.test.ts`);
 * - AdminInitiateAuth returns an MFA challenge only for a user who prefers TOTP or SMS, and no `ChallengeParameters`
 *   (the function reads the user name and `sub` from AdminGetUser, not from the challenge);
 * - it ignores `ContextData` (threat protection) and SES's `ConfigurationSetName` and `ses:FromAddress`; it does
 *   refuse a From address no verified identity covers, which the tests use;
 * - it files sessions under the name typed at sign-in, so AdminUserGlobalSignOut by the real user name misses a
 *   session opened with the email alias (Cognito signs the user out everywhere): the tests open sessions with the
 *   real user name.
 */
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserMFAPreferenceCommand,
  AdminSetUserPasswordCommand,
  AssociateSoftwareTokenCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  VerifySoftwareTokenCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  CreateConfigurationSetCommand,
  CreateEmailIdentityCommand,
  SESv2Client,
} from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { accountRecovered, passwordVerified } from '../../lambda/admin/control-protocol';
import { lambdaContext } from '../support/lambda';
import { describeAgainstMoto } from '../support/moto';

const PASSWORD = 'Correct-Horse-Battery-9';
const REGION = 'eu-west-1';

describeAgainstMoto('the recovery control function against a moto user pool and SES', (moto) => {
  let recovery: typeof import('../../lambda/admin/control/recovery');
  let cognito: CognitoIdentityProviderClient;
  let UserPoolId: string;
  let recoveryClientId: string;
  let signInClientId: string;

  beforeAll(async () => {
    cognito = new CognitoIdentityProviderClient({});
    const pool = await cognito.send(
      new CreateUserPoolCommand({
        PoolName: 'citadel-test',
        UsernameAttributes: ['email'],
        MfaConfiguration: 'ON',
        Policies: { PasswordPolicy: { MinimumLength: 12 } },
      }),
    );
    UserPoolId = pool.UserPool?.Id as string;
    const client = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId,
        ClientName: 'citadel-recovery',
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH'],
        PreventUserExistenceErrors: 'ENABLED',
      }),
    );
    recoveryClientId = client.UserPoolClient?.ClientId as string;
    // Enrolling TOTP needs a token, which moto issues before MFA is on for the user.
    const signIn = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId,
        ClientName: 'enrolment',
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    signInClientId = signIn.UserPoolClient?.ClientId as string;
    const ses = new SESv2Client({ region: REGION });
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'citadel.test' }));
    await ses.send(new CreateConfigurationSetCommand({ ConfigurationSetName: 'citadel-test' }));
    ses.destroy();
    Object.assign(process.env, {
      CITADEL_USER_POOL_ID: UserPoolId,
      CITADEL_RECOVERY_CLIENT_ID: recoveryClientId,
      CITADEL_SES_FROM_ADDRESS: 'no-reply@citadel.test',
      CITADEL_SES_FROM_NAME: 'Citadel',
      CITADEL_SES_REGION: REGION,
      CITADEL_SES_CONFIGURATION_SET: 'citadel-test',
    });
    recovery = await import('../../lambda/admin/control/recovery');
  });
  afterAll(() => {
    for (const key of [
      'CITADEL_USER_POOL_ID',
      'CITADEL_RECOVERY_CLIENT_ID',
      'CITADEL_SES_FROM_ADDRESS',
      'CITADEL_SES_FROM_NAME',
      'CITADEL_SES_REGION',
      'CITADEL_SES_CONFIGURATION_SET',
    ])
      delete process.env[key];
    cognito?.destroy();
  });

  /** A person who signs in with their email and has enrolled TOTP (preferred), as the pool requires. */
  async function enrolledPerson(email: string) {
    const created = await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId,
        Username: email,
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
      }),
    );
    await cognito.send(
      new AdminSetUserPasswordCommand({ UserPoolId, Username: email, Password: PASSWORD, Permanent: true }),
    );
    const signedIn = await cognito.send(
      new AdminInitiateAuthCommand({
        UserPoolId,
        ClientId: signInClientId,
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        // The real user name, not the alias: moto files sessions under the name typed at sign-in, so a global
        // sign-out by user name would miss a session opened with the email (Cognito ends them all).
        AuthParameters: { USERNAME: created.User?.Username as string, PASSWORD },
      }),
    );
    const AccessToken = signedIn.AuthenticationResult?.AccessToken as string;
    await cognito.send(new AssociateSoftwareTokenCommand({ AccessToken }));
    await cognito.send(new VerifySoftwareTokenCommand({ AccessToken, UserCode: '123456' }));
    await cognito.send(
      new AdminSetUserMFAPreferenceCommand({
        UserPoolId,
        Username: email,
        SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
      }),
    );
    const sub = created.User?.Attributes?.find((a) => a.Name === 'sub')?.Value as string;
    return {
      username: created.User?.Username as string,
      sub,
      refreshToken: signedIn.AuthenticationResult?.RefreshToken as string,
    };
  }

  const verify = async (username: string, password: string) =>
    passwordVerified.parse(
      await recovery.handler(
        { action: 'verify', username, password, sourceIp: '198.51.100.23', userAgent: 'jest' },
        lambdaContext(),
      ),
    );

  /**
   * Messages moto's SES has sent: SES v1 GetSendQuota (`SentLast24Hours`), asked directly (the v1 client is not a
   * dependency; moto routes by the credential scope's service and does not check the signature).
   */
  const sent = async () => {
    const res = await fetch(moto.server().endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/ses/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: 'Action=GetSendQuota&Version=2010-12-01',
    });
    const match = /<SentLast24Hours>([\d.]+)<\/SentLast24Hours>/.exec(await res.text());
    if (!match) throw new Error('moto did not answer GetSendQuota');
    return Number(match[1]);
  };

  describe('verify', () => {
    it('proves the password (the MFA challenge) and names the user by sub and real user name', async () => {
      const person = await enrolledPerson('alice@people.test');
      // The person types their email; Cognito's user name is a generated id, equal to the sub.
      expect(person.username).not.toBe('alice@people.test');
      expect(await verify('alice@people.test', PASSWORD)).toEqual({
        verified: true,
        userId: person.sub,
        username: person.username,
      });
    });

    it('says only "not verified" for a wrong password and for a user the pool does not have', async () => {
      await enrolledPerson('bob@people.test');
      expect(await verify('bob@people.test', 'Wrong-Horse-Battery-9')).toEqual({ verified: false });
      expect(await verify('nobody@people.test', PASSWORD)).toEqual({ verified: false });
    });

    it("the recovery client's password flow stops at the MFA challenge and issues no tokens", async () => {
      await enrolledPerson('carol@people.test');
      const answer = await cognito.send(
        new AdminInitiateAuthCommand({
          UserPoolId,
          ClientId: recoveryClientId,
          AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
          AuthParameters: { USERNAME: 'carol@people.test', PASSWORD },
        }),
      );
      expect(answer.ChallengeName).toBe('SOFTWARE_TOKEN_MFA');
      expect(answer.AuthenticationResult).toBeUndefined();
    });
  });

  describe('recover', () => {
    it('turns every factor off, ends every session and emails the person through SES', async () => {
      // Prepare
      const person = await enrolledPerson('dave@people.test');
      const refresh = () =>
        cognito.send(
          new AdminInitiateAuthCommand({
            UserPoolId,
            ClientId: signInClientId,
            AuthFlow: 'REFRESH_TOKEN_AUTH',
            AuthParameters: { REFRESH_TOKEN: person.refreshToken },
          }),
        );
      expect((await refresh()).AuthenticationResult?.AccessToken).toEqual(expect.any(String));
      const before = await sent();
      // Act
      const reply = accountRecovered.parse(
        await recovery.handler(
          { action: 'recover', username: person.username, sourceIp: '198.51.100.23' },
          lambdaContext(),
        ),
      );
      // Assess
      expect(reply).toEqual({ notified: true });
      const user = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username: person.username }));
      expect(user.UserMFASettingList ?? []).toEqual([]);
      expect(user.PreferredMfaSetting || undefined).toBeUndefined();
      await expect(refresh()).rejects.toMatchObject({ name: 'NotAuthorizedException' });
      expect(await sent()).toBe(before + 1);
      // With the factor gone, the password no longer reaches an MFA challenge in moto (Cognito would ask for
      // MFA_SETUP): nothing is left that the lost device could answer.
    });

    it('does not undo the recovery when SES refuses the notice; it says the notice was not sent', async () => {
      const person = await enrolledPerson('erin@people.test');
      process.env.CITADEL_SES_FROM_ADDRESS = 'no-reply@unverified.test';
      try {
        const reply = accountRecovered.parse(
          await recovery.handler(
            { action: 'recover', username: person.username, sourceIp: '198.51.100.23' },
            lambdaContext(),
          ),
        );
        expect(reply).toEqual({ notified: false });
      } finally {
        process.env.CITADEL_SES_FROM_ADDRESS = 'no-reply@citadel.test';
      }
      const user = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username: person.username }));
      expect(user.UserMFASettingList ?? []).toEqual([]);
    });
  });
});
