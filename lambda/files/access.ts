import { roleSatisfies } from '../../contract/roles';
import { recordDenial } from '../shared/audit';
import type { Principal } from '../shared/auth';
import { ForbiddenError, NotFoundError } from '../shared/errors';
import { type FileRow, findFile } from './repository';

/** Managers and admins may see (and download) anyone's files; everyone else only their own. */
export const canReadAnyFile = (p: Principal): boolean =>
  p.kind === 'user' && roleSatisfies(p.role, 'manager');

/** Only admins may delete anyone's files. */
export const canDeleteAnyFile = (p: Principal): boolean =>
  p.kind === 'user' && roleSatisfies(p.role, 'admin');

/** Who asks, as the audit trail records a refusal. */
export interface Requester {
  readonly principal: Principal;
  readonly requestId: string;
  readonly sourceIp: string;
}

/**
 * The file `id` if `requester` may act on it: its owner, or a role `allowAnyone` lets through. A missing
 * file and someone else's are the same 404, so ids cannot be probed; the latter is audited as denied. A
 * caller `canSee` lets read the file (a manager, on a delete) already knows it exists: that refusal is a 403
 * saying why, audited the same way.
 */
export async function accessibleFile(
  requester: Requester,
  id: string,
  action: string,
  allowAnyone: (p: Principal) => boolean,
  canSee: (p: Principal) => boolean = () => false,
): Promise<FileRow> {
  const row = await findFile(id);
  if (!row) throw new NotFoundError('No such file.');
  if (row.owner_id === requester.principal.id || allowAnyone(requester.principal)) return row;
  const visible = canSee(requester.principal);
  await recordDenial({
    ...requester,
    action,
    target: `file:${id}`,
    details: { reason: 'not the owner', ...(visible ? { visible: true } : {}) },
  });
  if (visible) throw new ForbiddenError(REFUSALS[action] ?? 'You may see this file, but not do this to it.');
  throw new NotFoundError('No such file.');
}

/** What a caller who can see someone else's file is told when the action is not theirs to take. */
const REFUSALS: Readonly<Record<string, string>> = {
  'file.delete': 'You may read this file, but only its owner or an admin may delete it.',
};
