import { recoverAccount as route } from '../../contract/api/recovery';
import { defineHandler } from '../shared/handler';
import { recoveryIdentity } from './adapters';
import { scryptHasher } from './codes';
import { recoverAccount } from './service';

/**
 * `POST /v1/auth/recover` (public): a person who lost their authenticator proves their password and one recovery
 * code; their MFA is reset, every session signed out, and they are told by email (runbook `docs/runbooks.md`,
 * "lost-device-and-codes", for those who have no code left).
 */
export const handler = defineHandler(route, ({ body, requestId, sourceIp, userAgent }) =>
  recoverAccount(
    body,
    { requestId, sourceIp, userAgent },
    { hasher: scryptHasher, identity: recoveryIdentity },
  ),
);
