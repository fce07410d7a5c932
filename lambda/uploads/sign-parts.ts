import { PART_URL_SECONDS, signUploadParts } from '../../contract/api/uploads';
import { ConflictError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { ownedUpload, signParts } from './service';

/**
 * `POST /v1/uploads/{id}/parts`: presigned UploadPart URLs for parts of an upload the caller owns. Each
 * URL is signed for the part's exact size, so S3 refuses any other body.
 */
export const handler = defineHandler(
  signUploadParts,
  async ({ params, body, principal, requestId, sourceIp }) => {
    const row = await ownedUpload({ principal, requestId, sourceIp }, params.id);
    if (row.state !== 'uploading' || !row.upload_id) {
      throw new ConflictError(`This upload is ${row.state}; parts can only be signed while it is uploading.`);
    }
    const parts = await signParts(row, row.upload_id, body.partNumbers, 'partNumbers');
    return { parts, expiresAt: new Date(Date.now() + PART_URL_SECONDS * 1000).toISOString() };
  },
);
