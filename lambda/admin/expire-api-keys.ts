/**
 * Scheduled job: disables rotated API keys whose overlap window has closed and clears them from their
 * client. Each key is disabled before its row forgets it, so a crash retries rather than leaks a key.
 */
import { recordAudit } from '../shared/audit';
import { query } from '../shared/db';
import { observe } from '../shared/observe';
import { logger, metrics } from '../shared/powertools';
import { adminAdapters } from './adapters';

interface Expired {
  id: string;
  previous_api_key_id: string;
}

/** Disables every key whose window closed by `now`; returns the client ids it cleaned. */
export async function expireOverlappingKeys(now: Date): Promise<string[]> {
  const { keys } = await adminAdapters();
  const due = await query<Expired>(
    `SELECT id, previous_api_key_id FROM citadel.api_clients
      WHERE previous_api_key_id IS NOT NULL AND previous_key_expires_at <= $1
      ORDER BY previous_key_expires_at LIMIT 500`,
    [now],
  );
  const done: string[] = [];
  for (const row of due) {
    await keys.disable(row.previous_api_key_id);
    const { length } = await query(
      `UPDATE citadel.api_clients SET previous_api_key_id = NULL, previous_key_expires_at = NULL, updated_at = now()
        WHERE id = $1 AND previous_api_key_id = $2 RETURNING id`,
      [row.id, row.previous_api_key_id],
    );
    if (length === 0) continue; // rotated again or revoked meanwhile; that path disabled the key itself
    await recordAudit({
      principal: 'system',
      action: 'api_client.key_expired',
      target: `api_client:${row.id}`,
      outcome: 'success',
      requestId: `schedule:${now.toISOString()}`,
      details: {},
    });
    done.push(row.id);
  }
  if (done.length > 0) logger.info('expired rotated API keys', { count: done.length });
  metrics.addMetric('ApiKeysExpired', 'Count', done.length);
  return done;
}

export const handler = observe(async () => ({ expired: await expireOverlappingKeys(new Date()) }));
