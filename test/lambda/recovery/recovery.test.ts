/**
 * MFA recovery codes through the real handlers and a real PostgreSQL: issuing them (`POST /v1/me/recovery-codes`),
 * using them (`POST /v1/auth/recover`) and counting them (`GET /v1/me`). Cognito and SES are the in-memory fake of
 * `test/support/admin-aws.ts`, reached as in production: the handler invokes the recovery control function (the real
 * one) through Lambda, and the control function calls Cognito and SES.
 */
import { randomUUID } from 'node:crypto';
import { AdminInitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { getMe } from '../../../contract/api/me';
import {
  createRecoveryCodes,
  RECOVERY_CODE_PATTERN,
  RECOVERY_LOCKOUT,
  RECOVERY_METRICS,
  recoverAccount,
} from '../../../contract/api/recovery';
import { handler as meHandler } from '../../../lambda/me/get-me';
import { loginKey } from '../../../lambda/recovery/codes';
import { handler as issueHandler } from '../../../lambda/recovery/create-recovery-codes';
import { handler as recoverHandler } from '../../../lambda/recovery/recover-account';
import { closePool } from '../../../lambda/shared/db';
import { metrics } from '../../../lambda/shared/powertools';
import { cognitoThrottled, FakeAdminAws, type FakeUser, setAdminEnv } from '../../support/admin-aws';
import { AdminTables, type Answer, call, JSON_HEADERS, routeEvent } from '../../support/admin-fixtures';
import { migratedDatabase } from '../../support/database';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { userClaims } from '../../support/principals';

setAdminEnv();
const aws = new FakeAdminAws();
let server: TestPostgres;
let tables: AdminTables;

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'recovery');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
});
beforeEach(() => {
  setAdminEnv();
  aws.resetHistory();
});
afterAll(async () => {
  aws.restore();
  await closePool();
  await server?.destroy();
});

// ---- Calls ------------------------------------------------------------------------------------------------

const issue = (user: FakeUser, signedInSecondsAgo = 30, requestId = randomUUID()) =>
  call(
    issueHandler,
    routeEvent(createRecoveryCodes, {
      claims: userClaims('user', user.sub, undefined, signedInSecondsAgo),
      requestId,
    }),
  );

const issued = async (user: FakeUser): Promise<string[]> => {
  const answer = await issue(user);
  expect(answer.status).toBe(201);
  return answer.body?.codes as string[];
};

interface RecoverBody {
  username: string;
  password: string;
  code: string;
}
const recover = (body: RecoverBody, requestId = randomUUID()) =>
  call(
    recoverHandler,
    routeEvent(recoverAccount, {
      headers: { ...JSON_HEADERS, 'user-agent': 'jest-browser' },
      body: JSON.stringify(body),
      requestId,
      sourceIp: '198.51.100.23',
    }),
  );

const codesLeft = async (user: FakeUser): Promise<number> => {
  const answer = await call(meHandler, routeEvent(getMe, { claims: userClaims('user', user.sub) }));
  expect(answer.status).toBe(200);
  return answer.body?.recoveryCodesLeft as number;
};

const newUser = (options?: Parameters<FakeAdminAws['addUser']>[1]) => aws.addUser(randomUUID(), options);

/** What a person who lost their phone sends: their email, password and one code. */
const rightly = (user: FakeUser, code: string): RecoverBody => ({
  username: user.email,
  password: user.password,
  code,
});

/** The answer without what differs per request (the request id), for comparing answers. */
const shape = (a: Answer) => ({
  status: a.status,
  headers: Object.fromEntries(Object.entries(a.headers).filter(([k]) => k !== 'x-request-id')),
  body: { ...a.body, instance: undefined },
});

const auditOf = (requestId: string) => tables.audit(requestId);

// ---- Issuing ----------------------------------------------------------------------------------------------

describe('issuing recovery codes', () => {
  it('issues ten distinct codes, shown once, stored only as salted scrypt hashes, and audits it', async () => {
    // Prepare
    const user = newUser();
    const requestId = randomUUID();
    // Act
    const answer = await issue(user, 30, requestId);
    // Assess
    expect(answer.status).toBe(201);
    const codes = answer.body?.codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE_PATTERN);
    const rows = await tables.rows<{ selector: string; hash: string }>(
      'SELECT selector, hash FROM citadel.recovery_codes WHERE user_id = $1',
      [user.sub],
    );
    expect(rows.map((r) => r.selector).sort()).toEqual(codes.map((c) => c.slice(0, 2)).sort());
    for (const row of rows) {
      expect(row.hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      for (const code of codes) {
        expect(row.hash).not.toContain(code.replaceAll('-', '').slice(2));
        expect(row.hash).not.toContain(code);
      }
    }
    expect(new Set(rows.map((r) => r.hash.split('$')[4])).size).toBe(10);
    expect(await codesLeft(user)).toBe(10);
    const [audit, ...more] = await auditOf(requestId);
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      actor_id: user.sub,
      actor_kind: 'user',
      action: 'recovery_codes.issue',
      target: `user:${user.sub}`,
      outcome: 'success',
      details: { count: 10, replacedUnused: 0 },
    });
    // Nothing about the codes is in the audit trail.
    for (const code of codes) expect(JSON.stringify(audit)).not.toContain(code);
  });

  it.each([
    ['a sign-in 301 s ago', 301],
    ['a sign-in an hour ago (a refreshed token keeps its auth_time)', 3600],
  ])('refuses %s with a 401 step-up and writes no code', async (_name, ago) => {
    // Prepare
    const user = newUser();
    const requestId = randomUUID();
    // Act
    const answer = await issue(user, ago, requestId);
    // Assess
    expect(answer.status).toBe(401);
    expect(answer.headers['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=300',
    );
    expect(answer.body).toMatchObject({ type: 'urn:citadel:problem:unauthorized', instance: requestId });
    expect(
      await tables.count('SELECT count(*)::int AS n FROM citadel.recovery_codes WHERE user_id = $1', [
        user.sub,
      ]),
    ).toBe(0);
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({
        action: 'recovery_codes.issue',
        outcome: 'denied',
        details: { reason: 'sign-in too old' },
      }),
    ]);
  });

  it('refuses a token without auth_time, and accepts one signed in 299 s ago', async () => {
    const user = newUser();
    const { auth_time: _dropped, ...claims } = userClaims('user', user.sub);
    const without = await call(issueHandler, routeEvent(createRecoveryCodes, { claims }));
    expect(without.status).toBe(401);
    expect((await issue(user, 299)).status).toBe(201);
  });

  it('regenerating invalidates every unused code of the old set at once', async () => {
    // Prepare
    const user = newUser();
    const first = await issued(user);
    expect((await recover(rightly(user, first[0] as string))).status).toBe(200);
    // Act
    const requestId = randomUUID();
    const second = (await issue(user, 30, requestId)).body?.codes as string[];
    // Assess
    expect(await codesLeft(user)).toBe(10);
    expect((await auditOf(requestId))[0]?.details).toMatchObject({ replacedUnused: 9 });
    for (const old of first.slice(1, 4)) expect((await recover(rightly(user, old))).status).toBe(403);
    expect((await recover(rightly(user, second[0] as string))).status).toBe(200);
    expect(await codesLeft(user)).toBe(9);
  });
});

// ---- Recovering -------------------------------------------------------------------------------------------

describe('recovering with a code', () => {
  it('a right password and code recover the account: MFA off, signed out everywhere, emailed, audited', async () => {
    // Prepare
    const user = newUser();
    const codes = await issued(user);
    aws.resetHistory();
    const requestId = randomUUID();
    // Act: the code typed in capitals without hyphens, and the user name as the sign-in email.
    const typed = (codes[3] as string).replaceAll('-', ' ').toUpperCase();
    const answer = await recover(rightly(user, typed), requestId);
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ recovered: true, recoveryCodesLeft: 9 });
    expect(user.mfa).toEqual({ software: false, sms: false, email: false });
    expect(user.signedOutAt).toEqual(expect.any(Number));
    expect(aws.cognitoCommands().sort()).toEqual(
      [
        'AdminInitiateAuth',
        'AdminGetUser',
        'AdminGetUser',
        'AdminSetUserMFAPreference',
        'AdminUserGlobalSignOut',
      ].sort(),
    );
    const email = aws.emails.at(-1);
    expect(email).toMatchObject({
      FromEmailAddress: '"Citadel" <no-reply@citadel.test>',
      Destination: { ToAddresses: [user.email] },
      ConfigurationSetName: 'citadel-test',
      Content: { Simple: { Subject: { Data: 'A recovery code was used on your Citadel account' } } },
    });
    expect(JSON.stringify(email)).toContain('198.51.100.23');
    expect(JSON.stringify(email)).not.toContain(codes[3] as string);
    const [audit, ...more] = await auditOf(requestId);
    expect(more).toEqual([]);
    expect(audit).toMatchObject({
      actor_kind: 'anonymous',
      action: 'account.recover',
      target: `user:${user.sub}`,
      outcome: 'success',
      source_ip: '198.51.100.23',
      details: { mfaReset: true, signedOut: true, notified: true, username: user.username },
    });
    expect(JSON.stringify(audit)).not.toContain(user.password);
    expect(await codesLeft(user)).toBe(9);
  });

  it('records each recovery in the MfaRecoveries metric the on-call ticket reads, and a refused one only as a failure', async () => {
    // Prepare
    const user = newUser();
    const [good, other] = (await issued(user)) as [string, string];
    const recorded = jest.spyOn(metrics, 'addMetric');
    try {
      // Act
      expect((await recover({ ...rightly(user, other), password: 'not-the-password' })).status).toBe(403);
      const refusedNames = recorded.mock.calls.map(([name]) => name);
      recorded.mockClear();
      expect((await recover(rightly(user, good))).status).toBe(200);
      // Assess
      expect(RECOVERY_METRICS.recovered).toBe('MfaRecoveries');
      expect(refusedNames).not.toContain(RECOVERY_METRICS.recovered);
      expect(refusedNames).toContain(RECOVERY_METRICS.failed);
      expect(recorded.mock.calls.filter(([name]) => name === RECOVERY_METRICS.recovered)).toEqual([
        [RECOVERY_METRICS.recovered, 'Count', 1],
      ]);
    } finally {
      recorded.mockRestore();
    }
  });

  it('the password check reaches Cognito with the person’s address and browser, on the recovery client', async () => {
    const user = newUser();
    const codes = await issued(user);
    aws.resetHistory();
    await recover(rightly(user, codes[0] as string));
    const [initiate, ...more] = aws.cognito.commandCalls(AdminInitiateAuthCommand);
    expect(more).toEqual([]);
    expect(initiate?.args[0].input).toMatchObject({
      ClientId: process.env.CITADEL_RECOVERY_CLIENT_ID,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: user.email, PASSWORD: user.password },
      ContextData: {
        IpAddress: '198.51.100.23',
        ServerPath: '/v1/auth/recover',
        // The User-Agent as API Gateway recorded it (the test event's identity says `jest`).
        HttpHeaders: [{ headerName: 'user-agent', headerValue: 'jest' }],
      },
    });
  });

  it('a code works once: the same code is refused the second time, and nothing is reset again', async () => {
    // Prepare
    const user = newUser();
    const [code] = await issued(user);
    expect((await recover(rightly(user, code as string))).status).toBe(200);
    user.mfa = { software: true, sms: false, email: false };
    aws.resetHistory();
    const requestId = randomUUID();
    // Act
    const again = await recover(rightly(user, code as string), requestId);
    // Assess
    expect(again.status).toBe(403);
    expect(user.mfa.software).toBe(true);
    expect(aws.cognitoCommands().sort()).toEqual(['AdminGetUser', 'AdminInitiateAuth']);
    expect(aws.ses.calls()).toHaveLength(0);
    expect((await auditOf(requestId))[0]).toMatchObject({
      outcome: 'failure',
      target: `user:${user.sub}`,
      details: { reason: 'code', failures: 1, lockedOut: false },
    });
  });

  it('answers every wrong combination the same way, with the same calls behind it', async () => {
    // Prepare: two people with codes; one code already used.
    const alice = newUser();
    const bob = newUser();
    const aliceCodes = await issued(alice);
    const bobCodes = await issued(bob);
    expect((await recover(rightly(alice, aliceCodes[0] as string))).status).toBe(200);
    const cases: Array<[string, RecoverBody]> = [
      [
        'no such user',
        { username: 'nobody@people.test', password: alice.password, code: aliceCodes[1] as string },
      ],
      ['wrong password', { ...rightly(alice, aliceCodes[1] as string), password: 'Wrong-Horse-1!' }],
      ['wrong code', rightly(alice, 'abcd-efgh-jkmn')],
      ['a used code', rightly(alice, aliceCodes[0] as string)],
      ["someone else's code", rightly(alice, bobCodes[0] as string)],
      ["someone else's password", { ...rightly(bob, aliceCodes[1] as string) }],
      [
        'the user name instead of the email, wrong password',
        { username: alice.username, password: 'x', code: aliceCodes[1] as string },
      ],
    ];
    // Act
    const answers: Array<{ name: string; answer: Answer; cognito: string[]; invokes: number }> = [];
    for (const [name, body] of cases) {
      aws.resetHistory();
      await tables.rows('DELETE FROM citadel.recovery_attempts');
      const answer = await recover(body);
      answers.push({
        name,
        answer,
        cognito: aws.cognitoCommands().sort(),
        invokes: aws.lambda.calls().length,
      });
    }
    // Assess
    const reference = answers[0] as (typeof answers)[number];
    expect(shape(reference.answer)).toEqual({
      status: 403,
      headers: expect.objectContaining({ 'Content-Type': 'application/problem+json' }),
      body: {
        type: 'urn:citadel:problem:forbidden',
        title: 'Forbidden',
        status: 403,
        detail: expect.stringMatching(/^The user name, password or recovery code is not right/),
        instance: undefined,
      },
    });
    for (const a of answers) {
      expect({ name: a.name, answer: shape(a.answer), cognito: a.cognito, invokes: a.invokes }).toEqual({
        name: a.name,
        answer: shape(reference.answer),
        cognito: ['AdminGetUser', 'AdminInitiateAuth'],
        invokes: 1,
      });
    }
    // Nobody's MFA changed, no code was used, no email left.
    expect(bob.mfa.software).toBe(true);
    expect(await codesLeft(alice)).toBe(9);
    expect(await codesLeft(bob)).toBe(10);
    expect(aws.ses.calls()).toHaveLength(0);
  });

  it(`locks a user name out after ${RECOVERY_LOCKOUT.failures} failures, even for the right code, until the lockout ends`, async () => {
    // Prepare
    const user = newUser();
    const [code] = await issued(user);
    // Act: five wrong codes, each the usual 403.
    for (let i = 0; i < RECOVERY_LOCKOUT.failures; i++)
      expect((await recover(rightly(user, 'abcd-efgh-jkmn'))).status).toBe(403);
    aws.resetHistory();
    const requestId = randomUUID();
    const locked = await recover(rightly(user, code as string), requestId);
    // Assess: refused before Cognito is asked anything; the right code is still there for later.
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['Retry-After'])).toBeGreaterThan(RECOVERY_LOCKOUT.lockSeconds - 30);
    expect(Number(locked.headers['Retry-After'])).toBeLessThanOrEqual(RECOVERY_LOCKOUT.lockSeconds);
    expect(locked.body).toMatchObject({ type: 'urn:citadel:problem:too-many-requests', status: 429 });
    expect(aws.callCount()).toBe(0);
    expect((await auditOf(requestId))[0]).toMatchObject({
      outcome: 'denied',
      details: { reason: 'locked out' },
    });
    // The user name is locked in any spelling Cognito accepts for it.
    expect(
      (await recover({ ...rightly(user, code as string), username: ` ${user.email.toUpperCase()} ` })).status,
    ).toBe(429);
    // Act: the lockout ends.
    await tables.rows(
      "UPDATE citadel.recovery_attempts SET locked_until = now() - interval '1 second' WHERE locked_until IS NOT NULL",
    );
    const after = await recover(rightly(user, code as string));
    // Assess: the code works, and success forgets the failures.
    expect(after.status).toBe(200);
    expect(
      await tables.count('SELECT count(*)::int AS n FROM citadel.recovery_attempts WHERE login_key = $1', [
        loginKey(user.email),
      ]),
    ).toBe(0);
  });

  it('locks out a user name that does not exist exactly as one that does (no enumeration)', async () => {
    const ghost = {
      username: `ghost-${randomUUID()}@people.test`,
      password: 'Whatever-1!',
      code: 'abcd-efgh-jkmn',
    };
    const answers: number[] = [];
    for (let i = 0; i <= RECOVERY_LOCKOUT.failures; i++) answers.push((await recover(ghost)).status);
    expect(answers).toEqual([403, 403, 403, 403, 403, 429]);
  });

  it('starts a new count when the window passes without a lockout', async () => {
    const user = newUser();
    for (let i = 0; i < RECOVERY_LOCKOUT.failures - 1; i++)
      expect((await recover(rightly(user, 'abcd-efgh-jkmn'))).status).toBe(403);
    await tables.rows(
      `UPDATE citadel.recovery_attempts SET window_started_at = now() - make_interval(secs => $1)`,
      [RECOVERY_LOCKOUT.windowSeconds + 1],
    );
    const requestId = randomUUID();
    expect((await recover(rightly(user, 'abcd-efgh-jkmn'), requestId)).status).toBe(403);
    expect((await auditOf(requestId))[0]?.details).toMatchObject({ failures: 1, lockedOut: false });
    await tables.rows('DELETE FROM citadel.recovery_attempts');
  });

  it('gives the code back when the identity service fails after it was taken, and says retry later', async () => {
    // Prepare
    const user = newUser();
    const [code] = await issued(user);
    aws.failNext('AdminSetUserMFAPreference', cognitoThrottled());
    const requestId = randomUUID();
    // Act
    const failed = await recover(rightly(user, code as string), requestId);
    // Assess
    expect(failed.status).toBe(503);
    expect(failed.headers['Retry-After']).toBe('10');
    expect(await codesLeft(user)).toBe(10);
    expect((await auditOf(requestId))[0]).toMatchObject({
      outcome: 'failure',
      details: { reason: 'identity service failed', code: 'restored' },
    });
    expect((await recover(rightly(user, code as string))).status).toBe(200);
  });

  it('lets exactly one of two simultaneous recoveries with the same code through', async () => {
    const user = newUser();
    const [code] = await issued(user);
    const answers = await Promise.all([
      recover(rightly(user, code as string)),
      recover(rightly(user, code as string)),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 403]);
    expect(await codesLeft(user)).toBe(9);
  });

  it('recovers a user without a verified email, recording that no notice went out', async () => {
    const user = newUser({ emailVerified: false });
    const [code] = await issued(user);
    const requestId = randomUUID();
    expect((await recover(rightly(user, code as string), requestId)).status).toBe(200);
    expect(aws.ses.calls()).toHaveLength(0);
    expect((await auditOf(requestId))[0]?.details).toMatchObject({ notified: false });
  });

  it('refuses a user who has not finished signing up (temporary password) or is disabled, like any other failure', async () => {
    for (const options of [{ status: 'FORCE_CHANGE_PASSWORD' as const }, { enabled: false }]) {
      const user = newUser(options);
      const [code] = await issued(user);
      await tables.rows('DELETE FROM citadel.recovery_attempts');
      const answer = await recover(rightly(user, code as string));
      expect(answer.status).toBe(403);
      expect(await codesLeft(user)).toBe(10);
    }
  });
});
