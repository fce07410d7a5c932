import * as z from 'zod';
import { ROLES, SCOPES } from '../roles';
import { defineRoute, requires } from '../route';

/** Who the caller is, as the API sees them. */
export const meResponse = /* @__PURE__ */ (() =>
  z.strictObject({
    id: z.string(),
    kind: z.enum(['user', 'machine']),
    username: z.string().nullable(),
    role: z.enum(ROLES).nullable(),
    scopes: z.array(z.enum(SCOPES)),
    /** MFA recovery codes the person can still use (`POST /v1/me/recovery-codes` issues them); null for machines. */
    recoveryCodesLeft: z.number().int().min(0).nullable(),
  }))();
export type Me = z.infer<typeof meResponse>;

export const getMe = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'getMe',
    method: 'GET',
    path: '/v1/me',
    entry: 'lambda/me/get-me.ts',
    summary:
      'The caller: id, role (people), scopes and recovery codes left. Open to every signed-in role, guests included.',
    auth: requires('guest', ['files.read', 'files.write', 'admin']),
    response: { status: 200, schema: meResponse },
    // Counts the person's recovery codes; refusals are audited (lambda/shared/audit.ts#recordDenial).
    needs: ['database'],
  }))();
