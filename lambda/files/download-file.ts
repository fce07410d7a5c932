import { DOWNLOAD_URL_SECONDS, downloadFile } from '../../contract/api/uploads';
import { recordAudit } from '../shared/audit';
import { ConflictError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { metrics } from '../shared/powertools';
import { attachmentDisposition } from '../uploads/domain';
import { presignDownload } from '../uploads/multipart';
import { accessibleFile, canReadAnyFile } from './access';

const WHY_NOT: Record<string, string> = {
  uploading: 'it is still uploading',
  scanning: 'the malware scan and type check have not finished; try again shortly',
  infected: 'the malware scan found a threat; it is quarantined',
  rejected: 'its content is not the declared type; it is quarantined',
  scan_failed: 'the malware scan could not complete; it stays unreadable until an administrator reviews it',
  failed: 'the upload failed',
  aborted: 'the upload was aborted',
};

/**
 * `GET /v1/files/{id}/download`: a 5-minute presigned link, as an attachment, for a file that passed
 * the malware scan and the type check. Every link issued is audited.
 */
export const handler = defineHandler(downloadFile, async ({ params, principal, requestId, sourceIp }) => {
  const row = await accessibleFile(
    { principal, requestId, sourceIp },
    params.id,
    'file.download',
    canReadAnyFile,
  );
  if (row.state !== 'clean') {
    const why = WHY_NOT[row.state] ?? `it is ${row.state}`;
    const reason = row.state === 'failed' && row.failure_reason ? ` (${row.failure_reason})` : '';
    throw new ConflictError(`This file cannot be downloaded: ${why}${reason}.`);
  }
  const url = await presignDownload(row.object_key, attachmentDisposition(row.filename), row.content_type);
  await recordAudit({
    principal,
    action: 'file.download',
    target: `file:${row.id}`,
    outcome: 'success',
    requestId,
    sourceIp,
  });
  metrics.addMetric('DownloadLinksIssued', 'Count', 1);
  return {
    url,
    filename: row.filename,
    expiresAt: new Date(Date.now() + DOWNLOAD_URL_SECONDS * 1000).toISOString(),
  };
});
