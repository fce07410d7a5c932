import { PART_URL_SECONDS, partBytes, signUploadParts } from '../../contract/api/uploads';
import { ConflictError, ValidationError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { presignPart } from './multipart';
import { ownedUpload } from './service';

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
    const partCount = row.part_count as number;
    const beyond = body.partNumbers.filter((n) => n > partCount);
    if (beyond.length > 0) {
      throw new ValidationError([
        {
          in: 'body',
          path: 'partNumbers',
          message: `this upload has ${partCount} parts; ${beyond.slice(0, 5).join(', ')} do not exist`,
        },
      ]);
    }
    const size = Number(row.declared_size);
    const partSize = Number(row.part_size);
    const expiresAt = new Date(Date.now() + PART_URL_SECONDS * 1000).toISOString();
    const parts = await Promise.all(
      body.partNumbers.map(async (partNumber) => {
        const bytes = partBytes(partNumber, size, partSize);
        return {
          partNumber,
          size: bytes,
          url: await presignPart(row.object_key, row.upload_id as string, partNumber, bytes),
        };
      }),
    );
    return { parts, expiresAt };
  },
);
