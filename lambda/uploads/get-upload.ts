import { getUpload } from '../../contract/api/uploads';
import { toApiFile } from '../files/repository';
import { defineHandler } from '../shared/handler';
import { listAllParts } from './multipart';
import { ownedUpload, resolveGoneUpload } from './service';

/**
 * `GET /v1/uploads/{id}`: the upload's state and, while it is uploading, the parts S3 already holds. An
 * upload S3 no longer knows is reconciled first, so a resuming client never signs parts for a dead upload.
 */
export const handler = defineHandler(getUpload, async ({ params, principal, requestId, sourceIp }) => {
  const caller = { principal, requestId, sourceIp };
  const row = await ownedUpload(caller, params.id);
  const uploading = row.state === 'uploading' && row.upload_id !== null;
  const parts = uploading ? await listAllParts(row.object_key, row.upload_id as string) : [];
  const shape = {
    partSize: row.part_size === null ? null : Number(row.part_size),
    partCount: row.part_count,
  };
  if (parts === undefined) {
    // S3 has no such upload any more: completed (adopt it) or expired/aborted (say so), never "uploading".
    return { file: await resolveGoneUpload(caller, row), uploadId: null, ...shape, parts: [] };
  }
  return {
    file: toApiFile(row),
    uploadId: uploading ? row.upload_id : null,
    ...shape,
    parts: parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag })),
  };
});
