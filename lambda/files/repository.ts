import type { ApiFile, FileState } from '../../contract/api/files';
import { type Queryable, query } from '../shared/db';

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
  };
}

/** One file by id (primary-key lookup), deleted ones excluded. */
export async function findFile(id: string, tx?: Queryable): Promise<FileRow | undefined> {
  const sql = "SELECT * FROM citadel.files WHERE id = $1 AND state <> 'deleted'";
  const rows = tx
    ? (await tx.query<FileRow>(sql, [id])).rows
    : await query<FileRow>(sql, [id], { idempotent: true });
  return rows[0];
}
