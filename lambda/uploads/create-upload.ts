import { createUpload } from '../../contract/api/uploads';
import { defineHandler } from '../shared/handler';
import { startUpload } from './service';

/** `POST /v1/uploads`: checks the declaration, starts the S3 multipart upload and records the file. */
export const handler = defineHandler(createUpload, ({ body, principal, requestId, sourceIp }) =>
  startUpload({ principal, requestId, sourceIp }, body),
);
