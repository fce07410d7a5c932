import { completeUpload } from '../../contract/api/uploads';
import { defineHandler } from '../shared/handler';
import { finishUpload, ownedUpload } from './service';

/** `POST /v1/uploads/{id}/complete`: checks every part, assembles the object, hands it to the scan. */
export const handler = defineHandler(
  completeUpload,
  async ({ params, body, principal, requestId, sourceIp }) => {
    const caller = { principal, requestId, sourceIp };
    return finishUpload(caller, await ownedUpload(caller, params.id), body.parts);
  },
);
