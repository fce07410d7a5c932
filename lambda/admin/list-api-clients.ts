import { listApiClients } from '../../contract/api/admin';
import { defineHandler } from '../shared/handler';
import { decodeCursor, pageOf } from '../shared/pagination';
import { listApiClientRows, toApiClient } from './repository';

/** `GET /v1/admin/api-clients`: newest first, cursor-paginated, never secrets. */
export const handler = defineHandler(listApiClients, async ({ query }) => {
  const rows = await listApiClientRows(query.limit, decodeCursor(query.cursor, 'uuid'));
  return pageOf(rows, query.limit, toApiClient);
});
