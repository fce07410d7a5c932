/** The admin API's AWS adapters: Cognito through its SDK client, API keys through the control function. */
import {
  AdminGetUserCommand,
  AdminSetUserMFAPreferenceCommand,
  AdminUserGlobalSignOutCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type * as z from 'zod';
import { qualifiedScope } from '../../contract/roles';
import { ServiceUnavailableError } from '../shared/errors';
import { logger, traced } from '../shared/powertools';
import { type KeyControlRequest, keyCreated, keyDisabled } from './api-key-protocol';
import type { AdminAdapters, ApiKeyIssuer, MachineClientDirectory, MfaResetter } from './ports';

const cognito = traced(new CognitoIdentityProviderClient({}));
const lambda = traced(new LambdaClient({}));

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** AWS errors that mean "try again later" become a 503 with Retry-After; the rest stay errors (500). */
function unavailable(service: string, error: unknown): unknown {
  const name = (error as { name?: string }).name ?? '';
  if (
    /Throttl|TooManyRequests|ServiceUnavailable|InternalError|InternalFailure|RequestLimitExceeded|TimeoutError|ECONN/i.test(
      name,
    )
  ) {
    logger.warn(`${service} unavailable`, { error: error as Error });
    return new ServiceUnavailableError(`${service} is busy or unavailable. Retry shortly.`, 10);
  }
  return error;
}

const cognitoClients: MachineClientDirectory = {
  async create(name, scopes) {
    try {
      const { UserPoolClient } = await cognito.send(
        new CreateUserPoolClientCommand({
          UserPoolId: env('CITADEL_USER_POOL_ID'),
          ClientName: name,
          GenerateSecret: true,
          AllowedOAuthFlowsUserPoolClient: true,
          AllowedOAuthFlows: ['client_credentials'],
          AllowedOAuthScopes: scopes.map(qualifiedScope),
          ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
          EnableTokenRevocation: true,
          PreventUserExistenceErrors: 'ENABLED',
          AccessTokenValidity: 60,
          TokenValidityUnits: { AccessToken: 'minutes' },
        }),
      );
      if (!UserPoolClient?.ClientId || !UserPoolClient.ClientSecret)
        throw new Error('Cognito returned no client');
      return { clientId: UserPoolClient.ClientId, clientSecret: UserPoolClient.ClientSecret };
    } catch (error) {
      throw unavailable('Cognito', error);
    }
  },
  async delete(clientId) {
    try {
      await cognito.send(
        new DeleteUserPoolClientCommand({ UserPoolId: env('CITADEL_USER_POOL_ID'), ClientId: clientId }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return;
      throw unavailable('Cognito', error);
    }
  },
};

async function control<T extends z.ZodType>(request: KeyControlRequest, reply: T): Promise<z.output<T>> {
  let response: { FunctionError?: string; Payload?: Uint8Array };
  try {
    response = await lambda.send(
      new InvokeCommand({
        FunctionName: env('CITADEL_API_KEY_FUNCTION'),
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(request)),
      }),
    );
  } catch (error) {
    throw unavailable('The API key service', error);
  }
  const text = Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8');
  if (response.FunctionError) {
    logger.error('API key control failed', { action: request.action, functionError: response.FunctionError });
    throw new ServiceUnavailableError('The API key service failed. Retry shortly.', 10);
  }
  return reply.parse(JSON.parse(text));
}

const controlledApiKeys: ApiKeyIssuer = {
  create: (name, tier) => control({ action: 'create', name, tier }, keyCreated),
  disable: async (keyId) => {
    await control({ action: 'disable', keyId }, keyDisabled);
  },
};

const cognitoMfa: MfaResetter = {
  async reset(username) {
    const UserPoolId = env('CITADEL_USER_POOL_ID');
    try {
      await cognito.send(new AdminGetUserCommand({ UserPoolId, Username: username }));
    } catch (error) {
      if ((error as { name?: string }).name === 'UserNotFoundException') return false;
      throw unavailable('Cognito', error);
    }
    try {
      await cognito.send(
        new AdminSetUserMFAPreferenceCommand({
          UserPoolId,
          Username: username,
          SoftwareTokenMfaSettings: { Enabled: false, PreferredMfa: false },
          SMSMfaSettings: { Enabled: false, PreferredMfa: false },
          EmailMfaSettings: { Enabled: false, PreferredMfa: false },
        }),
      );
      // Existing sessions (refresh tokens) end now; the next sign-in must enrol a new authenticator.
      await cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId, Username: username }));
      return true;
    } catch (error) {
      throw unavailable('Cognito', error);
    }
  },
};

export const awsAdapters: AdminAdapters = {
  clients: cognitoClients,
  keys: controlledApiKeys,
  mfa: cognitoMfa,
};
