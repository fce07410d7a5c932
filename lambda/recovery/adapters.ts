import { control } from '../admin/aws';
import { accountRecovered, passwordVerified } from '../admin/control-protocol';
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

let chosen: Promise<RecoveryIdentity> | undefined;

/**
 * The recovery adapter: the control function everywhere, except under `npm run dev`, which points
 * `CITADEL_ADAPTERS_MODULE` at the local simulators (a path unknown at bundle time, so they never ship).
 */
export function recoveryIdentity(): Promise<RecoveryIdentity> {
  const module = process.env.CITADEL_ADAPTERS_MODULE;
  chosen ??= module
    ? import(module).then((m: { recoveryIdentity: RecoveryIdentity }) => m.recoveryIdentity)
    : Promise.resolve(controlledRecovery);
  return chosen;
}
