import { revokeApiClient } from '../../contract/api/admin';
import { recordAudit } from '../shared/audit';
import { transaction } from '../shared/db';
import { NotFoundError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { adminAdapters } from './adapters';
import { findApiClient } from './repository';

/**
 * `DELETE /v1/admin/api-clients/{id}`: revokes at once. Every key of the client is disabled and its Cognito
 * app client deleted before the row says `revoked`; revoking a revoked client is a no-op.
 */
export const handler = defineHandler(revokeApiClient, async ({ params, principal, requestId, sourceIp }) => {
  const { clients, keys } = await adminAdapters();
  const row = await findApiClient(params.id);
  if (!row) throw new NotFoundError('No such API client.');
  if (row.state === 'revoked') return undefined;
  await keys.disable(row.api_key_id);
  if (row.previous_api_key_id) await keys.disable(row.previous_api_key_id);
  await clients.delete(row.cognito_client_id);
  await transaction(async (tx) => {
    await tx.query(
      `UPDATE citadel.api_clients
          SET state = 'revoked', revoked_at = now(), updated_at = now(),
              previous_api_key_id = NULL, previous_key_expires_at = NULL
        WHERE id = $1`,
      [row.id],
    );
    await recordAudit(
      {
        principal,
        action: 'api_client.revoke',
        target: `api_client:${row.id}`,
        outcome: 'success',
        requestId,
        sourceIp,
      },
      tx,
    );
  });
  return undefined;
});
