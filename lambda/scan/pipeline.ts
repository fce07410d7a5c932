/**
 * The verdict on every uploaded object, from GuardDuty's scan result and Citadel's own checks:
 * - no threats, real type matches the declared one (and SHA-256, when declared) → `clean`, downloadable;
 * - threats → `infected`, moved to quarantine;
 * - no threats but the content is not what was declared → `rejected`, moved to quarantine;
 * - GuardDuty could not scan it → `scan_failed`, left in place unreadable, counted in `ScanFailed`;
 * - the object is not the declared size (a browser completed it at S3 with parts missing) → `failed`,
 *   object deleted.
 * Each file gets exactly one verdict: replays and late events change nothing.
 */
import type { FileState } from '../../contract/api/files';
import { SCAN_METRICS, UPLOAD_METRICS } from '../../contract/metrics';
import { SCAN_OUTCOME_METRICS, type ScanOutcome } from '../../contract/scan';
import { type FileRow, findFileByKey } from '../files/repository';
import { type Actor, moveFile, uploadCompleted } from '../files/transitions';
import { logger, metrics } from '../shared/powertools';
import { deleteObject } from '../uploads/multipart';
import { isNoSuchKey, uploadsBucket } from '../uploads/s3';
import { readContent } from './content';
import type { ObjectCreatedEvent, ScanResultEvent } from './event';
import { quarantine } from './quarantine';
import { checkType, detectType } from './type-check';

export type PipelineResult = ScanOutcome | 'size_mismatch' | 'ignored';

interface Verdict {
  readonly outcome: ScanOutcome | 'size_mismatch';
  readonly set: Record<string, unknown>;
  readonly details: Record<string, unknown>;
}

export async function processScanResult(event: ScanResultEvent): Promise<PipelineResult> {
  const { s3ObjectDetails: object, scanResultDetails: result } = event.detail;
  logger.appendKeys({ objectKey: object.objectKey, scanResult: result.scanResultStatus });
  if (object.bucketName !== uploadsBucket()) {
    logger.warn('scan result for another bucket ignored', { bucket: object.bucketName });
    return 'ignored';
  }
  const row = await findFileByKey(object.objectKey);
  if (!row) {
    // An object no upload created: it stays unreadable (no clean tag is ever trusted without a row).
    logger.warn('scanned object has no file record');
    metrics.addMetric('ScanOrphans', 'Count', 1);
    return 'ignored';
  }
  logger.appendKeys({ fileId: row.id });
  if (row.state === 'infected' || row.state === 'rejected') {
    // A retry after the verdict was recorded but before the object was moved: finish the move.
    await moveToQuarantine(row, object.versionId);
    return 'ignored';
  }
  if (await removeIfUnwanted(row)) return 'ignored';
  if (row.state !== 'uploading' && row.state !== 'scanning') {
    logger.info('file already has a verdict; event ignored', { state: row.state });
    return 'ignored';
  }

  let verdict: Verdict;
  try {
    verdict = await decide(row, event);
  } catch (error) {
    if (isNoSuchKey(error)) {
      logger.info('scanned object no longer exists (deleted while it was scanned); event ignored');
      return 'ignored';
    }
    throw error;
  }

  const actor: Actor = { principal: 'system', requestId: `guardduty:${event.id}` };
  if (row.state === 'uploading' && verdict.outcome !== 'size_mismatch') {
    // The verdict came before S3's Object Created event: record the completion that event would have.
    await moveFile(actor, row.id, uploadCompleted(Number(row.declared_size), { via: 'scan-result' }));
  }
  // The verdict is recorded first (the file is never downloadable again unless clean), then the object is
  // moved or deleted; a failure there fails the invocation, and the retry finishes it (branches above).
  const scannedAt = new Date();
  const applied = await moveFile(actor, row.id, {
    from: ['uploading', 'scanning'],
    to: STATES[verdict.outcome],
    set: {
      scanned_at: scannedAt,
      completed_at: row.completed_at ?? scannedAt,
      scan_status: result.scanResultStatus,
      ...verdict.set,
    },
    action: 'file.scan',
    outcome: verdict.outcome === 'clean' ? 'success' : 'failure',
    details: { verdict: verdict.outcome, scanResult: result.scanResultStatus, ...verdict.details },
    metrics: [
      [
        verdict.outcome === 'size_mismatch' ? UPLOAD_METRICS.failed : SCAN_OUTCOME_METRICS[verdict.outcome],
        'Count',
        1,
      ],
      // Completion to verdict: the scan-latency graph (a file that never gets one is counted as overdue by the sweep).
      ...(verdict.outcome === 'size_mismatch'
        ? []
        : [[SCAN_METRICS.latency, 'Milliseconds', scanLatencyMs(row, scannedAt)] as const]),
    ],
  });
  if (!applied) return 'ignored';
  if (verdict.outcome === 'infected' || verdict.outcome === 'rejected')
    await moveToQuarantine(row, object.versionId);
  if (verdict.outcome === 'size_mismatch') await deleteObject(row.object_key);
  logger.info('scan verdict', { verdict: verdict.outcome, ...verdict.details });
  return verdict.outcome;
}

/** Milliseconds from the file's completion (now, when the verdict came first) to its verdict. */
function scanLatencyMs(row: Pick<FileRow, 'completed_at'>, scannedAt: Date): number {
  return Math.max(0, scannedAt.getTime() - (row.completed_at ?? scannedAt).getTime());
}

/**
 * A `failed` or `aborted` file keeps no object: one that is there anyway (a delete that did not go through,
 * or a browser that completed at S3 just as its upload was aborted) is deleted. Returns whether it applied.
 */
async function removeIfUnwanted(row: FileRow): Promise<boolean> {
  if (row.state !== 'failed' && row.state !== 'aborted') return false;
  await deleteObject(row.object_key);
  logger.info('object of a failed or aborted file deleted', { state: row.state });
  return true;
}

async function moveToQuarantine(row: FileRow, versionId: string | undefined): Promise<void> {
  try {
    await quarantine(row.object_key, Number(row.declared_size), versionId);
  } catch (error) {
    if (!isNoSuchKey(error)) throw error; // already moved (or deleted by its owner)
  }
}

const STATES = {
  clean: 'clean',
  infected: 'infected',
  rejected: 'rejected',
  failed: 'scan_failed',
  size_mismatch: 'failed',
} as const satisfies Record<Verdict['outcome'], FileState>;

async function decide(row: FileRow, event: ScanResultEvent): Promise<Verdict> {
  const { s3ObjectDetails: object, scanResultDetails: result } = event.detail;
  switch (result.scanResultStatus) {
    case 'THREATS_FOUND': {
      const threats = result.threats.map((t) => t.name).slice(0, 20);
      return {
        outcome: 'infected',
        set: { failure_reason: `malware: ${threats.join(', ') || 'unnamed threat'}` },
        details: { threats },
      };
    }
    case 'NO_THREATS_FOUND': {
      const content = await readContent(row.object_key, object.versionId, row.sha256 !== null);
      if (content.objectSize !== Number(row.declared_size)) return sizeMismatch(row, content.objectSize);
      const type = checkType(row.content_type, await detectType(content.head));
      const hashOk = row.sha256 === null || content.sha256 === row.sha256;
      if (type.ok && hashOk)
        return {
          outcome: 'clean',
          set: { detected_type: type.detected },
          details: { detectedType: type.detected },
        };
      const reason = type.ok ? 'content does not match the declared SHA-256' : type.reason;
      return {
        outcome: 'rejected',
        set: { detected_type: type.detected, failure_reason: reason },
        details: { detectedType: type.detected, reason },
      };
    }
    default:
      // UNSUPPORTED (e.g. password-protected archives), ACCESS_DENIED, FAILED: nobody can vouch for it.
      return {
        outcome: 'failed',
        set: { failure_reason: `GuardDuty could not scan the object (${result.scanResultStatus})` },
        details: {},
      };
  }
}

function sizeMismatch(row: FileRow, size: number): Verdict {
  const reason = `the object is ${size} bytes; ${row.declared_size} were declared`;
  return { outcome: 'size_mismatch', set: { failure_reason: reason }, details: { size, reason } };
}

/**
 * An object arrived under the upload prefix. Uploads the API completed are already `scanning`; one a
 * browser completed at S3 (Uppy) moves there now if it has the declared size, and fails (object deleted)
 * if it does not. Idempotent: only an `uploading` row moves.
 */
export async function processObjectCreated(
  event: ObjectCreatedEvent,
): Promise<'scanning' | 'size_mismatch' | 'ignored'> {
  const { bucket, object } = event.detail;
  logger.appendKeys({ objectKey: object.key });
  if (bucket.name !== uploadsBucket()) return 'ignored';
  const row = await findFileByKey(object.key);
  if (!row || (await removeIfUnwanted(row)) || row.state !== 'uploading') return 'ignored';
  const actor: Actor = { principal: 'system', requestId: `s3:${event.id}` };
  const details = { via: 'object-created', reason: event.detail.reason ?? null, size: object.size };
  if (object.size === Number(row.declared_size)) {
    return (await moveFile(actor, row.id, uploadCompleted(object.size, details))) ? 'scanning' : 'ignored';
  }
  const failed = await moveFile(actor, row.id, {
    from: ['uploading'],
    to: 'failed',
    set: { failure_reason: sizeMismatch(row, object.size).set.failure_reason },
    action: 'upload.complete',
    outcome: 'failure',
    details,
    metrics: [[UPLOAD_METRICS.failed, 'Count', 1]],
  });
  if (!failed) return 'ignored';
  // A failure here fails the invocation; the retry finds the file `failed` and deletes the object then.
  await deleteObject(row.object_key);
  logger.warn('completed object does not have the declared size; deleted', { size: object.size });
  return 'size_mismatch';
}
