/**
 * Scheduled job: uploads left `uploading` past their lifetime. The bucket's lifecycle rule removes their
 * parts after a day; this job aborts any S3 still holds and marks the file `failed` (as the API does when it
 * finds an upload gone), so nothing stays "uploading" forever. An upload whose object exists but never left
 * `uploading` lost its S3 events: it is left alone and counted (`StuckUploads`) for the on-call engineer.
 * Files completed longer ago than the stage's scan timeout and still `scanning` have had no verdict in time:
 * they are counted too (`ScansOverdue`, the scan-latency alarm).
 */
import { scanTimeoutSeconds, UPLOAD_LIFETIME_DAYS } from '../../contract/api/uploads';
import { SWEEP_METRICS } from '../../contract/metrics';
import type { Actor } from '../files/transitions';
import { query } from '../shared/db';
import { observe } from '../shared/observe';
import { logger, metrics } from '../shared/powertools';
import { abortMultipart, storedObjectSize } from './multipart';
import { maxUploadBytes } from './s3';
import { failGoneUpload } from './service';

interface Expired {
  id: string;
  object_key: string;
  upload_id: string | null;
}

/** A grace hour past the lifecycle rule, so the job never races a client finishing on time. */
const GRACE_MS = 3600 * 1000;
/** Rows per run; newest first, so files reported stuck (they stay `uploading`) never starve expired ones. */
const BATCH = 500;

export interface SweepResult {
  readonly expired: string[];
  readonly stuck: string[];
  /** Files still waiting for a verdict past the scan timeout. */
  readonly scansOverdue: number;
}

export async function expireStaleUploads(now: Date): Promise<SweepResult> {
  const before = new Date(now.getTime() - UPLOAD_LIFETIME_DAYS * 24 * 3600 * 1000 - GRACE_MS);
  const rows = await query<Expired>(
    `SELECT id, object_key, upload_id FROM citadel.files
      WHERE state = 'uploading' AND created_at < $1 ORDER BY created_at DESC LIMIT ${BATCH}`,
    [before],
    { idempotent: true },
  );
  const actor: Actor = { principal: 'system', requestId: `schedule:${now.toISOString()}` };
  const expired: string[] = [];
  const stuck: string[] = [];
  for (const row of rows) {
    if (row.upload_id) await abortMultipart(row.object_key, row.upload_id);
    if ((await storedObjectSize(row.object_key)) !== undefined) {
      stuck.push(row.id);
      continue;
    }
    if (await failGoneUpload(actor, row, `not completed within ${UPLOAD_LIFETIME_DAYS} day(s)`))
      expired.push(row.id);
  }
  if (stuck.length > 0) logger.warn('uploads completed at S3 but never confirmed', { files: stuck });
  const scansOverdue = await countOverdueScans(now);
  if (scansOverdue > 0)
    logger.warn('uploads still without a scan verdict past the scan timeout', { scansOverdue });
  metrics.addMetric(SWEEP_METRICS.expired, 'Count', expired.length);
  metrics.addMetric(SWEEP_METRICS.stuck, 'Count', stuck.length);
  metrics.addMetric(SWEEP_METRICS.scansOverdue, 'Count', scansOverdue);
  return { expired, stuck, scansOverdue };
}

/** Files completed before `now` minus the stage's scan timeout that are still `scanning`. */
async function countOverdueScans(now: Date): Promise<number> {
  const deadline = new Date(now.getTime() - scanTimeoutSeconds(maxUploadBytes()) * 1000);
  const [row] = await query<{ overdue: string }>(
    `SELECT count(*) AS overdue FROM citadel.files WHERE state = 'scanning' AND completed_at < $1`,
    [deadline],
    { idempotent: true },
  );
  return Number(row?.overdue ?? 0);
}

export const handler = observe(async () => expireStaleUploads(new Date()));
