/**
 * Scheduled job: uploads left `uploading` past their lifetime. The bucket's lifecycle rule removes their
 * parts after a day; this job aborts any S3 still holds and marks the file `aborted`, so nothing stays
 * "uploading" forever. An upload whose object exists but never left `uploading` lost its S3 events: it is
 * left alone and counted (`StuckUploads`) for the on-call engineer.
 */
import { UPLOAD_LIFETIME_DAYS } from '../../contract/api/uploads';
import { transitionFile } from '../files/repository';
import { recordAudit } from '../shared/audit';
import { query, transaction } from '../shared/db';
import { observe } from '../shared/observe';
import { logger, metrics } from '../shared/powertools';
import { abortMultipart, storedObjectSize } from './multipart';

interface Expired {
  id: string;
  object_key: string;
  upload_id: string | null;
}

/** A grace hour past the lifecycle rule, so the job never races a client finishing on time. */
const GRACE_MS = 3600 * 1000;

export async function expireStaleUploads(now: Date): Promise<{ expired: string[]; stuck: string[] }> {
  const before = new Date(now.getTime() - UPLOAD_LIFETIME_DAYS * 24 * 3600 * 1000 - GRACE_MS);
  const rows = await query<Expired>(
    `SELECT id, object_key, upload_id FROM citadel.files
      WHERE state = 'uploading' AND created_at < $1 ORDER BY created_at LIMIT 500`,
    [before],
    { idempotent: true },
  );
  const expired: string[] = [];
  const stuck: string[] = [];
  for (const row of rows) {
    if (row.upload_id) await abortMultipart(row.object_key, row.upload_id);
    if ((await storedObjectSize(row.object_key)) !== undefined) {
      stuck.push(row.id);
      continue;
    }
    const moved = await transaction(async (tx) => {
      const done = await transitionFile(tx, row.id, ['uploading'], 'aborted', {
        failure_reason: `not completed within ${UPLOAD_LIFETIME_DAYS} day(s)`,
      });
      if (done) {
        await recordAudit(
          {
            principal: 'system',
            action: 'upload.expire',
            target: `file:${row.id}`,
            outcome: 'success',
            requestId: `schedule:${now.toISOString()}`,
          },
          tx,
        );
      }
      return done;
    });
    if (moved) expired.push(row.id);
  }
  if (stuck.length > 0) logger.warn('uploads completed at S3 but never confirmed', { files: stuck });
  metrics.addMetric('UploadsExpired', 'Count', expired.length);
  metrics.addMetric('StuckUploads', 'Count', stuck.length);
  return { expired, stuck };
}

export const handler = observe(async () => expireStaleUploads(new Date()));
