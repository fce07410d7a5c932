/**
 * What the admin functions (in the VPC) ask the control functions (outside it) to do, and the answers.
 *
 * The AWS APIs the admin API needs have no path from the VPC in every stage: API Gateway's management API has
 * no interface endpoint, and Cognito's user-pool API cannot be reached through its endpoint by a pool that has a
 * domain (Cognito developer guide, "Access Amazon Cognito using an interface endpoint": "A user pool with a domain
 * assigned is incompatible with AWS PrivateLink"). So each capability is a small function outside the VPC, invoked
 * synchronously through the Lambda endpoint, with a role that holds that capability and nothing else.
 */
import * as z from 'zod';
import { SCOPES } from '../../contract/roles';

/** The environment variable that names each control function, by the route need it serves. */
export const CONTROL_FUNCTION_ENV = {
  'api-keys': 'CITADEL_API_KEY_FUNCTION',
  'cognito-clients': 'CITADEL_APP_CLIENT_FUNCTION',
  'cognito-mfa': 'CITADEL_MFA_FUNCTION',
  'cognito-recovery': 'CITADEL_RECOVERY_FUNCTION',
} as const;
export type ControlNeed = keyof typeof CONTROL_FUNCTION_ENV;

/** Usage-plan API keys: create one in a tier's plan, or disable one. */
export const keyControlRequest = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('create'),
    name: z.string().min(1).max(128),
    tier: z.enum(['basic', 'standard', 'premium']),
  }),
  z.strictObject({ action: z.literal('disable'), keyId: z.string().min(1).max(128) }),
]);
export type KeyControlRequest = z.infer<typeof keyControlRequest>;
export const keyCreated = z.strictObject({ keyId: z.string(), value: z.string() });
export const keyDisabled = z.strictObject({ disabled: z.literal(true) });

/** Cognito app clients for the client-credentials grant: create one with scopes, or delete one. */
export const clientControlRequest = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('create'),
    name: z.string().min(1).max(128),
    scopes: z.array(z.enum(SCOPES)).min(1),
  }),
  z.strictObject({ action: z.literal('delete'), clientId: z.string().min(1).max(128) }),
]);
export type ClientControlRequest = z.infer<typeof clientControlRequest>;
export const clientCreated = z.strictObject({ clientId: z.string(), clientSecret: z.string() });
/** `deleted: false` when the client did not exist (already deleted). */
export const clientDeleted = z.strictObject({ deleted: z.boolean() });

/** A user's MFA reset: every factor off, signed out everywhere. */
export const mfaControlRequest = z.strictObject({
  action: z.literal('reset'),
  username: z.string().min(1).max(128),
});
export type MfaControlRequest = z.infer<typeof mfaControlRequest>;
/** `reset: false` when the user does not exist. */
export const mfaReset = z.strictObject({ reset: z.boolean() });

/**
 * Self-service recovery, in two steps:
 * - `verify`: is this the user's password? The function always makes the same Cognito calls (AdminInitiateAuth on
 *   the recovery client and AdminGetUser), whatever the answer, and says only `verified` (with the user's `sub`
 *   and real user name when it is). `sourceIp` and `userAgent` go to Cognito's threat protection.
 * - `recover`: every MFA factor off, signed out everywhere, and the user told by email that a recovery code was
 *   used (`notified: false` where the stage has no SES sender or the user no verified address).
 */
export const recoveryControlRequest = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('verify'),
    username: z.string().min(1).max(128),
    password: z.string().min(1).max(256),
    sourceIp: z.string().max(45),
    userAgent: z.string().max(512).optional(),
  }),
  z.strictObject({
    action: z.literal('recover'),
    username: z.string().min(1).max(128),
    sourceIp: z.string().max(45),
  }),
]);
export type RecoveryControlRequest = z.infer<typeof recoveryControlRequest>;
export const passwordVerified = z.discriminatedUnion('verified', [
  z.strictObject({ verified: z.literal(false) }),
  z.strictObject({ verified: z.literal(true), userId: z.string().min(1), username: z.string().min(1) }),
]);
export const accountRecovered = z.strictObject({ notified: z.boolean() });
