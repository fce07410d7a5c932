import { deleteFile } from '../../contract/api/uploads';
import { recordAudit } from '../shared/audit';
import { transaction } from '../shared/db';
import { NotFoundError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { metrics } from '../shared/powertools';
import { abortMultipart, deleteObject } from '../uploads/multipart';
import { accessibleFile, canDeleteAnyFile, canReadAnyFile } from './access';
import { findFile, transitionFile } from './repository';

/**
 * `DELETE /v1/files/{id}`: the owner's, or an admin's for anyone's; a manager, who can read anyone's file,
 * is refused with a 403 (not the 404 others get). The row is locked while S3 is
 * changed, so a failure on either side leaves both as they were. The row stays (state `deleted`) so the
 * audit trail keeps its target; quarantined objects stay in quarantine for their retention period.
 */
export const handler = defineHandler(deleteFile, async ({ params, principal, requestId, sourceIp }) => {
  const existing = await accessibleFile(
    { principal, requestId, sourceIp },
    params.id,
    'file.delete',
    canDeleteAnyFile,
    // A manager who can read the file is told it is not theirs to delete (403), not that it is missing.
    canReadAnyFile,
  );
  await transaction(async (tx) => {
    const row = await findFile(existing.id, tx, { lock: true });
    if (!row) throw new NotFoundError('No such file.');
    if (row.state === 'uploading' && row.upload_id) await abortMultipart(row.object_key, row.upload_id);
    // Infected and rejected objects live in quarantine for its retention; any other state may have left an
    // object (a failed one whose deletion did not go through): deleting a missing key is a no-op.
    if (row.state !== 'infected' && row.state !== 'rejected') await deleteObject(row.object_key);
    await transitionFile(tx, row.id, [row.state], 'deleted', { deleted_at: new Date() });
    await recordAudit(
      {
        principal,
        action: 'file.delete',
        target: `file:${row.id}`,
        outcome: 'success',
        requestId,
        sourceIp,
        details: { previousState: row.state, owner: row.owner_id },
      },
      tx,
    );
  });
  metrics.addMetric('FilesDeleted', 'Count', 1);
  return undefined;
});
