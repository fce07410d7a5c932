import { randomUUID } from 'node:crypto';
import { COGNITO_CLIENT_NAME_PREFIX, createApiClient } from '../../contract/api/admin';
import { recordAudit } from '../shared/audit';
import { transaction } from '../shared/db';
import { defineHandler } from '../shared/handler';
import { logger, metrics } from '../shared/powertools';
import { adminAdapters } from './adapters';
import { type ApiClientRow, toApiClient } from './repository';

/**
 * `POST /v1/admin/api-clients`: a Cognito app client (client credentials, chosen scopes) plus an API key in the
 * chosen tier, recorded with an audit event in one transaction. Any failure undoes what was created, so no
 * half-made client is left; the secret and the key are returned this once and never stored.
 */
export const handler = defineHandler(createApiClient, async ({ body, principal, requestId, sourceIp }) => {
  const { clients, keys } = await adminAdapters();
  const id = randomUUID();
  const audit = { principal, action: 'api_client.create', target: `api_client:${id}`, requestId, sourceIp };
  const undo: Array<() => Promise<void>> = [];
  try {
    const client = await clients.create(`${COGNITO_CLIENT_NAME_PREFIX}${body.name}`, body.scopes);
    undo.push(() => clients.delete(client.clientId));
    const key = await keys.create(body.name, body.tier);
    undo.push(() => keys.disable(key.keyId));
    const row = await transaction(async (tx) => {
      const { rows } = await tx.query<ApiClientRow>(
        `INSERT INTO citadel.api_clients (id, name, cognito_client_id, scopes, tier, api_key_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [id, body.name, client.clientId, body.scopes, body.tier, key.keyId, principal.id],
      );
      await recordAudit(
        { ...audit, outcome: 'success', details: { tier: body.tier, scopes: body.scopes } },
        tx,
      );
      return rows[0] as ApiClientRow;
    });
    metrics.addMetric('ApiClientsCreated', 'Count', 1);
    return {
      client: toApiClient(row),
      clientSecret: client.clientSecret,
      apiKey: key.value,
      tokenEndpoint: process.env.CITADEL_TOKEN_ENDPOINT ?? 'http://127.0.0.1/oauth2/token',
    };
  } catch (error) {
    for (const step of undo.reverse()) {
      await step().catch((e: Error) => logger.error('could not undo a partial API client', { id, error: e }));
    }
    await recordAudit({ ...audit, outcome: 'failure', details: { reason: (error as Error).message } }).catch(
      () => undefined,
    );
    throw error;
  }
});
