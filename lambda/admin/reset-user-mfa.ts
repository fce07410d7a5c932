import { resetUserMfa } from '../../contract/api/admin';
import { recordAudit } from '../shared/audit';
import { NotFoundError } from '../shared/errors';
import { defineHandler } from '../shared/handler';
import { adminAdapters } from './adapters';

/**
 * `POST /v1/admin/users/{username}/mfa-reset`: the recovery path for a lost authenticator (runbook
 * `docs/runbooks.md#mfa-reset`). MFA stays required, so the user enrols a new one at the next sign-in.
 */
export const handler = defineHandler(resetUserMfa, async ({ params, principal, requestId, sourceIp }) => {
  const { mfa } = await adminAdapters();
  const found = await mfa.reset(params.username);
  const audit = {
    principal,
    action: 'user.mfa_reset',
    target: `user:${params.username}`,
    requestId,
    sourceIp,
  };
  if (!found) {
    await recordAudit({ ...audit, outcome: 'failure', details: { reason: 'no such user' } });
    throw new NotFoundError('No such user.');
  }
  await recordAudit({ ...audit, outcome: 'success' });
  return undefined;
});
