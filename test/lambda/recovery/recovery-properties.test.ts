/**
 * Properties of recovery codes (fast-check), with the real scrypt, the real recovery service and control function,
 * a real PostgreSQL and the Cognito fake of `test/support/admin-aws.ts`:
 * - a code never verifies against another user's hashes;
 * - no stored hash equals, or contains, its code;
 * - a failed recovery takes the same path whoever asks: the same SQL statements, the same Cognito calls, one
 *   scrypt computation and the same answer, whether the user exists or not (counted, not timed).
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import pg from 'pg';
import { RECOVERY_CODE_ALPHABET, RECOVERY_CODE_PATTERN } from '../../../contract/api/recovery';
import { controlledRecovery } from '../../../lambda/recovery/adapters';
import { type CodeHasher, parseCode, scryptHasher } from '../../../lambda/recovery/codes';
import type { RecoveryIdentity } from '../../../lambda/recovery/ports';
import { issueRecoveryCodes, RecoveryRefusedError, recoverAccount } from '../../../lambda/recovery/service';
import { principalFromClaims } from '../../../lambda/shared/auth';
import { closePool } from '../../../lambda/shared/db';
import { FakeAdminAws, type FakeUser, setAdminEnv } from '../../support/admin-aws';
import { AdminTables } from '../../support/admin-fixtures';
import { migratedDatabase } from '../../support/database';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { userClaims } from '../../support/principals';

setAdminEnv();
const aws = new FakeAdminAws();
let server: TestPostgres;
let tables: AdminTables;
let runs = 0;

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'recoveryprops');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
});
afterAll(async () => {
  console.info(`recovery properties: ${runs} generated cases run (fast-check)`);
  aws.restore();
  await closePool();
  await server?.destroy();
});

const secret = fc.stringMatching(new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{10}$`));
const selector = fc.stringMatching(new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{2}$`));

/** Issues a set to `user` through the service, as the route does. */
async function issueTo(user: FakeUser): Promise<string[]> {
  const principal = principalFromClaims(userClaims('user', user.sub));
  const { codes } = await issueRecoveryCodes(principal, { requestId: randomUUID(), sourceIp: '192.0.2.9' });
  return codes;
}

/** A secret verifies against its own hash and against no other secret's. */
const ownHashOnly = (hasher: CodeHasher, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(
      fc.tuple(secret, secret).filter(([a, b]) => a !== b),
      async ([a, b]) => {
        runs += 1;
        const hashOfB = await hasher.hash(b);
        expect(await hasher.verify(a, hashOfB)).toBe(false);
        expect(await hasher.verify(b, hashOfB)).toBe(true);
      },
    ),
    { numRuns },
  );

/** A stored hash is neither the code nor contains it, and the same code hashes differently each time. */
const hashesHideCodes = (hasher: CodeHasher, numRuns: number) =>
  fc.assert(
    fc.asyncProperty(selector, secret, async (sel, sec) => {
      runs += 1;
      const display = `${(sel + sec).slice(0, 4)}-${(sel + sec).slice(4, 8)}-${(sel + sec).slice(8)}`;
      expect(display).toMatch(RECOVERY_CODE_PATTERN);
      expect(parseCode(display)).toEqual({ selector: sel, secret: sec });
      const [h1, h2] = await Promise.all([hasher.hash(sec), hasher.hash(sec)]);
      for (const h of [h1, h2]) {
        expect(h).not.toBe(display);
        expect(h).not.toBe(sec);
        expect(h.toLowerCase()).not.toContain(sec);
      }
      expect(h1).not.toBe(h2);
    }),
    { numRuns },
  );

/** Defects put back: a hasher that accepts any secret, one that stores the secret, one without a salt. */
const acceptsAnything: CodeHasher = { hash: scryptHasher.hash, verify: async () => true };
const storesTheSecret: CodeHasher = {
  hash: async (s) => `${await scryptHasher.hash(s)}${s}`,
  verify: scryptHasher.verify,
};
const unsalted: CodeHasher = {
  hash: async (s) => `sha256$${createHash('sha256').update(s).digest('base64url')}`,
  verify: async (s, h) => h === `sha256$${createHash('sha256').update(s).digest('base64url')}`,
};

describe('a code never verifies against another user’s hashes', () => {
  it('scrypt: a secret verifies against its own hash and against no other secret’s', async () => {
    await ownHashOnly(scryptHasher, 25);
  });

  it('(the property fails for a hasher that accepts any secret)', async () => {
    await expect(ownHashOnly(acceptsAnything, 5)).rejects.toThrow(/Property failed/);
  });

  it('the service: any of Alice’s codes, with Bob’s user name and password, is refused and used up nowhere', async () => {
    // Prepare: two people with a set each.
    const alice = aws.addUser(randomUUID());
    const bob = aws.addUser(randomUUID());
    const aliceCodes = await issueTo(alice);
    await issueTo(bob);
    const live = () =>
      tables.count(
        'SELECT count(*)::int AS n FROM citadel.recovery_codes WHERE used_at IS NULL AND user_id = ANY($1)',
        [[alice.sub, bob.sub]],
      );
    const before = await live();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...aliceCodes), fc.boolean(), async (code, alias) => {
        runs += 1;
        await tables.rows('DELETE FROM citadel.recovery_attempts');
        // Act
        const attempt = recoverAccount(
          { username: alias ? bob.email : bob.username, password: bob.password, code },
          { requestId: randomUUID(), sourceIp: '192.0.2.9' },
          { hasher: scryptHasher, identity: async () => controlledRecovery },
        );
        // Assess
        await expect(attempt).rejects.toBeInstanceOf(RecoveryRefusedError);
      }),
      { numRuns: 12 },
    );
    expect(await live()).toBe(before);
    expect(bob.mfa.software).toBe(true);
  });
});

describe('no hash equals its code', () => {
  it('a stored hash is neither the code nor contains it, and the same code hashes differently each time', async () => {
    await hashesHideCodes(scryptHasher, 25);
    expect(await scryptHasher.hash('abcdefghjk')).toMatch(/^scrypt\$16384\$8\$1\$/);
  });

  it('(the property fails for a hash that carries its secret, and for an unsalted hash)', async () => {
    await expect(hashesHideCodes(storesTheSecret, 5)).rejects.toThrow(/Property failed/);
    await expect(hashesHideCodes(unsalted, 5)).rejects.toThrow(/Property failed/);
  });
});

// ---- The path of a failed recovery ------------------------------------------------------------------------

/** Everything a recovery does that could take time: SQL statements, Cognito and Lambda calls, scrypt. */
interface Trace {
  readonly sql: string[];
  readonly cognito: string[];
  readonly invokes: number;
  readonly emails: number;
  readonly scrypt: { hash: number; verify: number };
  readonly answer: string;
}

/** Records every statement the pool's clients send while `work` runs. */
async function traced(work: (hasher: CodeHasher) => Promise<unknown>): Promise<Trace> {
  const sql: string[] = [];
  const scrypt = { hash: 0, verify: 0 };
  const counting: CodeHasher = {
    hash: (s) => {
      scrypt.hash += 1;
      return scryptHasher.hash(s);
    },
    verify: (s, h) => {
      scrypt.verify += 1;
      return scryptHasher.verify(s, h);
    },
  };
  const original = pg.Client.prototype.query;
  // biome-ignore lint/suspicious/noExplicitAny: pg's overloaded query(), passed through untouched.
  (pg.Client.prototype as any).query = function (this: pg.Client, ...args: any[]) {
    const text = typeof args[0] === 'string' ? args[0] : args[0]?.text;
    sql.push(String(text).replace(/\s+/g, ' ').trim());
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  aws.resetHistory();
  let answer: string;
  try {
    await work(counting);
    answer = 'recovered';
  } catch (error) {
    const e = error as Error & { kind?: string; extra?: unknown };
    answer = JSON.stringify({ name: e.name, kind: e.kind, message: e.message, extra: e.extra });
  } finally {
    pg.Client.prototype.query = original;
  }
  return {
    sql,
    cognito: aws.cognitoCommands().sort(),
    invokes: aws.lambda.calls().length,
    emails: aws.ses.calls().length,
    scrypt,
    answer,
  };
}

type Who = 'no such user' | 'wrong password' | 'wrong code' | 'used code' | "another user's code";

describe('a failed recovery takes the same path whether or not the user exists', () => {
  it('same SQL, same Cognito calls, one scrypt verification, same answer, for every kind of failure', async () => {
    // Prepare: one person with codes (one used), another with codes, and a reference trace for nobody.
    const alice = aws.addUser(randomUUID());
    const bob = aws.addUser(randomUUID());
    const aliceCodes = await issueTo(alice);
    const bobCodes = await issueTo(bob);
    const used = aliceCodes[0] as string;
    await recoverAccount(
      { username: alice.email, password: alice.password, code: used },
      { requestId: randomUUID(), sourceIp: '192.0.2.9' },
      { hasher: scryptHasher, identity: async () => controlledRecovery },
    );
    const attempt = (who: Who, code: string, spelling: (u: FakeUser) => string) => {
      switch (who) {
        case 'no such user':
          return {
            username: `nobody-${randomUUID().slice(0, 8)}@people.test`,
            password: alice.password,
            code,
          };
        case 'wrong password':
          return { username: spelling(alice), password: 'Not-The-Password-1!', code };
        case 'wrong code':
          return { username: spelling(alice), password: alice.password, code: 'zzzz-zzzz-zzzz' };
        case 'used code':
          return { username: spelling(alice), password: alice.password, code: used };
        case "another user's code":
          return { username: spelling(alice), password: alice.password, code: bobCodes[1] as string };
      }
    };
    const run = async (who: Who, code: string, spelling: (u: FakeUser) => string) => {
      await tables.rows('DELETE FROM citadel.recovery_attempts');
      return traced((hasher) =>
        recoverAccount(
          attempt(who, code, spelling),
          { requestId: randomUUID(), sourceIp: '192.0.2.9' },
          { hasher, identity: async () => controlledRecovery },
        ),
      );
    };
    const reference = await run('no such user', aliceCodes[1] as string, (u) => u.email);
    // The reference itself: refused after one password check, one code lookup and one scrypt verification.
    expect(reference.answer).toContain('RecoveryRefusedError');
    expect(reference.scrypt).toEqual({ hash: 0, verify: 1 });
    expect(reference.cognito).toEqual(['AdminGetUser', 'AdminInitiateAuth']);
    expect(reference.invokes).toBe(1);
    expect(reference.sql.filter((s) => s.startsWith('SELECT c.id::text AS id, c.hash'))).toHaveLength(1);

    // Act and assess: every generated failure follows the reference exactly.
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Who>(
          'no such user',
          'wrong password',
          'wrong code',
          'used code',
          "another user's code",
        ),
        fc.constantFrom(...aliceCodes.slice(1)),
        fc.constantFrom(
          (u: FakeUser) => u.email,
          (u: FakeUser) => u.email.toUpperCase(),
          (u: FakeUser) => u.username,
        ),
        async (who, code, spelling) => {
          runs += 1;
          const trace = await run(who, code, spelling);
          expect({ who, ...trace }).toEqual({ who, ...reference });
        },
      ),
      { numRuns: 30 },
    );
    // Nothing was recovered along the way.
    expect(alice.mfa.software).toBe(false); // the one real recovery, before the property
    expect(bob.mfa.software).toBe(true);
  });

  it('(the comparison reports a path that answers an unknown user early, before any code is checked)', async () => {
    // Prepare: the enumeration bug put back, as an adapter that refuses at once when Cognito has no such user.
    const alice = aws.addUser(randomUUID());
    const [code] = await issueTo(alice);
    const early: RecoveryIdentity = {
      ...controlledRecovery,
      async verifyPassword(username, password, context) {
        if (!aws.users.has(username) && ![...aws.users.values()].some((u) => u.email === username))
          throw new RecoveryRefusedError();
        return controlledRecovery.verifyPassword(username, password, context);
      },
    };
    const trace = async (username: string) => {
      await tables.rows('DELETE FROM citadel.recovery_attempts');
      return traced((hasher) =>
        recoverAccount(
          { username, password: 'wrong-Password-1', code: code as string },
          { requestId: randomUUID(), sourceIp: '192.0.2.9' },
          { hasher, identity: async () => early },
        ),
      );
    };
    // Act
    const known = await trace(alice.email);
    const unknown = await trace('nobody@people.test');
    // Assess: the same answer, but not the same path — which is what the property compares.
    expect(unknown.answer).toBe(known.answer);
    expect(unknown).not.toEqual(known);
    expect(unknown.scrypt.verify).toBe(0);
    expect(known.scrypt.verify).toBe(1);
  });
});
