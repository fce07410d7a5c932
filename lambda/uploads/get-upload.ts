import { getUpload } from '../../contract/api/uploads';
import { toApiFile } from '../files/repository';
import { defineHandler } from '../shared/handler';
import { listAllParts } from './multipart';
import { ownedUpload } from './service';

/** `GET /v1/uploads/{id}`: the upload's state and, while it is uploading, the parts S3 already holds. */
export const handler = defineHandler(getUpload, async ({ params, principal, requestId, sourceIp }) => {
  const row = await ownedUpload({ principal, requestId, sourceIp }, params.id);
  const uploading = row.state === 'uploading' && row.upload_id !== null;
  const parts = uploading ? ((await listAllParts(row.object_key, row.upload_id as string)) ?? []) : [];
  return {
    file: toApiFile(row),
    uploadId: uploading ? row.upload_id : null,
    partSize: row.part_size === null ? null : Number(row.part_size),
    partCount: row.part_count,
    parts: parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag })),
  };
});
