import type { ApiClient } from '../../contract/api/admin';
import { type Queryable, query } from '../shared/db';
import { type Position, type Positioned, positionAtSql } from '../shared/pagination';

/** A `citadel.api_clients` row as stored. */
export interface ApiClientRow {
  id: string;
  name: string;
  cognito_client_id: string;
  scopes: string[];
  tier: 'basic' | 'standard' | 'premium';
  api_key_id: string;
  previous_api_key_id: string | null;
  previous_key_expires_at: Date | null;
  state: 'active' | 'revoked';
  created_by: string;
  created_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The API's view: never the key ids (they address the keys) nor any secret. */
export const toApiClient = (row: ApiClientRow): ApiClient => ({
  id: row.id,
  name: row.name,
  clientId: row.cognito_client_id,
  scopes: row.scopes as ApiClient['scopes'],
  tier: row.tier,
  state: row.state,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  previousKeyExpiresAt: iso(row.previous_key_expires_at),
  revokedAt: iso(row.revoked_at),
});

export async function findApiClient(id: string, tx?: Queryable): Promise<ApiClientRow | undefined> {
  const sql = 'SELECT * FROM citadel.api_clients WHERE id = $1';
  const rows = tx
    ? (await tx.query<ApiClientRow>(sql, [id])).rows
    : await query<ApiClientRow>(sql, [id], { idempotent: true });
  return rows[0];
}

/** One page, newest first, keyset-paginated on (created_at, id): `after` compares exactly (microseconds). */
export async function listApiClientRows(
  limit: number,
  after?: Position,
): Promise<Array<ApiClientRow & Positioned>> {
  const columns = `*, ${positionAtSql('created_at')} AS position_at`;
  return after
    ? query<ApiClientRow & Positioned>(
        `SELECT ${columns} FROM citadel.api_clients WHERE (created_at, id) < ($1::timestamptz, $2::uuid)
         ORDER BY created_at DESC, id DESC LIMIT $3`,
        [after.at, after.id, limit + 1],
        { idempotent: true },
      )
    : query<ApiClientRow & Positioned>(
        `SELECT ${columns} FROM citadel.api_clients ORDER BY created_at DESC, id DESC LIMIT $1`,
        [limit + 1],
        { idempotent: true },
      );
}
