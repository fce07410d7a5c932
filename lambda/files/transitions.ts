/**
 * A file's state transitions: the row update and its audit event commit together, and the metrics are
 * emitted only when the row actually moved, so a replay or a lost race counts and audits nothing.
 */
import type { FileState } from '../../contract/api/files';
import { UPLOAD_METRICS } from '../../contract/metrics';
import { type AuditEvent, recordAudit } from '../shared/audit';
import { transaction } from '../shared/db';
import { addMetric, type MetricUnit } from '../shared/powertools';
import { type FileRow, transitionFile } from './repository';

/** Who moves the file, as the audit trail names them. */
export type Actor = Pick<AuditEvent, 'principal' | 'requestId' | 'sourceIp'>;

export interface Move {
  readonly from: readonly FileState[];
  readonly to: FileState;
  /** Other columns to set with the state. */
  readonly set?: Record<string, unknown>;
  readonly action: string;
  readonly outcome: AuditEvent['outcome'];
  readonly details?: Record<string, unknown>;
  readonly metrics?: ReadonlyArray<readonly [name: string, unit: MetricUnit, value: number]>;
}

/** Moves file `id` as `move` says; returns the moved row, or `undefined` when it was not in `move.from`. */
export async function moveFile(actor: Actor, id: string, move: Move): Promise<FileRow | undefined> {
  const moved = await transaction(async (tx) => {
    const row = await transitionFile(tx, id, move.from, move.to, move.set);
    if (row) {
      await recordAudit(
        {
          ...actor,
          action: move.action,
          target: `file:${id}`,
          outcome: move.outcome,
          ...(move.details ? { details: move.details } : {}),
        },
        tx,
      );
    }
    return row;
  });
  if (moved) {
    for (const [name, unit, value] of move.metrics ?? []) addMetric(name, unit, value);
  }
  return moved;
}

/**
 * `uploading` → `scanning`: the object is whole, by a complete call, S3's Object Created event, an upload
 * adopted after S3 lost it, or a scan verdict that came first. Counted once, whichever comes first.
 */
export const uploadCompleted = (size: number, details: Record<string, unknown>): Move => ({
  from: ['uploading'],
  to: 'scanning',
  set: { completed_at: new Date() },
  action: 'upload.complete',
  outcome: 'success',
  details,
  metrics: [
    [UPLOAD_METRICS.completed, 'Count', 1],
    [UPLOAD_METRICS.bytes, 'Bytes', size],
  ],
});
