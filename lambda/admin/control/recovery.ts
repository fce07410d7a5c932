/**
 * The recovery control function: checks a user's password with Cognito for self-service recovery, then, once the
 * API has consumed a recovery code, turns every MFA factor of the user off, signs them out everywhere and tells
 * them by email. It runs outside the VPC, because a user pool with a domain cannot be reached through the Cognito
 * interface endpoint (`../control-protocol.ts`), and only the recovery route may invoke it.
 *
 * `verify` makes the same two Cognito calls whatever the answer (AdminInitiateAuth on the recovery client, whose
 * only flow is ADMIN_USER_PASSWORD_AUTH, and AdminGetUser, in parallel), so neither the number of calls nor the
 * answer says whether the user exists, or which of user name and password was wrong. MFA is required on the pool,
 * so a right password stops at an MFA challenge, which proves the password and is never answered.
 */
import {
  AdminGetUserCommand,
  type AdminGetUserCommandOutput,
  AdminInitiateAuthCommand,
  type AdminInitiateAuthCommandOutput,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { observe } from '../../shared/observe';
import { logger, traced } from '../../shared/powertools';
import { type RecoveryControlRequest, recoveryControlRequest } from '../control-protocol';
import { userPoolId } from './env';
import { resetMfaAndSignOut } from './mfa-reset';

const cognito = traced(new CognitoIdentityProviderClient({}));

/** Cognito's answers that mean "not this user name and password", whatever the cause. */
const NOT_VERIFIED = new Set([
  'NotAuthorizedException',
  'UserNotFoundException',
  'UserNotConfirmedException',
  'PasswordResetRequiredException',
  'InvalidParameterException',
]);

/** Every challenge that follows a right password on a pool where MFA is required. */
const AFTER_PASSWORD = new Set([
  'SOFTWARE_TOKEN_MFA',
  'SMS_MFA',
  'EMAIL_OTP',
  'SELECT_MFA_TYPE',
  'MFA_SETUP',
]);

function recoveryClientId(): string {
  const value = process.env.CITADEL_RECOVERY_CLIENT_ID;
  if (!value) throw new Error('CITADEL_RECOVERY_CLIENT_ID is not set');
  return value;
}

/** The stage's SES sender (`identity.ses`), or `undefined` where the stage has none. */
function sesSender() {
  const from = process.env.CITADEL_SES_FROM_ADDRESS;
  const region = process.env.CITADEL_SES_REGION;
  const configurationSet = process.env.CITADEL_SES_CONFIGURATION_SET;
  if (!from) return undefined;
  if (!region || !configurationSet)
    throw new Error('CITADEL_SES_REGION and CITADEL_SES_CONFIGURATION_SET go with CITADEL_SES_FROM_ADDRESS');
  const name = process.env.CITADEL_SES_FROM_NAME;
  return {
    from: name ? `"${name.replaceAll('"', '')}" <${from}>` : from,
    replyTo: process.env.CITADEL_SES_REPLY_TO,
    region,
    configurationSet,
  };
}

let ses: SESv2Client | undefined;

const attribute = (user: AdminGetUserCommandOutput, name: string): string | undefined =>
  user.UserAttributes?.find((a) => a.Name === name)?.Value;

/** A rejected call's AWS error name; a failure that is not "wrong user or password" is thrown on (503/500). */
function refusal(result: PromiseSettledResult<unknown>): boolean {
  if (result.status === 'fulfilled') return false;
  const name = (result.reason as { name?: string }).name ?? '';
  if (NOT_VERIFIED.has(name)) return true;
  throw result.reason;
}

async function verify(request: Extract<RecoveryControlRequest, { action: 'verify' }>) {
  const UserPoolId = userPoolId();
  const [auth, user] = await Promise.allSettled([
    cognito.send(
      new AdminInitiateAuthCommand({
        UserPoolId,
        ClientId: recoveryClientId(),
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: request.username, PASSWORD: request.password },
        // Threat protection judges the person's address and browser, not this function's.
        ContextData: {
          IpAddress: request.sourceIp,
          ServerName: 'citadel-api',
          ServerPath: '/v1/auth/recover',
          HttpHeaders: request.userAgent
            ? [{ headerName: 'user-agent', headerValue: request.userAgent }]
            : [],
        },
      }),
    ),
    cognito.send(new AdminGetUserCommand({ UserPoolId, Username: request.username })),
  ]);
  // Both answers are read before either decides, so a failure of one never skips the other.
  const refused = [refusal(auth), refusal(user)].some(Boolean);
  if (refused || auth.status !== 'fulfilled' || user.status !== 'fulfilled') return { verified: false };
  const answer: AdminInitiateAuthCommandOutput = auth.value;
  const passed = answer.AuthenticationResult !== undefined || AFTER_PASSWORD.has(answer.ChallengeName ?? '');
  const sub = attribute(user.value, 'sub');
  const username = user.value.Username;
  if (!passed || !sub || !username || user.value.Enabled === false || user.value.UserStatus !== 'CONFIRMED')
    return { verified: false };
  // A pool that requires MFA never issues tokens here; if Cognito ever did, they are dropped unused.
  return { verified: true, userId: sub, username };
}

async function recover(request: Extract<RecoveryControlRequest, { action: 'recover' }>) {
  const UserPoolId = userPoolId();
  const Username = request.username;
  const user = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username }));
  await resetMfaAndSignOut(cognito, UserPoolId, Username);
  logger.info('account recovered: MFA reset, signed out everywhere');

  const sender = sesSender();
  const email = attribute(user, 'email');
  if (!sender || !email || attribute(user, 'email_verified') !== 'true') {
    logger.warn('recovery notice not sent', { reason: sender ? 'no verified email' : 'no SES sender' });
    return { notified: false };
  }
  ses ??= traced(new SESv2Client({ region: sender.region }));
  try {
    await ses.send(
      new SendEmailCommand({
        FromEmailAddress: sender.from,
        Destination: { ToAddresses: [email] },
        ...(sender.replyTo ? { ReplyToAddresses: [sender.replyTo] } : {}),
        ConfigurationSetName: sender.configurationSet,
        Content: { Simple: recoveryNotice(new Date(), request.sourceIp) },
      }),
    );
  } catch (error) {
    // The account is already recovered; the missing notice is logged (and audited by the caller), not undone.
    logger.error('recovery notice failed', { error: error as Error });
    return { notified: false };
  }
  return { notified: true };
}

/** The email a user gets when one of their recovery codes was used. */
export function recoveryNotice(at: Date, sourceIp: string) {
  const text = [
    `One of your Citadel recovery codes was used at ${at.toISOString()} from the address ${sourceIp}.`,
    '',
    'Your authenticator was removed and every session was signed out. At your next sign-in you will set up',
    'a new authenticator. Generate new recovery codes afterwards if you have few left.',
    '',
    'If this was not you, reset your password now and tell your administrator: someone knows your password',
    'and holds one of your recovery codes.',
  ].join('\n');
  return {
    Subject: { Data: 'A recovery code was used on your Citadel account', Charset: 'UTF-8' },
    Body: { Text: { Data: text, Charset: 'UTF-8' } },
  };
}

export const handler = observe(async (raw: unknown) => {
  const request = recoveryControlRequest.parse(raw);
  return request.action === 'verify' ? verify(request) : recover(request);
});
