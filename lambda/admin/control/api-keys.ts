/**
 * The API-key control function: creates keys in a tier's usage plan and disables keys. It runs outside
 * the VPC (API Gateway's management API has no VPC endpoint) and only the admin functions may invoke it
 * (`../control-protocol.ts`).
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  UpdateApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import * as z from 'zod';
import { observe } from '../../shared/observe';
import { logger, traced } from '../../shared/powertools';
import { keyControlRequest } from '../control-protocol';

const apigateway = traced(new APIGatewayClient({}));

const usagePlans = (): Record<string, string> =>
  z.record(z.string(), z.string()).parse(JSON.parse(process.env.CITADEL_USAGE_PLANS ?? '{}'));

export const handler = observe(async (raw: unknown) => {
  const request = keyControlRequest.parse(raw);
  if (request.action === 'create') {
    const plan = usagePlans()[request.tier];
    if (!plan) throw new Error(`no usage plan for tier ${request.tier}`);
    const key = await apigateway.send(
      new CreateApiKeyCommand({
        name: `citadel-${process.env.CITADEL_STAGE ?? 'local'}-${request.name}`.slice(0, 128),
        enabled: true,
        tags: { Project: 'Citadel', Tier: request.tier },
      }),
    );
    if (!key.id || !key.value) throw new Error('API Gateway returned no key');
    try {
      await apigateway.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: plan, keyId: key.id, keyType: 'API_KEY' }),
      );
    } catch (error) {
      // Never leave a key outside every plan: it would pass no method and count nowhere.
      await apigateway.send(new DeleteApiKeyCommand({ apiKey: key.id })).catch(() => undefined);
      throw error;
    }
    logger.info('API key created', { keyId: key.id, tier: request.tier });
    return { keyId: key.id, value: key.value };
  }
  try {
    await apigateway.send(
      new UpdateApiKeyCommand({
        apiKey: request.keyId,
        patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }],
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'NotFoundException') throw error;
  }
  logger.info('API key disabled', { keyId: request.keyId });
  return { disabled: true as const };
});
