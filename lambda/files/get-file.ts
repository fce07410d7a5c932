import { getFile } from '../../contract/api/files';
import { defineHandler } from '../shared/handler';
import { accessibleFile, canReadAnyFile } from './access';
import { toApiFile } from './repository';

/** `GET /v1/files/{id}`: one indexed lookup, then the ownership check. */
export const handler = defineHandler(getFile, async ({ params, principal, requestId, sourceIp }) => {
  const row = await accessibleFile(
    { principal, requestId, sourceIp },
    params.id,
    'file.read',
    canReadAnyFile,
  );
  return toApiFile(row);
});
