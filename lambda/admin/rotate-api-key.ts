import { rotateApiKey } from '../../contract/api/admin';
import { recordAudit } from '../shared/audit';
import { transaction } from '../shared/db';
import { ConflictError, NotFoundError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { logger } from '../shared/powertools';
import { adminAdapters } from './adapters';
import { type ApiClientRow, findApiClient, toApiClient } from './repository';

/** Hours a rotated key keeps working next to its successor (stage config). */
const overlapHours = (): number => Number(process.env.CITADEL_KEY_OVERLAP_HOURS ?? 24);

/**
 * `POST /v1/admin/api-clients/{id}/rotate`: issues a new key; the current one becomes the previous key and
 * works until the overlap window closes (the expiry job then disables it). A key still overlapping from an
 * earlier rotation is disabled first, before anything else changes: at most two keys are ever valid, and a
 * failure at any step leaves only keys the row names enabled.
 */
export const handler = defineHandler(rotateApiKey, async ({ params, principal, requestId, sourceIp }) => {
  const { keys } = await adminAdapters();
  const current = await findApiClient(params.id);
  if (current?.state !== 'active') throw new NotFoundError('No such active API client.');
  // The superseded key goes first: if this fails, nothing was created or written. Were it disabled
  // after the commit instead, a failure would leave it enabled with no row left pointing to it.
  if (current.previous_api_key_id) await keys.disable(current.previous_api_key_id);
  const fresh = await keys.create(current.name, current.tier);
  let row: ApiClientRow;
  try {
    row = await transaction(async (tx) => {
      const { rows } = await tx.query<ApiClientRow>(
        `UPDATE citadel.api_clients
            SET previous_api_key_id = api_key_id,
                previous_key_expires_at = now() + make_interval(hours => $3),
                api_key_id = $2, updated_at = now()
          WHERE id = $1 AND state = 'active' AND api_key_id = $4
          RETURNING *`,
        [current.id, fresh.keyId, overlapHours(), current.api_key_id],
      );
      const updated = rows[0];
      if (!updated)
        throw new ConflictError('The client was rotated or revoked meanwhile; list it and try again.');
      await recordAudit(
        {
          principal,
          action: 'api_client.rotate',
          target: `api_client:${current.id}`,
          outcome: 'success',
          requestId,
          sourceIp,
          details: { overlapHours: overlapHours(), supersededEarly: current.previous_api_key_id !== null },
        },
        tx,
      );
      return updated;
    });
  } catch (error) {
    // Nothing was committed: the fresh key is named by no row, so it must not stay enabled.
    await keys.disable(fresh.keyId).catch((e: Error) =>
      logger.error('could not disable an unused API key; disable it by hand', {
        clientId: current.id,
        keyId: fresh.keyId,
        error: e,
      }),
    );
    throw error;
  }
  return {
    client: toApiClient(row),
    apiKey: fresh.value,
    previousKeyExpiresAt: (row.previous_key_expires_at as Date).toISOString(),
  };
});
