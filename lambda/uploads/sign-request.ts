/**
 * `POST /v1/uploads/sign`: Uppy 6's `signRequest`. The browser talks to S3 itself; Citadel decides what it
 * may say. `create`/`put` write the file row and return the server-generated key; every other request
 * must name an upload the caller owns, by that key and the one S3 upload id bound to it.
 */
import {
  MIN_PART_BYTES,
  PART_URL_SECONDS,
  type SignRequest,
  signUploadRequest,
} from '../../contract/api/uploads';
import { type FileRow, findFile } from '../files/repository';
import { recordDenial } from '../shared/audit';
import { query } from '../shared/db';
import { ConflictError, ForbiddenError, ValidationError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { multipartExists, presignBrowser } from './multipart';
import { auditOf, type Caller, cancelUpload, type PartUrl, signParts, startUpload } from './service';

type Keyed = Extract<SignRequest, { key: string }>;

const expiry = () => new Date(Date.now() + PART_URL_SECONDS * 1000).toISOString();

export const handler = defineHandler(signUploadRequest, async ({ body, principal, requestId, sourceIp }) => {
  const caller: Caller = { principal, requestId, sourceIp };
  switch (body.operation) {
    case 'create': {
      const started = await startUpload(caller, body, false);
      return {
        method: 'POST' as const,
        url: await presignBrowser.create(started.key, started.contentType),
        headers: { 'content-type': started.contentType },
        key: started.key,
        fileId: started.id,
        expiresAt: expiry(),
      };
    }
    case 'put': {
      if (body.size >= MIN_PART_BYTES) {
        throw new ValidationError([
          {
            in: 'body',
            path: 'size',
            message: `single PUTs are for files under ${MIN_PART_BYTES} bytes; use multipart`,
          },
        ]);
      }
      const started = await startUpload(caller, body, false);
      return {
        method: 'PUT' as const,
        url: await presignBrowser.put(started.key, started.contentType, body.size),
        headers: { 'content-type': started.contentType, 'if-none-match': '*' } as Record<string, string>,
        key: started.key,
        fileId: started.id,
        size: body.size,
        expiresAt: expiry(),
      };
    }
    default: {
      const row = await ownedByKey(caller, body);
      const uploadId = await bindUploadId(caller, row, body);
      const base = { headers: {}, key: row.object_key, fileId: row.id, expiresAt: expiry() };
      switch (body.operation) {
        case 'parts': {
          const parts = await signParts(row, uploadId, body.partNumbers, 'partNumbers');
          const [first] = parts as [PartUrl, ...PartUrl[]];
          return { ...base, method: 'PUT' as const, url: first.url, size: first.size, parts };
        }
        case 'part': {
          const [part] = (await signParts(row, uploadId, [body.partNumber], 'partNumber')) as [PartUrl];
          return { ...base, method: 'PUT' as const, url: part.url, size: part.size };
        }
        case 'list':
          return {
            ...base,
            method: 'GET' as const,
            url: await presignBrowser.list(row.object_key, uploadId),
          };
        case 'complete':
          return {
            ...base,
            method: 'POST' as const,
            url: await presignBrowser.complete(row.object_key, uploadId),
          };
        case 'abort': {
          // Aborted here, at S3 too, with the same checks as the REST route; Uppy's own abort then finds it
          // gone, which it only logs.
          await cancelUpload(caller, row, uploadId);
          return {
            ...base,
            method: 'DELETE' as const,
            url: await presignBrowser.abort(row.object_key, uploadId),
          };
        }
      }
    }
  }
});

/** The caller's upload in progress at `key`; any other key is refused (403) and audited. */
async function ownedByKey(caller: Caller, request: Keyed): Promise<FileRow> {
  const fileId = request.key.slice(request.key.lastIndexOf('/') + 1);
  const row = await findFile(fileId);
  if (!row || row.object_key !== request.key || row.owner_id !== caller.principal.id) {
    await recordDenial({
      ...auditOf(caller, fileId, `upload.sign.${request.operation}`),
      details: { reason: row ? 'not the owner' : 'no such upload' },
    });
    throw new ForbiddenError('You may not sign requests for this object.');
  }
  if (row.state !== 'uploading')
    throw new ConflictError(`This upload is ${row.state}; nothing more can be signed for it.`);
  return row;
}

/**
 * The one S3 upload id this file uses. Uppy creates the multipart upload itself, so the first request
 * after `create` binds its id to the row, once S3 confirms it is an upload of this file's key (an id S3
 * issued for anyone else's object, or none at all, is refused); every later request must carry the same id.
 */
async function bindUploadId(
  caller: Caller,
  row: FileRow,
  request: Keyed & { uploadId: string },
): Promise<string> {
  if (row.upload_id === request.uploadId) return request.uploadId;
  if (row.upload_id === null && !(await multipartExists(row.object_key, request.uploadId))) {
    await recordDenial({
      ...auditOf(caller, row.id, `upload.sign.${request.operation}`),
      details: { reason: 'S3 has no upload with this id for this file' },
    });
    throw new ForbiddenError(
      'S3 has no upload with this id for this file: sign only the upload you created.',
    );
  }
  if (row.upload_id === null) {
    const bound = await query<{ upload_id: string }>(
      `UPDATE citadel.files SET upload_id = COALESCE(upload_id, $2), updated_at = now()
        WHERE id = $1 AND state = 'uploading' RETURNING upload_id`,
      [row.id, request.uploadId],
    );
    if (bound[0]?.upload_id === request.uploadId) return request.uploadId;
  }
  await recordDenial({
    ...auditOf(caller, row.id, `upload.sign.${request.operation}`),
    details: { reason: 'upload id is not the one bound to this file' },
  });
  throw new ForbiddenError('This upload id does not belong to this file.');
}
