import { listFiles } from '../../contract/api/uploads';
import { ForbiddenError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { decodeCursor, pageOf } from '../shared/pagination';
import { canReadAnyFile } from './access';
import { listFileRows, toApiFile } from './repository';

/**
 * `GET /v1/files`: the caller's files, newest first. Managers and admins see everyone's, or one owner's
 * with `?owner=`; anyone else asking for another owner's files is refused.
 */
export const handler = defineHandler(listFiles, async ({ query, principal }) => {
  const anyone = canReadAnyFile(principal);
  if (query.owner !== undefined && query.owner !== principal.id && !anyone) {
    throw new ForbiddenError("Only managers and admins may list other people's files.");
  }
  const after = decodeCursor(query.cursor, 'uuid');
  const owner = query.owner ?? (anyone ? undefined : principal.id);
  const rows = await listFileRows(owner, query.limit, after);
  return pageOf(rows, query.limit, toApiFile);
});
