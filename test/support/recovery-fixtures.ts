/**
 * Fixtures for the recovery tests: a person in the fake user pool (`admin-aws.ts`) holding recovery codes in the
 * real PostgreSQL, written as the master user, as if issued earlier.
 */
import { randomUUID } from 'node:crypto';
import { generateCodes, scryptHasher } from '../../lambda/recovery/codes';
import type { FakeAdminAws, FakeUser } from './admin-aws';
import type { AdminTables } from './admin-fixtures';

/** Codes and their hashes, computed once per test file (scrypt is deliberately slow). */
export interface PreparedCodes {
  readonly codes: readonly { display: string; selector: string; hash: string }[];
}

export async function prepareCodes(count = 1): Promise<PreparedCodes> {
  const codes = generateCodes(count);
  const hashes = await Promise.all(codes.map((c) => scryptHasher.hash(c.secret)));
  return {
    codes: codes.map((c, i) => ({ display: c.display, selector: c.selector, hash: hashes[i] as string })),
  };
}

/** A new user who holds `prepared`'s codes as their current set. */
export async function seedRecoverableUser(
  aws: FakeAdminAws,
  tables: AdminTables,
  prepared: PreparedCodes,
  password = 'Correct-Horse-1!',
): Promise<FakeUser> {
  const user = aws.addUser(randomUUID(), { password });
  const setId = randomUUID();
  await tables.rows('INSERT INTO citadel.recovery_code_sets (user_id, set_id) VALUES ($1, $2)', [
    user.sub,
    setId,
  ]);
  for (const code of prepared.codes) {
    await tables.rows(
      'INSERT INTO citadel.recovery_codes (user_id, set_id, selector, hash) VALUES ($1, $2, $3, $4)',
      [user.sub, setId, code.selector, code.hash],
    );
  }
  return user;
}
