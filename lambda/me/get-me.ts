import { getMe } from '../../contract/api/me';
import { SCOPES } from '../../contract/roles';
import { liveCodeCount } from '../recovery/repository';
import { defineHandler } from '../shared/handler';

/** `GET /v1/me`: the caller as the API sees them (every signed-in role, guests included). */
export const handler = defineHandler(getMe, async ({ principal }) => ({
  id: principal.id,
  kind: principal.kind,
  username: principal.kind === 'user' ? principal.username : null,
  role: principal.kind === 'user' ? principal.role : null,
  scopes: SCOPES.filter((s) => principal.scopes.has(s)),
  recoveryCodesLeft: principal.kind === 'user' ? await liveCodeCount(principal.id) : null,
}));
