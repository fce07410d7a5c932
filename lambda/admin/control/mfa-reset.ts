import {
  AdminSetUserMFAPreferenceCommand,
  AdminUserGlobalSignOutCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';

/**
 * Turns every MFA factor of `Username` off and ends every session (refresh tokens): the next sign-in must enrol a
 * new authenticator. Shared by the admin MFA reset and account recovery.
 */
export async function resetMfaAndSignOut(
  cognito: CognitoIdentityProviderClient,
  UserPoolId: string,
  Username: string,
): Promise<void> {
  await cognito.send(
    new AdminSetUserMFAPreferenceCommand({
      UserPoolId,
      Username,
      SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false },
      SMSMfaSettings: { Enabled: false, PreferredMfa: false },
      EmailMfaSettings: { Enabled: false, PreferredMfa: false },
    }),
  );
  await cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId, Username }));
}
