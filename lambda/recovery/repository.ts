/**
 * `citadel.recovery_code_sets`, `citadel.recovery_codes` and `citadel.recovery_attempts` (migration 0006). A code is
 * live while it is unused and belongs to the set its owner's `recovery_code_sets` row names.
 */
import { randomUUID } from 'node:crypto';
import { type Queryable, query } from '../shared/db';

export interface LiveCode {
  readonly id: string;
  readonly hash: string;
}

/**
 * Makes a new set `userId`'s current one, with `codes` (selector and hash each), and says how many live codes the
 * old set still had. The row lock on the person's set row serializes concurrent issues: the last one wins whole.
 */
export async function replaceCodeSet(
  tx: Queryable,
  userId: string,
  codes: readonly { selector: string; hash: string }[],
): Promise<{ setId: string; generatedAt: Date; replacedLive: number }> {
  const setId = randomUUID();
  const { rows: previous } = await tx.query<{ set_id: string }>(
    'SELECT set_id FROM citadel.recovery_code_sets WHERE user_id = $1 FOR UPDATE',
    [userId],
  );
  const replacedLive = previous[0]
    ? ((
        await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM citadel.recovery_codes WHERE set_id = $1 AND used_at IS NULL',
          [previous[0].set_id],
        )
      ).rows[0]?.n ?? 0)
    : 0;
  const { rows } = await tx.query<{ generated_at: Date }>(
    `INSERT INTO citadel.recovery_code_sets (user_id, set_id) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET set_id = EXCLUDED.set_id, generated_at = now()
     RETURNING generated_at`,
    [userId, setId],
  );
  await tx.query(
    `INSERT INTO citadel.recovery_codes (user_id, set_id, selector, hash)
     SELECT $1, $2, c.selector, c.hash FROM unnest($3::text[], $4::text[]) AS c(selector, hash)`,
    [userId, setId, codes.map((c) => c.selector), codes.map((c) => c.hash)],
  );
  return { setId, generatedAt: rows[0]?.generated_at as Date, replacedLive };
}

/** The live code of `userId` with `selector`, if any. */
export async function findLiveCode(userId: string, selector: string): Promise<LiveCode | undefined> {
  const rows = await query<LiveCode>(
    `SELECT c.id::text AS id, c.hash FROM citadel.recovery_codes c
       JOIN citadel.recovery_code_sets s ON s.set_id = c.set_id AND s.user_id = c.user_id
      WHERE c.user_id = $1 AND c.selector = $2 AND c.used_at IS NULL`,
    [userId, selector],
    { idempotent: true },
  );
  return rows[0];
}

/**
 * Marks code `id` used if it is still live (unused, in its owner's current set): false when a concurrent recovery
 * or a new set got there first. Returns the instant it was marked, to undo exactly this use.
 */
export async function consumeCode(id: string): Promise<string | undefined> {
  // The instant comes back as text, PostgreSQL's exact microseconds (a JS Date keeps milliseconds only).
  const rows = await query<{ used_at: string }>(
    `UPDATE citadel.recovery_codes c SET used_at = clock_timestamp()
       FROM citadel.recovery_code_sets s
      WHERE c.id = $1 AND c.used_at IS NULL AND s.set_id = c.set_id AND s.user_id = c.user_id
     RETURNING c.used_at::text AS used_at`,
    [id],
  );
  return rows[0]?.used_at;
}

/** Gives back a code whose use could not be completed (the account was not recovered). */
export async function restoreCode(id: string, usedAt: string): Promise<void> {
  await query(
    'UPDATE citadel.recovery_codes SET used_at = NULL WHERE id = $1 AND used_at = $2::timestamptz',
    [id, usedAt],
  );
}

/** Live codes of `userId`. */
export async function liveCodeCount(userId: string): Promise<number> {
  const rows = await query<{ n: number }>(
    `SELECT count(*)::int AS n FROM citadel.recovery_codes c
       JOIN citadel.recovery_code_sets s ON s.set_id = c.set_id AND s.user_id = c.user_id
      WHERE c.user_id = $1 AND c.used_at IS NULL`,
    [userId],
    { idempotent: true },
  );
  return rows[0]?.n ?? 0;
}

/** Seconds left of the lockout of `loginKey`, or 0 when it is not locked. */
export async function lockedSeconds(loginKey: string): Promise<number> {
  const rows = await query<{ seconds: number }>(
    `SELECT ceil(extract(epoch FROM locked_until - now()))::int AS seconds
       FROM citadel.recovery_attempts WHERE login_key = $1 AND locked_until > now()`,
    [loginKey],
    { idempotent: true },
  );
  return rows[0]?.seconds ?? 0;
}

/**
 * Counts a failed attempt for `loginKey` in `tx`: a new window when the last one is over (or its lockout ended),
 * a lockout of `lockSeconds` when it reaches `failures` within `windowSeconds`. Returns whether it is now locked.
 */
export async function recordFailure(
  tx: Queryable,
  loginKey: string,
  policy: { readonly failures: number; readonly windowSeconds: number; readonly lockSeconds: number },
): Promise<{ failures: number; locked: boolean }> {
  await tx.query(
    `INSERT INTO citadel.recovery_attempts (login_key, failures, window_started_at)
     VALUES ($1, 0, now()) ON CONFLICT (login_key) DO NOTHING`,
    [loginKey],
  );
  // A new window starts when the previous lockout is over, or when the window passed without one. Expressions name
  // the row as updated (`a`), which READ COMMITTED re-reads after waiting for a concurrent failure's lock.
  const fresh = `(a.locked_until <= now() OR (a.locked_until IS NULL AND a.window_started_at <= now() - make_interval(secs => $3)))`;
  const next = `CASE WHEN ${fresh} THEN 1 ELSE a.failures + 1 END`;
  const { rows } = await tx.query<{ failures: number; locked: boolean | null }>(
    `UPDATE citadel.recovery_attempts a SET
        failures = ${next},
        window_started_at = CASE WHEN ${fresh} THEN now() ELSE a.window_started_at END,
        locked_until = CASE
          WHEN a.locked_until > now() THEN a.locked_until
          WHEN ${next} >= $2 THEN now() + make_interval(secs => $4)
        END
      WHERE a.login_key = $1
     RETURNING a.failures, a.locked_until > now() AS locked`,
    [loginKey, policy.failures, policy.windowSeconds, policy.lockSeconds],
  );
  const row = rows[0] as { failures: number; locked: boolean | null };
  return { failures: row.failures, locked: row.locked === true };
}

/** Forgets the failed attempts of `loginKey` (after a successful recovery). */
export async function clearFailures(tx: Queryable, loginKey: string): Promise<void> {
  await tx.query('DELETE FROM citadel.recovery_attempts WHERE login_key = $1', [loginKey]);
}
