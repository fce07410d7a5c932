/**
 * Self-service MFA recovery, free of API Gateway: issuing a person's recovery codes, and recovering an account
 * with a user name, a password and one code.
 *
 * A recovery attempt takes the same path whoever asks: unless the user name is locked out, exactly one password
 * check with Cognito, one lookup of a live code, one scrypt computation (against a decoy when there is no user or
 * no such code), then either success or one failure record (attempt count and audit row in one transaction), and
 * one answer for every failure. Tests count those steps (`RecoveryDeps`).
 */
import {
  RECOVERY_CODE_COUNT,
  RECOVERY_LOCKOUT,
  RECOVERY_METRICS,
  RECOVERY_REAUTH_SECONDS,
  type RecoverInput,
  type RecoveryCodes,
} from '../../contract/api/recovery';
import { type AuditEvent, recordAudit } from '../shared/audit';
import type { Principal, UserPrincipal } from '../shared/auth';
import { transaction } from '../shared/db';
import { DomainError, ForbiddenError } from '../shared/errors';
import { logger, metrics } from '../shared/powertools';
import { type CodeHasher, DECOY_HASH, generateCodes, loginKey, parseCode, scryptHasher } from './codes';
import type { RecoveryIdentity } from './ports';
import * as repo from './repository';

/** What a recovery depends on that tests may wrap: the hasher and the Cognito adapter. */
export interface RecoveryDeps {
  readonly hasher: CodeHasher;
  readonly identity: () => Promise<RecoveryIdentity>;
}

/** The request's own facts, for the audit trail and Cognito's threat protection. */
export interface RequestFacts {
  readonly requestId: string;
  readonly sourceIp: string;
  readonly userAgent?: string;
}

/**
 * 401 asking for a fresh sign-in (RFC 9470 step-up): the token is valid, but its sign-in is too old for this.
 */
export class ReauthenticationRequiredError extends DomainError {
  constructor(maxAgeSeconds: number) {
    super(
      'unauthorized',
      `Sign in again first: issuing recovery codes needs a sign-in within the last ${maxAgeSeconds / 60} minutes.`,
      {
        headers: {
          'WWW-Authenticate': `Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=${maxAgeSeconds}`,
        },
      },
    );
  }
}

/** The one answer to every failed recovery, whatever was wrong. */
export class RecoveryRefusedError extends ForbiddenError {
  constructor() {
    super(
      'The user name, password or recovery code is not right, or the account cannot be recovered this way. Check them and try again, or ask an administrator to reset your MFA.',
    );
  }
}

/** 429 while a user name is locked out. */
export class RecoveryLockedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(
      'tooManyRequests',
      'Too many failed recoveries for this user name. Wait, then try again, or ask an administrator to reset your MFA.',
      { headers: { 'Retry-After': String(Math.max(1, retryAfterSeconds)) } },
    );
  }
}

/** A user id no Cognito user can have (subs are UUIDs): what a failed password check looks codes up for. */
const NOBODY = 'citadel:no-such-user';

/** Whether `principal` signed in within `RECOVERY_REAUTH_SECONDS` of `now` (a token's `auth_time`). */
export const signedInRecently = (principal: UserPrincipal, now = Date.now()): boolean =>
  principal.authTime !== undefined &&
  principal.authTime * 1000 <= now + 60_000 &&
  now - principal.authTime * 1000 <= RECOVERY_REAUTH_SECONDS * 1000;

/**
 * Issues `RECOVERY_CODE_COUNT` new codes to a person who signed in within the last five minutes, replacing any
 * earlier set, and records it. The codes are returned once; only their hashes are kept.
 */
export async function issueRecoveryCodes(
  principal: Principal,
  facts: RequestFacts,
  hasher: CodeHasher = scryptHasher,
): Promise<RecoveryCodes> {
  const audit = {
    principal,
    action: 'recovery_codes.issue',
    target: `user:${principal.id}`,
    requestId: facts.requestId,
    sourceIp: facts.sourceIp,
  } as const;
  if (principal.kind !== 'user') throw new ForbiddenError('Only people have recovery codes.');
  if (!signedInRecently(principal)) {
    await recordAudit({ ...audit, outcome: 'denied', details: { reason: 'sign-in too old' } });
    throw new ReauthenticationRequiredError(RECOVERY_REAUTH_SECONDS);
  }
  const codes = generateCodes(RECOVERY_CODE_COUNT);
  const hashes = await Promise.all(codes.map((c) => hasher.hash(c.secret)));
  const issued = await transaction(async (tx) => {
    const set = await repo.replaceCodeSet(
      tx,
      principal.id,
      codes.map((c, i) => ({ selector: c.selector, hash: hashes[i] as string })),
    );
    await recordAudit(
      {
        ...audit,
        outcome: 'success',
        details: { count: codes.length, set: set.setId, replacedUnused: set.replacedLive },
      },
      tx,
    );
    return set;
  });
  metrics.addMetric(RECOVERY_METRICS.issued, 'Count', 1);
  return { codes: codes.map((c) => c.display), generatedAt: issued.generatedAt.toISOString() };
}

type FailureReason = 'password' | 'code' | 'used concurrently';

/**
 * Recovers an account: the password must be right (Cognito), the code live and right (scrypt). Then the code is
 * used up, every MFA factor of the user is turned off and every session signed out (the next sign-in enrols a new
 * authenticator), the user is emailed, and it is all recorded. Every failure is the same {@link RecoveryRefusedError};
 * `RECOVERY_LOCKOUT.failures` of them within the window lock the user name out ({@link RecoveryLockedError}).
 */
export async function recoverAccount(
  input: RecoverInput,
  facts: RequestFacts,
  deps: RecoveryDeps,
): Promise<{ recovered: true; recoveryCodesLeft: number }> {
  const key = loginKey(input.username);
  const audit: Omit<AuditEvent, 'outcome' | 'target'> = {
    principal: undefined,
    action: 'account.recover',
    requestId: facts.requestId,
    sourceIp: facts.sourceIp,
  };
  const locked = await repo.lockedSeconds(key);
  if (locked > 0) {
    await recordAudit({
      ...audit,
      target: `login:${input.username}`,
      outcome: 'denied',
      details: { reason: 'locked out' },
    });
    throw new RecoveryLockedError(locked);
  }

  const identity = await deps.identity();
  const who = await identity.verifyPassword(input.username, input.password, {
    sourceIp: facts.sourceIp,
    ...(facts.userAgent ? { userAgent: facts.userAgent } : {}),
  });
  // The schema admits only what parses; a code that does not is checked like a wrong one.
  const code = parseCode(input.code) ?? { selector: '00', secret: '' };
  const row = await repo.findLiveCode(who.verified ? who.userId : NOBODY, code.selector);
  const right = await deps.hasher.verify(code.secret, row?.hash ?? DECOY_HASH);

  const fail = async (reason: FailureReason): Promise<never> => {
    const outcome = await transaction(async (tx) => {
      const counted = await repo.recordFailure(tx, key, RECOVERY_LOCKOUT);
      await recordAudit(
        {
          ...audit,
          target: who.verified ? `user:${who.userId}` : `login:${input.username}`,
          outcome: 'failure',
          details: { reason, failures: counted.failures, lockedOut: counted.locked },
        },
        tx,
      );
      return counted;
    });
    metrics.addMetric(RECOVERY_METRICS.failed, 'Count', 1);
    logger.info('recovery refused', { reason, lockedOut: outcome.locked });
    throw new RecoveryRefusedError();
  };

  if (!who.verified) return fail('password');
  if (!row || !right) return fail('code');
  const usedAt = await repo.consumeCode(row.id);
  if (!usedAt) return fail('used concurrently');

  let notified: boolean;
  try {
    ({ notified } = await identity.recover(who.username, facts.sourceIp));
  } catch (error) {
    // Nothing was recovered: the code is given back and the attempt recorded as failed, not refused.
    await repo.restoreCode(row.id, usedAt);
    await recordAudit({
      ...audit,
      target: `user:${who.userId}`,
      outcome: 'failure',
      details: { reason: 'identity service failed', code: 'restored' },
    });
    throw error;
  }
  await transaction(async (tx) => {
    await repo.clearFailures(tx, key);
    await recordAudit(
      {
        ...audit,
        target: `user:${who.userId}`,
        outcome: 'success',
        details: { mfaReset: true, signedOut: true, notified, username: who.username },
      },
      tx,
    );
  });
  const left = await repo.liveCodeCount(who.userId);
  // Alarm-worthy: each one is a person who lost their authenticator, or someone holding a password and a code.
  metrics.addMetric(RECOVERY_METRICS.recovered, 'Count', 1);
  if (!notified) metrics.addMetric(RECOVERY_METRICS.notNotified, 'Count', 1);
  return { recovered: true, recoveryCodesLeft: left };
}
