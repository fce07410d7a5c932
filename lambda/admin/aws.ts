/**
 * The admin API's AWS adapters (and the invoker self-service recovery shares). Every call goes through a control
 * function outside the VPC, invoked through the Lambda endpoint (`control-protocol.ts` says why); a failed or
 * throttled control call is a 503 with Retry-After.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type * as z from 'zod';
import { ServiceUnavailableError } from '../shared/errors';
import { logger, traced } from '../shared/powertools';
import {
  type ClientControlRequest,
  CONTROL_FUNCTION_ENV,
  type ControlNeed,
  clientCreated,
  clientDeleted,
  type KeyControlRequest,
  keyCreated,
  keyDisabled,
  type MfaControlRequest,
  mfaReset,
  type RecoveryControlRequest,
} from './control-protocol';
import type { AdminAdapters, ApiKeyIssuer, MachineClientDirectory, MfaResetter } from './ports';

const lambda = traced(new LambdaClient({}));

/** AWS error names that mean "try again later". */
const TRANSIENT =
  /Throttl|TooManyRequests|ServiceUnavailable|InternalError|InternalFailure|RequestLimitExceeded|TimeoutError|ECONN/i;

/** The error type of a function error payload (`{ errorType, errorMessage }`), `Unknown` if unreadable. */
function functionErrorType(payload: string): string {
  try {
    const { errorType } = JSON.parse(payload) as { errorType?: unknown };
    return typeof errorType === 'string' ? errorType : 'Unknown';
  } catch {
    return 'Unknown';
  }
}

/** What each control function is called in errors the caller sees. */
const SERVICE_NAMES: Record<ControlNeed, string> = {
  'api-keys': 'The API key service',
  'cognito-clients': 'The identity service',
  'cognito-mfa': 'The identity service',
  'cognito-recovery': 'The identity service',
};

/**
 * Asks the control function for `need` (its ARN in the environment variable `CONTROL_FUNCTION_ENV[need]`) and
 * parses its answer with `reply`. Lambda unreachable, or AWS saying "try again later" → 503 with Retry-After.
 */
export async function control<T extends z.ZodType>(
  need: ControlNeed,
  request: KeyControlRequest | ClientControlRequest | MfaControlRequest | RecoveryControlRequest,
  reply: T,
): Promise<z.output<T>> {
  const variable = CONTROL_FUNCTION_ENV[need];
  const functionName = process.env[variable];
  if (!functionName) throw new Error(`${variable} is not set`);
  let response: { FunctionError?: string; Payload?: Uint8Array };
  try {
    response = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(request)),
      }),
    );
  } catch (error) {
    logger.warn('control function unreachable', { need, error: error as Error });
    throw new ServiceUnavailableError(`${SERVICE_NAMES[need]} is busy or unavailable. Retry shortly.`, 10);
  }
  const text = Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8');
  if (response.FunctionError) {
    const errorType = functionErrorType(text);
    logger.error('control function failed', { need, action: request.action, errorType });
    // AWS said "try again later": so do we. Anything else is our fault, a 500 that shows no internals.
    if (TRANSIENT.test(errorType))
      throw new ServiceUnavailableError(`${SERVICE_NAMES[need]} is busy or unavailable. Retry shortly.`, 10);
    throw new Error(`${need} control function failed with ${errorType}`);
  }
  return reply.parse(JSON.parse(text));
}

const controlledClients: MachineClientDirectory = {
  create: (name, scopes) =>
    control('cognito-clients', { action: 'create', name, scopes: [...scopes] }, clientCreated),
  delete: async (clientId) => {
    await control('cognito-clients', { action: 'delete', clientId }, clientDeleted);
  },
};

const controlledApiKeys: ApiKeyIssuer = {
  create: (name, tier) => control('api-keys', { action: 'create', name, tier }, keyCreated),
  disable: async (keyId) => {
    await control('api-keys', { action: 'disable', keyId }, keyDisabled);
  },
};

const controlledMfa: MfaResetter = {
  reset: async (username) => (await control('cognito-mfa', { action: 'reset', username }, mfaReset)).reset,
};

export const awsAdapters: AdminAdapters = {
  clients: controlledClients,
  keys: controlledApiKeys,
  mfa: controlledMfa,
};
