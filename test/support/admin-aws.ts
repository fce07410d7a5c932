/**
 * In-memory AWS for the admin API's and recovery's tests, plugged into the SDK with aws-sdk-client-mock: the
 * Cognito user pool's app clients and users, SES v2 (emails kept as sent), and the control functions behind
 * `LambdaClient` Invoke.
 *
 * The Cognito control functions (app clients, MFA, recovery) are the real handlers, run in-process on Invoke
 * against the mocked Cognito and SES APIs below. The recovery client's AdminInitiateAuth answers as Cognito does on
 * a pool that requires MFA (an MFA challenge for the right password, NotAuthorizedException for a wrong one or an
 * unknown user); admin operations accept the user name or the email alias. The API-key control function is faked at its protocol
 * (`lambda/admin/control-protocol.ts`): a `create` request makes
 * an enabled key in the tier's usage plan (from `CITADEL_USAGE_PLANS`, as the real function reads it) and
 * answers `{ keyId, value }`; `disable` flips the key off (a missing key is not an error) and answers
 * `{ disabled: true }`. A request the real function would throw on (invalid request, tier without a plan)
 * answers as Lambda does for an unhandled error: status 200, `FunctionError: 'Unhandled'` and an error payload.
 *
 * Cognito follows its documented API rules: ClientName is 1–128 characters of `[\w\s+=,.@-]`, deleting a
 * missing app client is a ResourceNotFoundException, an unknown user a UserNotFoundException. Errors are the
 * SDK's own exception classes, so `name` is the AWS error code.
 */
import { randomBytes } from 'node:crypto';
import {
  AdminGetUserCommand,
  type AdminGetUserCommandInput,
  AdminInitiateAuthCommand,
  type AdminInitiateAuthCommandInput,
  AdminSetUserMFAPreferenceCommand,
  type AdminSetUserMFAPreferenceCommandInput,
  AdminUserGlobalSignOutCommand,
  type AdminUserGlobalSignOutCommandInput,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  type CreateUserPoolClientCommandInput,
  DeleteUserPoolClientCommand,
  type DeleteUserPoolClientCommandInput,
  InvalidParameterException,
  NotAuthorizedException,
  ResourceNotFoundException,
  TooManyRequestsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  InvokeCommand,
  type InvokeCommandInput,
  LambdaClient,
  ResourceNotFoundException as LambdaResourceNotFoundException,
  TooManyRequestsException as LambdaTooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { SESv2Client, SendEmailCommand, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as appClientControl } from '../../lambda/admin/control/app-clients';
import { handler as mfaControl } from '../../lambda/admin/control/mfa';
import { handler as recoveryControl } from '../../lambda/admin/control/recovery';
import { keyControlRequest } from '../../lambda/admin/control-protocol';
import { lambdaContext } from './lambda';

/** The environment the admin handlers and the control function read. */
export const ADMIN_ENV = {
  CITADEL_USER_POOL_ID: 'eu-west-1_CitadelTst',
  CITADEL_API_KEY_FUNCTION: 'citadel-test-api-key-control',
  CITADEL_APP_CLIENT_FUNCTION: 'citadel-test-app-client-control',
  CITADEL_MFA_FUNCTION: 'citadel-test-mfa-control',
  CITADEL_RECOVERY_FUNCTION: 'citadel-test-recovery-control',
  CITADEL_RECOVERY_CLIENT_ID: 'recoveryclient0123456789ab',
  CITADEL_SES_FROM_ADDRESS: 'no-reply@citadel.test',
  CITADEL_SES_FROM_NAME: 'Citadel',
  CITADEL_SES_REGION: 'eu-west-1',
  CITADEL_SES_CONFIGURATION_SET: 'citadel-test',
  CITADEL_ACCESS_TOKEN_MINUTES: '15',
  CITADEL_TOKEN_ENDPOINT: 'https://auth.citadel.test/oauth2/token',
  CITADEL_KEY_OVERLAP_HOURS: '24',
  CITADEL_USAGE_PLANS: JSON.stringify({
    basic: 'plan-basic01',
    standard: 'plan-std0002',
    premium: 'plan-prem003',
  }),
} as const;

/** Sets {@link ADMIN_ENV} on `process.env`. */
export function setAdminEnv(): void {
  Object.assign(process.env, ADMIN_ENV);
}

export interface FakeAppClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly input: CreateUserPoolClientCommandInput;
  deleted: boolean;
}

export interface FakeApiKey {
  readonly keyId: string;
  readonly value: string;
  readonly name: string;
  readonly tier: string;
  readonly usagePlanId: string;
  enabled: boolean;
}

export interface FakeUser {
  /** The Cognito user name: a UUID-like id in a pool where people sign in with their email. */
  readonly username: string;
  readonly sub: string;
  /** The sign-in alias. */
  readonly email: string;
  readonly emailVerified: boolean;
  password: string;
  status: 'CONFIRMED' | 'FORCE_CHANGE_PASSWORD';
  enabled: boolean;
  mfa: { software: boolean; sms: boolean; email: boolean };
  signedOutAt: number | undefined;
}

/** Operations whose next call can be made to fail or to run a hook first. */
export type FakeOperation =
  | 'CreateUserPoolClient'
  | 'DeleteUserPoolClient'
  | 'AdminGetUser'
  | 'AdminInitiateAuth'
  | 'AdminSetUserMFAPreference'
  | 'AdminUserGlobalSignOut'
  /** The Invoke call of the API-key control function (Lambda service error: the function never ran). */
  | 'Invoke'
  /** The control function ran a `create` request and threw (e.g. API Gateway throttled it). */
  | 'control:create'
  /** The control function ran a `disable` request and threw. */
  | 'control:disable'
  | 'SendEmail';

const CLIENT_NAME = /^[\w\s+=,.@-]+$/;
const alnum = (length: number): string =>
  randomBytes(length * 2)
    .toString('base64')
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, length)
    .padEnd(length, '7');

/** The text of an Invoke payload, in any of the forms the SDK accepts. */
function payloadText(payload: InvokeCommandInput['Payload']): string {
  if (payload === undefined) return '';
  if (typeof payload === 'string') return payload;
  if (payload instanceof ArrayBuffer) return Buffer.from(payload).toString('utf8');
  if (ArrayBuffer.isView(payload))
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  throw new Error('the admin functions send the control function a buffer, not a stream or blob');
}

/** Thrown by a hook or a failure queued for the control function; becomes a FunctionError payload. */
export class ControlFunctionError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = errorType;
  }
}

/** A Cognito-style throttling error (name matches what AWS sends). */
export const cognitoThrottled = (): Error =>
  new TooManyRequestsException({ message: 'Too many requests', $metadata: {} });

/** A Lambda-service throttling error on Invoke. */
export const lambdaThrottled = (): Error =>
  new LambdaTooManyRequestsException({ message: 'Rate exceeded', $metadata: {} });

export class FakeAdminAws {
  readonly cognito = mockClient(CognitoIdentityProviderClient);
  readonly lambda = mockClient(LambdaClient);
  readonly ses = mockClient(SESv2Client);
  /** Every email sent through SES, as sent. */
  readonly emails: SendEmailCommandInput[] = [];
  readonly appClients = new Map<string, FakeAppClient>();
  readonly keys = new Map<string, FakeApiKey>();
  readonly users = new Map<string, FakeUser>();
  private readonly failures = new Map<FakeOperation, Error[]>();
  private readonly hooks = new Map<FakeOperation, Array<() => Promise<void>>>();

  constructor() {
    this.cognito
      .on(CreateUserPoolClientCommand)
      .callsFake((input: CreateUserPoolClientCommandInput) =>
        this.step('CreateUserPoolClient', () => this.createClient(input)),
      );
    this.cognito
      .on(DeleteUserPoolClientCommand)
      .callsFake((input: DeleteUserPoolClientCommandInput) =>
        this.step('DeleteUserPoolClient', () => this.deleteClient(input)),
      );
    this.cognito.on(AdminGetUserCommand).callsFake((input: AdminGetUserCommandInput) =>
      this.step('AdminGetUser', () => {
        const user = this.user(input);
        return {
          Username: user.username,
          Enabled: user.enabled,
          UserStatus: user.status,
          UserAttributes: [
            { Name: 'sub', Value: user.sub },
            { Name: 'email', Value: user.email },
            { Name: 'email_verified', Value: String(user.emailVerified) },
          ],
        };
      }),
    );
    this.cognito
      .on(AdminInitiateAuthCommand)
      .callsFake((input: AdminInitiateAuthCommandInput) =>
        this.step('AdminInitiateAuth', () => this.initiateAuth(input)),
      );
    this.ses
      .on(SendEmailCommand)
      .callsFake((input: SendEmailCommandInput) => this.step('SendEmail', () => this.sendEmail(input)));
    this.cognito
      .on(AdminSetUserMFAPreferenceCommand)
      .callsFake((input: AdminSetUserMFAPreferenceCommandInput) =>
        this.step('AdminSetUserMFAPreference', () => {
          const user = this.user(input);
          if (input.SoftwareTokenMfaSettings?.Enabled !== undefined)
            user.mfa.software = input.SoftwareTokenMfaSettings.Enabled;
          if (input.SMSMfaSettings?.Enabled !== undefined) user.mfa.sms = input.SMSMfaSettings.Enabled;
          if (input.EmailMfaSettings?.Enabled !== undefined) user.mfa.email = input.EmailMfaSettings.Enabled;
          return {};
        }),
      );
    this.cognito.on(AdminUserGlobalSignOutCommand).callsFake((input: AdminUserGlobalSignOutCommandInput) =>
      this.step('AdminUserGlobalSignOut', () => {
        this.user(input).signedOutAt = Date.now();
        return {};
      }),
    );
    this.lambda
      .on(InvokeCommand)
      .callsFake((input: InvokeCommandInput) =>
        input.FunctionName === process.env.CITADEL_API_KEY_FUNCTION
          ? this.step('Invoke', () => this.invoke(input))
          : this.invoke(input),
      );
  }

  /** Makes the next call of `operation` fail with `error` (queued; one per call). */
  failNext(operation: FakeOperation, error: Error): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), error]);
  }

  /** Runs `hook` before the next call of `operation` is answered (e.g. to interleave a concurrent request). */
  beforeNext(operation: FakeOperation, hook: () => Promise<void>): void {
    this.hooks.set(operation, [...(this.hooks.get(operation) ?? []), hook]);
  }

  /**
   * A user in the pool, with every MFA factor on: `username` is the Cognito user name, the `sub` is the same (as
   * in a pool whose users sign in with their email), and the sign-in alias is `<username>@people.test`.
   */
  addUser(
    username: string,
    options: Partial<Pick<FakeUser, 'password' | 'emailVerified' | 'status' | 'enabled'>> = {},
  ): FakeUser {
    const user: FakeUser = {
      username,
      sub: username,
      email: `${username}@people.test`.toLowerCase(),
      emailVerified: options.emailVerified ?? true,
      password: options.password ?? 'Correct-Horse-1!',
      status: options.status ?? 'CONFIRMED',
      enabled: options.enabled ?? true,
      mfa: { software: true, sms: true, email: true },
      signedOutAt: undefined,
    };
    this.users.set(username, user);
    return user;
  }

  /** An existing app client and enabled key, as if created earlier (for seeding rows). */
  seedClient(name: string, scopes: readonly string[], tier = 'basic'): { clientId: string; keyId: string } {
    const client = this.createClient({
      UserPoolId: process.env.CITADEL_USER_POOL_ID,
      ClientName: `citadel-${name}`.slice(0, 128),
      AllowedOAuthScopes: scopes.map((s) => `citadel/${s}`),
      AllowedOAuthFlows: ['client_credentials'],
      GenerateSecret: true,
    });
    const key = this.createKey(name, tier);
    return { clientId: client.UserPoolClient.ClientId, keyId: key.keyId };
  }

  /** Every AWS call made so far (Cognito, Lambda and SES). */
  callCount(): number {
    return this.cognito.calls().length + this.lambda.calls().length + this.ses.calls().length;
  }

  /** The names of the Cognito commands sent so far, in order (`AdminInitiateAuth`, …). */
  cognitoCommands(): string[] {
    return this.cognito
      .calls()
      .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
  }

  /** The requests the API-key control function received so far, decoded. */
  controlRequests(): unknown[] {
    return this.lambda
      .commandCalls(InvokeCommand)
      .filter((call) => call.args[0].input.FunctionName === process.env.CITADEL_API_KEY_FUNCTION)
      .map((call) => JSON.parse(payloadText(call.args[0].input.Payload)));
  }

  enabledKeyIds(): string[] {
    return [...this.keys.values()].filter((k) => k.enabled).map((k) => k.keyId);
  }

  isEnabled(keyId: string): boolean {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`the fake never created key ${keyId}`);
    return key.enabled;
  }

  keyByValue(value: string): FakeApiKey | undefined {
    return [...this.keys.values()].find((k) => k.value === value);
  }

  liveClientIds(): string[] {
    return [...this.appClients.values()].filter((c) => !c.deleted).map((c) => c.clientId);
  }

  /** Keys created with `name` (the control function names keys after their client). */
  keysNamed(name: string): FakeApiKey[] {
    return [...this.keys.values()].filter((k) => k.name === name);
  }

  /** Forgets the calls made so far (state, failures and hooks stay). */
  resetHistory(): void {
    this.cognito.resetHistory();
    this.lambda.resetHistory();
    this.ses.resetHistory();
  }

  /** Forgets every client, key, user, queued failure and hook, and the call history. */
  reset(): void {
    this.appClients.clear();
    this.keys.clear();
    this.users.clear();
    this.failures.clear();
    this.hooks.clear();
    this.emails.length = 0;
    this.resetHistory();
  }

  restore(): void {
    this.cognito.restore();
    this.lambda.restore();
    this.ses.restore();
  }

  private async step<T>(operation: FakeOperation, answer: () => T | Promise<T>): Promise<T> {
    const hook = this.hooks.get(operation)?.shift();
    if (hook) await hook();
    const failure = this.failures.get(operation)?.shift();
    if (failure) throw failure;
    return answer();
  }

  private poolCheck(userPoolId: string | undefined): void {
    if (userPoolId !== process.env.CITADEL_USER_POOL_ID)
      throw new ResourceNotFoundException({
        message: `User pool ${userPoolId} does not exist.`,
        $metadata: {},
      });
  }

  private createClient(input: CreateUserPoolClientCommandInput) {
    this.poolCheck(input.UserPoolId);
    const name = input.ClientName ?? '';
    if (name.length < 1 || name.length > 128 || !CLIENT_NAME.test(name)) {
      throw new InvalidParameterException({
        message: `1 validation error detected: Value '${name}' at 'clientName' failed to satisfy constraint`,
        $metadata: {},
      });
    }
    const clientId = alnum(26);
    const clientSecret = randomBytes(38).toString('base64url');
    this.appClients.set(clientId, { clientId, clientSecret, input, deleted: false });
    return {
      UserPoolClient: {
        UserPoolId: input.UserPoolId,
        ClientName: name,
        ClientId: clientId,
        ClientSecret: input.GenerateSecret ? clientSecret : undefined,
        AllowedOAuthScopes: input.AllowedOAuthScopes,
        AllowedOAuthFlows: input.AllowedOAuthFlows,
      },
    };
  }

  private deleteClient(input: DeleteUserPoolClientCommandInput) {
    this.poolCheck(input.UserPoolId);
    const client = input.ClientId ? this.appClients.get(input.ClientId) : undefined;
    if (!client || client.deleted)
      throw new ResourceNotFoundException({ message: 'User pool client does not exist.', $metadata: {} });
    client.deleted = true;
    return {};
  }

  /** The user a user name or email alias (any case) names, as admin operations accept either. */
  private user(input: { UserPoolId?: string | undefined; Username?: string | undefined }): FakeUser {
    this.poolCheck(input.UserPoolId);
    const name = input.Username ?? '';
    const user = this.users.get(name) ?? [...this.users.values()].find((u) => u.email === name.toLowerCase());
    if (!user) throw new UserNotFoundException({ message: 'User does not exist.', $metadata: {} });
    return user;
  }

  /**
   * ADMIN_USER_PASSWORD_AUTH on the recovery client, as Cognito answers it on a pool that requires MFA: a wrong
   * password, or (user existence errors prevented) an unknown user, is NotAuthorizedException; a right one stops at
   * the MFA challenge (MFA_SETUP for a user with no factor on).
   */
  private initiateAuth(input: AdminInitiateAuthCommandInput) {
    this.poolCheck(input.UserPoolId);
    if (input.ClientId !== process.env.CITADEL_RECOVERY_CLIENT_ID)
      throw new ResourceNotFoundException({ message: 'User pool client does not exist.', $metadata: {} });
    if (input.AuthFlow !== 'ADMIN_USER_PASSWORD_AUTH')
      throw new InvalidParameterException({
        message: 'Auth flow not enabled for this client',
        $metadata: {},
      });
    const refused = () =>
      new NotAuthorizedException({ message: 'Incorrect username or password.', $metadata: {} });
    let user: FakeUser;
    try {
      user = this.user({ UserPoolId: input.UserPoolId, Username: input.AuthParameters?.USERNAME });
    } catch {
      throw refused();
    }
    if (!user.enabled || user.password !== input.AuthParameters?.PASSWORD) throw refused();
    if (user.status === 'FORCE_CHANGE_PASSWORD')
      return { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: alnum(40), ChallengeParameters: {} };
    const { software, sms, email } = user.mfa;
    return {
      ChallengeName: software ? 'SOFTWARE_TOKEN_MFA' : sms ? 'SMS_MFA' : email ? 'EMAIL_OTP' : 'MFA_SETUP',
      Session: alnum(40),
      ChallengeParameters: { USER_ID_FOR_SRP: user.username },
    };
  }

  private sendEmail(input: SendEmailCommandInput) {
    this.emails.push(input);
    return { MessageId: alnum(32) };
  }

  private createKey(name: string, tier: string): FakeApiKey {
    const plans = JSON.parse(process.env.CITADEL_USAGE_PLANS ?? '{}') as Record<string, string>;
    const usagePlanId = plans[tier];
    if (!usagePlanId) throw new ControlFunctionError('Error', `no usage plan for tier ${tier}`);
    const key: FakeApiKey = {
      keyId: alnum(10),
      value: randomBytes(30).toString('base64url'),
      name,
      tier,
      usagePlanId,
      enabled: true,
    };
    this.keys.set(key.keyId, key);
    return key;
  }

  /** Lambda's RequestResponse Invoke of a control function. */
  private async invoke(input: InvokeCommandInput) {
    const cognitoControls: Record<string, (event: unknown) => Promise<unknown>> = {
      [process.env.CITADEL_APP_CLIENT_FUNCTION ?? '']: (event) => appClientControl(event, lambdaContext()),
      [process.env.CITADEL_MFA_FUNCTION ?? '']: (event) => mfaControl(event, lambdaContext()),
      [process.env.CITADEL_RECOVERY_FUNCTION ?? '']: (event) => recoveryControl(event, lambdaContext()),
    };
    const cognitoControl = cognitoControls[input.FunctionName ?? ''];
    if (input.FunctionName !== process.env.CITADEL_API_KEY_FUNCTION && !cognitoControl) {
      throw new LambdaResourceNotFoundException({
        Type: 'User',
        message: `Function not found: ${input.FunctionName}`,
        $metadata: {},
      });
    }
    if (input.InvocationType !== undefined && input.InvocationType !== 'RequestResponse')
      throw new Error(`the control function is invoked synchronously, not ${input.InvocationType}`);
    const reply = (payload: unknown, functionError?: string) => ({
      StatusCode: 200,
      ExecutedVersion: '$LATEST',
      ...(functionError ? { FunctionError: functionError } : {}),
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    });
    try {
      if (cognitoControl) return reply(await cognitoControl(JSON.parse(payloadText(input.Payload))));
      const request = keyControlRequest.parse(JSON.parse(payloadText(input.Payload)));
      const operation: FakeOperation = request.action === 'create' ? 'control:create' : 'control:disable';
      return reply(
        await this.step(operation, () => {
          if (request.action === 'create') {
            const key = this.createKey(request.name, request.tier);
            return { keyId: key.keyId, value: key.value };
          }
          const key = this.keys.get(request.keyId);
          if (key) key.enabled = false;
          return { disabled: true as const };
        }),
      );
    } catch (error) {
      const e = error as Error;
      return reply({ errorType: e.name, errorMessage: e.message, trace: [] }, 'Unhandled');
    }
  }
}
