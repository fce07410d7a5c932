/**
 * The app-client control function: creates Cognito app clients for the client-credentials grant and deletes
 * them. It runs outside the VPC, because a user pool with a domain cannot be reached through the Cognito
 * interface endpoint (`../control-protocol.ts`), and only the admin functions may invoke it.
 */
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  DeleteUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { qualifiedScope } from '../../../contract/roles';
import { observe } from '../../shared/observe';
import { logger, traced } from '../../shared/powertools';
import { clientControlRequest } from '../control-protocol';
import { accessTokenMinutes, userPoolId } from './env';

const cognito = traced(new CognitoIdentityProviderClient({}));

export const handler = observe(async (raw: unknown) => {
  const request = clientControlRequest.parse(raw);
  const UserPoolId = userPoolId();
  if (request.action === 'create') {
    const { UserPoolClient } = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId,
        ClientName: request.name,
        GenerateSecret: true,
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthFlows: ['client_credentials'],
        AllowedOAuthScopes: request.scopes.map(qualifiedScope),
        ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
        EnableTokenRevocation: true,
        PreventUserExistenceErrors: 'ENABLED',
        // The stage's token lifetime, as for people: a revoked client's tokens pass offline checks until they expire.
        AccessTokenValidity: accessTokenMinutes(),
        TokenValidityUnits: { AccessToken: 'minutes' },
      }),
    );
    if (!UserPoolClient?.ClientId || !UserPoolClient.ClientSecret)
      throw new Error('Cognito returned no client');
    logger.info('app client created', { clientId: UserPoolClient.ClientId });
    return { clientId: UserPoolClient.ClientId, clientSecret: UserPoolClient.ClientSecret };
  }
  try {
    await cognito.send(new DeleteUserPoolClientCommand({ UserPoolId, ClientId: request.clientId }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return { deleted: false };
    throw error;
  }
  logger.info('app client deleted', { clientId: request.clientId });
  return { deleted: true };
});
