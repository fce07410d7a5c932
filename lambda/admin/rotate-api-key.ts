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
 * earlier rotation is disabled now: at most two keys are ever valid.
 */
export const handler = defineHandler(rotateApiKey, async ({ params, principal, requestId, sourceIp }) => {
  const { keys } = await adminAdapters();
  const current = await findApiClient(params.id);
  if (current?.state !== 'active') throw new NotFoundError('No such active API client.');
  const fresh = await keys.create(current.name, current.tier);
  try {
    const row = await transaction(async (tx) => {
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
    // Only now is the older overlapping key (if any) out of the row: disable it.
    if (current.previous_api_key_id) await keys.disable(current.previous_api_key_id);
    return {
      client: toApiClient(row),
      apiKey: fresh.value,
      previousKeyExpiresAt: (row.previous_key_expires_at as Date).toISOString(),
    };
  } catch (error) {
    await keys
      .disable(fresh.keyId)
      .catch((e: Error) => logger.error('could not disable an unused key', { error: e }));
    throw error;
  }
});
