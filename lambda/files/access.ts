import { roleSatisfies } from '../../contract/roles';
import { recordDenial } from '../shared/audit';
import type { Principal } from '../shared/auth';
import { NotFoundError } from '../shared/errors';

/** Managers and admins may see (and download) anyone's files; everyone else only their own. */
export const canReadAnyFile = (p: Principal): boolean =>
  p.kind === 'user' && roleSatisfies(p.role, 'manager');

/** Only admins may delete anyone's files. */
export const canDeleteAnyFile = (p: Principal): boolean =>
  p.kind === 'user' && roleSatisfies(p.role, 'admin');

export interface AccessCheck {
  readonly principal: Principal;
  readonly ownerId: string;
  readonly fileId: string;
  readonly action: string;
  readonly requestId: string;
  readonly sourceIp: string;
  readonly allowAnyone: (p: Principal) => boolean;
}

/**
 * Lets the owner (or a role allowed on anyone's files) through. Everyone else gets the same 404 as for
 * a file that does not exist, so ids cannot be probed, and the attempt is audited as denied.
 */
export async function assertFileAccess(check: AccessCheck): Promise<void> {
  if (check.ownerId === check.principal.id || check.allowAnyone(check.principal)) return;
  await recordDenial({
    principal: check.principal,
    action: check.action,
    target: `file:${check.fileId}`,
    requestId: check.requestId,
    sourceIp: check.sourceIp,
    details: { reason: 'not the owner' },
  });
  throw new NotFoundError('No such file.');
}
