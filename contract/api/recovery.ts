import * as z from 'zod';
import { defineRoute, PUBLIC_FOR_PEOPLE, peopleOnly } from '../route';

/**
 * The metrics recovery emits (namespace `Citadel`, dimension `service` = the route's function): the Observability
 * stack alarms on recoveries, so both read the names from here.
 */
export const RECOVERY_METRICS = {
  /** An account recovered with a code: a lost authenticator, or someone holding a password and a code. */
  recovered: 'MfaRecoveries',
  /** A refused recovery (wrong user name, password or code). */
  failed: 'RecoveryFailures',
  /** A recovered user who could not be emailed (no SES sender, no verified address, SES refused). */
  notNotified: 'RecoveryNoticesNotSent',
  /** A set of codes issued. */
  issued: 'RecoveryCodesIssued',
} as const;

/** How many codes one generation gives; each works once. */
export const RECOVERY_CODE_COUNT = 10;

/**
 * Generating codes needs a sign-in this recent (the token's `auth_time`): whoever holds a stolen or forgotten
 * session must not be able to mint a way back in.
 */
export const RECOVERY_REAUTH_SECONDS = 300;

/**
 * Lockout of `POST /v1/auth/recover` per user name as typed (whether or not such a user exists): after `failures`
 * failed attempts within `windowSeconds`, every attempt is refused (429) for `lockSeconds`.
 */
export const RECOVERY_LOCKOUT = { failures: 5, windowSeconds: 900, lockSeconds: 900 } as const;

/**
 * Codes are written in Crockford's base32 (no i, l, o, u), lower case, as `xxxx-xxxx-xxxx`: 12 characters, 60 bits.
 * The first two characters select the code among the user's set (stored in clear, 10 bits); the other ten are the
 * secret (50 bits), stored only as a scrypt hash.
 */
export const RECOVERY_CODE_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A code as shown to the user. */
export const RECOVERY_CODE_PATTERN = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;

/**
 * A code as a person may type it: any case, with or without the hyphens, spaces around or between the groups.
 * `i`, `l` and `o` are read as `1`, `1` and `0` (Crockford); `u` is in no code.
 */
const typedCode = /* @__PURE__ */ (() =>
  z
    .string()
    .max(32)
    .regex(
      /^\s*[0-9a-tv-z]{4}[\s-]?[0-9a-tv-z]{4}[\s-]?[0-9a-tv-z]{4}\s*$/i,
      'a recovery code: 12 letters and digits, e.g. abcd-efgh-jkmn',
    ))();

export const recoveryCodesResponse = /* @__PURE__ */ (() =>
  z.strictObject({
    /** Shown once: only their hashes are kept. */
    codes: z.array(z.string().regex(RECOVERY_CODE_PATTERN)).length(RECOVERY_CODE_COUNT),
    generatedAt: z.iso.datetime(),
  }))();
export type RecoveryCodes = z.infer<typeof recoveryCodesResponse>;

export const createRecoveryCodes = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'createRecoveryCodes',
    method: 'POST',
    path: '/v1/me/recovery-codes',
    entry: 'lambda/recovery/create-recovery-codes.ts',
    summary: `Issue ${RECOVERY_CODE_COUNT} single-use MFA recovery codes, shown once; any earlier codes stop working. Needs a sign-in within the last ${RECOVERY_REAUTH_SECONDS / 60} minutes (otherwise 401 with error="insufficient_user_authentication").`,
    auth: peopleOnly(['files.read', 'files.write', 'admin']),
    response: { status: 201, schema: recoveryCodesResponse },
    needs: ['database'],
    // Ten scrypt hashes (16 MiB, ~50 ms of a whole vCPU each): 1 GiB (about 0.6 vCPU) keeps it near a second.
    memoryMiB: 1024,
  }))();

export const recoverBody = /* @__PURE__ */ (() =>
  z.strictObject({
    /** What the user signs in with: their email address. */
    username: z
      .string()
      .trim()
      .min(1)
      .max(128)
      .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters'),
    /** Cognito passwords are at most 256 characters. */
    password: z.string().min(1).max(256),
    code: typedCode,
  }))();
export type RecoverInput = z.infer<typeof recoverBody>;

export const recoveredResponse = /* @__PURE__ */ (() =>
  z.strictObject({
    recovered: z.literal(true),
    /** Codes still usable after this one. */
    recoveryCodesLeft: z.number().int().min(0),
  }))();

export const recoverAccount = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'recoverAccount',
    method: 'POST',
    path: '/v1/auth/recover',
    entry: 'lambda/recovery/recover-account.ts',
    summary: `Lost authenticator: user name, password and one recovery code clear the MFA factors and sign the user out everywhere; the next sign-in enrols a new authenticator. Every wrong combination gets the same 403; ${RECOVERY_LOCKOUT.failures} failures within ${RECOVERY_LOCKOUT.windowSeconds / 60} minutes lock the user name for ${RECOVERY_LOCKOUT.lockSeconds / 60} minutes (429).`,
    auth: PUBLIC_FOR_PEOPLE,
    body: recoverBody,
    response: { status: 200, schema: recoveredResponse },
    needs: ['database', 'cognito-recovery'],
    // One scrypt verification per attempt, and the control function's Cognito calls.
    memoryMiB: 512,
    timeoutSeconds: 20,
  }))();
