import { createRecoveryCodes } from '../../contract/api/recovery';
import { defineHandler } from '../shared/handler';
import { issueRecoveryCodes } from './service';

/**
 * `POST /v1/me/recovery-codes`: ten single-use MFA recovery codes for the signed-in person, shown once; any earlier
 * set stops working. Needs a sign-in within the last five minutes (401 step-up otherwise).
 */
export const handler = defineHandler(createRecoveryCodes, ({ principal, requestId, sourceIp }) =>
  issueRecoveryCodes(principal, { requestId, sourceIp }),
);
