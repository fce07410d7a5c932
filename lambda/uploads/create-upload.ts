import { createUpload } from '../../contract/api/uploads';
import { defineHandler } from '../shared/handler';
import { startUpload } from './service';

/** `POST /v1/uploads`: checks the declaration, starts the S3 multipart upload and records the file. */
export const handler = defineHandler(createUpload, async ({ body, principal, requestId, sourceIp }) => {
  // The stored type is the file's `contentType` (GET /v1/files/{id}); the creation answer stays as declared.
  const { contentType: _stored, ...created } = await startUpload({ principal, requestId, sourceIp }, body);
  return created;
});
