import { control } from '../admin/aws';
import { accountRecovered, passwordVerified } from '../admin/control-protocol';
import { adapterChooser } from '../shared/local-adapters';
import type { RecoveryIdentity } from './ports';

/** Cognito and SES through the recovery control function outside the VPC. */
export const controlledRecovery: RecoveryIdentity = {
  verifyPassword: (username, password, { sourceIp, userAgent }) =>
    control(
      'cognito-recovery',
      { action: 'verify', username, password, sourceIp, ...(userAgent ? { userAgent } : {}) },
      passwordVerified,
    ),
  recover: (username, sourceIp) =>
    control('cognito-recovery', { action: 'recover', username, sourceIp }, accountRecovered),
};

/** The recovery adapter: the control function, or the local simulators under `npm run dev`. */
export const recoveryIdentity: () => Promise<RecoveryIdentity> = adapterChooser(
  'recoveryIdentity',
  controlledRecovery,
);
