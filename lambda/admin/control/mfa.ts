/**
 * The MFA control function: turns every MFA factor of a user off and signs the user out everywhere, so the
 * next sign-in must enrol a new authenticator. It runs outside the VPC, because a user pool with a domain
 * cannot be reached through the Cognito interface endpoint (`../control-protocol.ts`).
 */
import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { observe } from '../../shared/observe';
import { logger, traced } from '../../shared/powertools';
import { mfaControlRequest } from '../control-protocol';
import { userPoolId } from './env';
import { resetMfaAndSignOut } from './mfa-reset';

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
  await resetMfaAndSignOut(cognito, UserPoolId, Username);
  logger.info('MFA reset');
  return { reset: true };
});
