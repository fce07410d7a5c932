import type { ApiFile, FileState } from '../../contract/api/files';
import { type Queryable, query } from '../shared/db';
import { type Position, type Positioned, positionAtSql } from '../shared/pagination';

/** A `citadel.files` row as stored. */
export interface FileRow {
  id: string;
  owner_id: string;
  object_key: string;
  filename: string;
  content_type: string;
  declared_size: string;
  sha256: string | null;
  upload_id: string | null;
  part_size: string | null;
  part_count: number | null;
  state: FileState;
  scan_status: string | null;
  detected_type: string | null;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  scanned_at: Date | null;
  deleted_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The API's view of a row: metadata only, never the storage key or upload id. */
export function toApiFile(row: FileRow): ApiFile {
  return {
    id: row.id,
    ownerId: row.owner_id,
    filename: row.filename,
    contentType: row.content_type,
    size: Number(row.declared_size),
    sha256: row.sha256,
    state: row.state,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    completedAt: iso(row.completed_at),
    scannedAt: iso(row.scanned_at),
    failureReason: row.failure_reason,
  };
}

/** One file by id (primary-key lookup), deleted ones excluded; `lock` (in a transaction) holds it FOR UPDATE. */
export async function findFile(
  id: string,
  tx?: Queryable,
  { lock = false }: { lock?: boolean } = {},
): Promise<FileRow | undefined> {
  const sql = `SELECT * FROM citadel.files WHERE id = $1 AND state <> 'deleted'${lock ? ' FOR UPDATE' : ''}`;
  const rows = tx
    ? (await tx.query<FileRow>(sql, [id])).rows
    : await query<FileRow>(sql, [id], { idempotent: true });
  return rows[0];
}

/**
 * Owner's (or, with `ownerId` undefined, everyone's) files, newest first, keyset-paginated on (created_at, id):
 * `after` compares exactly (microseconds).
 */
export async function listFileRows(
  ownerId: string | undefined,
  limit: number,
  after?: Position,
): Promise<Array<FileRow & Positioned>> {
  const where = ["state <> 'deleted'"];
  const values: unknown[] = [];
  if (ownerId !== undefined) {
    values.push(ownerId);
    where.push(`owner_id = $${values.length}`);
  }
  if (after) {
    values.push(after.at, after.id);
    where.push(`(created_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(limit + 1);
  return query<FileRow & Positioned>(
    `SELECT *, ${positionAtSql('created_at')} AS position_at FROM citadel.files WHERE ${where.join(' AND ')}
      ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
    values,
    { idempotent: true },
  );
}

/** A file by its object key (the scan pipeline's view). */
export async function findFileByKey(key: string): Promise<FileRow | undefined> {
  return (
    await query<FileRow>('SELECT * FROM citadel.files WHERE object_key = $1', [key], { idempotent: true })
  )[0];
}

/**
 * Moves a file from one of `from` to `to` with the given column updates; returns the row, or `undefined`
 * when it was not in `from` (a replay, a race lost, or out of order): transitions are applied exactly once.
 */
export async function transitionFile(
  tx: Queryable,
  id: string,
  from: readonly FileState[],
  to: FileState,
  set: Record<string, unknown> = {},
): Promise<FileRow | undefined> {
  const columns = Object.keys(set);
  for (const c of columns) if (!/^[a-z_]+$/.test(c)) throw new Error(`bad column ${c}`);
  const values: unknown[] = [id, from, to, ...Object.values(set)];
  const assignments = columns.map((c, i) => `${c} = $${i + 4}`);
  const { rows } = await tx.query<FileRow>(
    `UPDATE citadel.files SET state = $3, updated_at = now()${assignments.map((a) => `, ${a}`).join('')}
      WHERE id = $1 AND state = ANY($2::text[]) RETURNING *`,
    values,
  );
  return rows[0];
}
