import { abortUpload } from '../../contract/api/uploads';
import { defineHandler } from '../shared/handler';
import { cancelUpload, ownedUpload } from './service';

/** `DELETE /v1/uploads/{id}`: aborts an upload in progress; S3 drops its parts. */
export const handler = defineHandler(abortUpload, async ({ params, principal, requestId, sourceIp }) => {
  const caller = { principal, requestId, sourceIp };
  await cancelUpload(caller, await ownedUpload(caller, params.id));
  return undefined;
});
