import { getFile } from '../../contract/api/files';
import { NotFoundError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { assertFileAccess, canReadAnyFile } from './access';
import { findFile, toApiFile } from './repository';

/** `GET /v1/files/{id}`: one indexed lookup, then the ownership check. */
export const handler = defineHandler(getFile, async ({ params, principal, requestId, sourceIp }) => {
  const row = await findFile(params.id);
  if (!row) throw new NotFoundError('No such file.');
  await assertFileAccess({
    principal,
    ownerId: row.owner_id,
    fileId: params.id,
    action: 'file.read',
    requestId,
    sourceIp,
    allowAnyone: canReadAnyFile,
  });
  return toApiFile(row);
});
