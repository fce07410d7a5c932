/**
 * The MFA control function: turns every MFA factor of a user off and signs the user out everywhere, so the
 * next sign-in must enrol a new authenticator. It runs outside the VPC, because a user pool with a domain
 * cannot be reached through the Cognito interface endpoint (`../control-protocol.ts`).
 */
import {
  AdminGetUserCommand,
  AdminSetUserMFAPreferenceCommand,
  AdminUserGlobalSignOutCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { observe } from '../../shared/observe';
import { logger, traced } from '../../shared/powertools';
import { mfaControlRequest } from '../control-protocol';
import { userPoolId } from './env';

const cognito = traced(new CognitoIdentityProviderClient({}));

export const handler = observe(async (raw: unknown) => {
  const { username: Username } = mfaControlRequest.parse(raw);
  const UserPoolId = userPoolId();
  try {
    await cognito.send(new AdminGetUserCommand({ UserPoolId, Username }));
  } catch (error) {
    if ((error as { name?: string }).name === 'UserNotFoundException') return { reset: false };
    throw error;
  }
  await cognito.send(
    new AdminSetUserMFAPreferenceCommand({
      UserPoolId,
      Username,
      SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false },
      SMSMfaSettings: { Enabled: false, PreferredMfa: false },
      EmailMfaSettings: { Enabled: false, PreferredMfa: false },
    }),
  );
  // Existing sessions (refresh tokens) end now; the next sign-in must enrol a new authenticator.
  await cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId, Username }));
  logger.info('MFA reset');
  return { reset: true };
});
