/**
 * The four Secrets Manager rotation steps for PostgreSQL, for both strategies. Each step is idempotent:
 * a re-run after partial success converges and never breaks AWSCURRENT. Nothing here logs a value.
 */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerRotationEvent } from 'aws-lambda';
import pg from 'pg';
import { type Connect, type DbLogin, type DbSession, withSession } from '../shared/db/direct';
import { scramVerifier } from '../shared/db/scram';
import { type DatabaseSecret, nextSecretString, parseSecret, sameServer } from '../shared/db/secret';
import { logger } from '../shared/powertools';
import { describeError } from './db';
import { alternateUsername } from './secret';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export const ROTATION_STRATEGIES = ['single-user', 'alternating-users'] as const;
/** `single-user`: the master changes its own password. `alternating-users`: the master maintains two users. */
export type RotationStrategy = (typeof ROTATION_STRATEGIES)[number];

/** The event Secrets Manager invokes the rotation function with. */
export interface RotationEvent extends SecretsManagerRotationEvent {
  /** Sent for rotations through an assumed role; passed on to PutSecretValue. Sensitive: never logged. */
  readonly RotationToken?: string;
}

export const CURRENT = 'AWSCURRENT';
export const PENDING = 'AWSPENDING';
export const PREVIOUS = 'AWSPREVIOUS';

/** Password policy of generated passwords: no quote, backslash, slash, `@`, `:` or space (URL and DSN safe). */
export const PASSWORD_LENGTH = 32;
export const EXCLUDED_CHARACTERS = '"\'\\/@: ';

export interface RotationDeps {
  readonly client: SecretsManagerClient;
  readonly connect: Connect;
  readonly strategy: RotationStrategy;
  /** Every secret value read or written during this invocation, masked out of error messages. */
  readonly sensitive: Set<string>;
}

/** Where the rotation stands, from DescribeSecret. */
export interface RotationTarget {
  readonly arn: string;
  /** The version being rotated to (the event's ClientRequestToken). */
  readonly versionId: string;
  readonly currentVersionId: string | undefined;
  readonly previousVersionId: string | undefined;
  /** `current`: this version is already AWSCURRENT, so there is nothing to do. */
  readonly state: 'pending' | 'current';
}

/** A rotation the function refuses to run (disabled, unknown or stale version, stuck AWSPENDING). */
export class RotationRefused extends Error {
  override readonly name = 'RotationRefused';
}

/** The standard guards every step runs first (AWS's documented rotation-function contract). */
export async function checkRotation(
  client: SecretsManagerClient,
  event: RotationEvent,
): Promise<RotationTarget> {
  const meta = await client.send(new DescribeSecretCommand({ SecretId: event.SecretId }));
  const arn = meta.ARN ?? event.SecretId;
  const token = event.ClientRequestToken;
  if (meta.RotationEnabled !== true) throw new RotationRefused(`Secret ${arn} is not enabled for rotation`);
  const stages = meta.VersionIdsToStages ?? {};
  const holder = (label: string) => Object.entries(stages).find(([, labels]) => labels?.includes(label))?.[0];
  const currentVersionId = holder(CURRENT);
  const pendingVersionId = holder(PENDING);
  const base = { arn, versionId: token, currentVersionId, previousVersionId: holder(PREVIOUS) };
  const mine = stages[token];
  if (mine?.includes(CURRENT)) return { ...base, state: 'current' };
  if (pendingVersionId !== undefined && pendingVersionId !== token && pendingVersionId !== currentVersionId) {
    throw new RotationRefused(
      `Secret ${arn} has AWSPENDING on version ${pendingVersionId} while rotating ${token}; ` +
        'finish or cancel that rotation first (e.g. `aws secretsmanager update-secret-version-stage ' +
        `--secret-id ${arn} --version-stage AWSPENDING --remove-from-version-id ${pendingVersionId}\`)`,
    );
  }
  if (mine === undefined) {
    throw new RotationRefused(`Secret ${arn} has no version ${token} with a staging label to rotate`);
  }
  if (!mine.includes(PENDING)) {
    throw new RotationRefused(`Version ${token} of secret ${arn} is not AWSPENDING; it cannot be rotated to`);
  }
  return { ...base, state: 'pending' };
}

/** Runs `event.Step` for a target in state `pending`; returns what it did, for the log. */
export async function performStep(
  deps: RotationDeps,
  target: RotationTarget,
  event: RotationEvent,
): Promise<string> {
  switch (event.Step) {
    case 'createSecret':
      return createSecret(deps, target, event.RotationToken);
    case 'setSecret':
      return deps.strategy === 'single-user'
        ? setSingleUser(deps, target)
        : setAlternatingUsers(deps, target);
    case 'testSecret':
      return deps.strategy === 'single-user'
        ? testSingleUser(deps, target)
        : testAlternatingUsers(deps, target);
    case 'finishSecret':
      return finishSecret(deps, target);
    default:
      throw new RotationRefused(`unknown rotation step ${String((event as { Step?: unknown }).Step)}`);
  }
}

// Secrets Manager access ---------------------------------------------------------------------------

type VersionSelector = { readonly VersionStage: string; readonly VersionId?: string };

/** A version's value, or `undefined` when Secrets Manager has none (ResourceNotFoundException). */
async function readVersion(
  deps: RotationDeps,
  secretId: string,
  selector: VersionSelector,
  label: string,
): Promise<DatabaseSecret | undefined> {
  try {
    const out = await deps.client.send(new GetSecretValueCommand({ SecretId: secretId, ...selector }));
    const secret = parseSecret(out.SecretString, label);
    deps.sensitive.add(secret.password);
    return secret;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

async function requireVersion(
  deps: RotationDeps,
  secretId: string,
  selector: VersionSelector,
  label: string,
): Promise<DatabaseSecret> {
  const secret = await readVersion(deps, secretId, selector, label);
  if (!secret) throw new RotationRefused(`${label} has no value`);
  return secret;
}

const current = (deps: RotationDeps, t: RotationTarget) =>
  requireVersion(deps, t.arn, { VersionStage: CURRENT }, `${CURRENT} of ${t.arn}`);
const pending = (deps: RotationDeps, t: RotationTarget) =>
  requireVersion(deps, t.arn, { VersionStage: PENDING, VersionId: t.versionId }, `${PENDING} of ${t.arn}`);

const loginOf = (server: DatabaseSecret, user: DatabaseSecret): DbLogin => ({
  host: server.host,
  port: server.port,
  dbname: server.dbname,
  username: user.username,
  password: user.password,
});

// createSecret -------------------------------------------------------------------------------------

async function createSecret(
  deps: RotationDeps,
  target: RotationTarget,
  rotationToken: string | undefined,
): Promise<string> {
  const existing = await readVersion(
    deps,
    target.arn,
    { VersionStage: PENDING, VersionId: target.versionId },
    `${PENDING} of ${target.arn}`,
  );
  if (existing) return `kept the AWSPENDING value of an earlier attempt (user ${existing.username})`;
  const base = await current(deps, target);
  let username = base.username;
  if (deps.strategy === 'alternating-users') {
    if (!base.masterarn) throw new RotationRefused(`${CURRENT} of ${target.arn} has no masterarn`);
    username = alternateUsername(base.username);
  }
  const { RandomPassword: password } = await deps.client.send(
    new GetRandomPasswordCommand({
      PasswordLength: PASSWORD_LENGTH,
      ExcludeCharacters: EXCLUDED_CHARACTERS,
      IncludeSpace: false,
      RequireEachIncludedType: true,
    }),
  );
  if (!password) throw new Error('GetRandomPassword returned no password');
  deps.sensitive.add(password);
  await deps.client.send(
    new PutSecretValueCommand({
      SecretId: target.arn,
      ClientRequestToken: target.versionId,
      SecretString: nextSecretString(base, username, password),
      VersionStages: [PENDING],
      ...(rotationToken ? { RotationToken: rotationToken } : {}),
    }),
  );
  return `created the AWSPENDING value (user ${username})`;
}

// setSecret ----------------------------------------------------------------------------------------

/**
 * `CREATE ROLE` / `ALTER ROLE` with the new password, sent as a SCRAM verifier. `ALTER ROLE` on oneself
 * (single-user) may change only the password; the master also (re)grants LOGIN to the user it maintains.
 */
async function setPassword(
  session: DbSession,
  username: string,
  password: string,
  mode: 'create' | 'alter-other' | 'alter-self',
) {
  const verifier = pg.escapeLiteral(await scramVerifier(password));
  const role = pg.escapeIdentifier(username);
  const sql =
    mode === 'create'
      ? `CREATE ROLE ${role} WITH LOGIN PASSWORD ${verifier}`
      : `ALTER ROLE ${role} WITH ${mode === 'alter-other' ? 'LOGIN ' : ''}PASSWORD ${verifier}`;
  await session.query(sql);
}

/** Single user: log in as the user itself (AWSCURRENT, else AWSPENDING, else AWSPREVIOUS) and change its password. */
async function setSingleUser(deps: RotationDeps, target: RotationTarget): Promise<string> {
  const next = await pending(deps, target);
  const now = await current(deps, target);
  if (next.username !== now.username) {
    throw new RotationRefused(
      `AWSPENDING names user ${next.username} but AWSCURRENT names ${now.username}; single-user rotation only changes the password`,
    );
  }
  if (!sameServer(next, now)) throw new RotationRefused('AWSPENDING and AWSCURRENT name different servers');
  const previous = target.previousVersionId
    ? await readVersion(deps, target.arn, { VersionStage: PREVIOUS }, `${PREVIOUS} of ${target.arn}`)
    : undefined;
  const candidates: [string, DatabaseSecret | undefined][] = [
    [CURRENT, now],
    [PENDING, next],
    [PREVIOUS, previous],
  ];
  const failures: string[] = [];
  for (const [label, candidate] of candidates) {
    if (!candidate) {
      failures.push(`${label}: none`);
      continue;
    }
    let session: DbSession;
    try {
      session = await deps.connect({ ...loginOf(next, next), password: candidate.password });
    } catch (error) {
      const cause = describeError(error, [...deps.sensitive]);
      logger.info('login for setSecret failed; trying the next version', { stage: label, cause });
      failures.push(`${label}: ${cause}`);
      continue;
    }
    try {
      // Logging in with AWSPENDING means an earlier attempt already set it: nothing left to do.
      if (label === PENDING) return `password of ${next.username} was already set (AWSPENDING logs in)`;
      await setPassword(session, next.username, next.password, 'alter-self');
      return `changed the password of ${next.username} (logged in with ${label})`;
    } finally {
      await session.end().catch(() => undefined);
    }
  }
  throw new Error(`cannot log in as ${next.username}: ${failures.join('; ')}`);
}

const MEMBERSHIPS = `
  SELECT DISTINCT g.rolname AS name
  FROM pg_catalog.pg_auth_members m
  JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
  JOIN pg_catalog.pg_roles u ON u.oid = m.member
  WHERE u.rolname = $1
  ORDER BY 1`;

async function membershipsOf(session: DbSession, username: string): Promise<string[]> {
  const { rows } = await session.query<{ name: string }>(MEMBERSHIPS, [username]);
  return rows.map((r) => r.name);
}

/**
 * Alternating users: as the master, make the AWSPENDING user a clone of the AWSCURRENT one (create it
 * if missing, same role memberships, new password), in one transaction. The current user is untouched.
 */
async function setAlternatingUsers(deps: RotationDeps, target: RotationTarget): Promise<string> {
  const next = await pending(deps, target);
  const now = await current(deps, target);
  if (next.username !== alternateUsername(now.username)) {
    throw new RotationRefused(
      `AWSPENDING names user ${next.username}; alternating from ${now.username} it must be ${alternateUsername(now.username)}`,
    );
  }
  const masterArn = next.masterarn ?? now.masterarn;
  if (!masterArn) throw new RotationRefused(`AWSPENDING of ${target.arn} has no masterarn`);
  if (masterArn === target.arn)
    throw new RotationRefused(`masterarn of ${target.arn} points at the secret itself`);
  const master = await requireVersion(
    deps,
    masterArn,
    { VersionStage: CURRENT },
    `${CURRENT} of ${masterArn}`,
  );
  if (!sameServer(master, next) || !sameServer(master, now)) {
    throw new RotationRefused(`the master secret ${masterArn} names another server than ${target.arn}`);
  }
  if (next.username === master.username || now.username === master.username) {
    throw new RotationRefused(`${target.arn} names the master user; rotate the master with single-user`);
  }
  return withSession(deps.connect, loginOf(master, master), async (session) => {
    await session.query('BEGIN');
    try {
      const exists = async (name: string) =>
        (await session.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [name])).rows.length > 0;
      if (!(await exists(now.username)))
        throw new RotationRefused(`the current user ${now.username} does not exist`);
      const created = !(await exists(next.username));
      await setPassword(session, next.username, next.password, created ? 'create' : 'alter-other');
      const wanted = await membershipsOf(session, now.username);
      const held = await membershipsOf(session, next.username);
      const clone = pg.escapeIdentifier(next.username);
      for (const group of wanted.filter((g) => !held.includes(g))) {
        await session.query(`GRANT ${pg.escapeIdentifier(group)} TO ${clone}`);
      }
      for (const group of held.filter((g) => !wanted.includes(g))) {
        await session.query(`REVOKE ${pg.escapeIdentifier(group)} FROM ${clone}`);
      }
      await session.query('COMMIT');
      return `${created ? 'created' : 'updated'} user ${next.username} as a clone of ${now.username} (member of ${wanted.join(', ') || 'no role'})`;
    } catch (error) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

// testSecret ---------------------------------------------------------------------------------------

async function testSingleUser(deps: RotationDeps, target: RotationTarget): Promise<string> {
  const next = await pending(deps, target);
  return withSession(deps.connect, loginOf(next, next), async (session) => {
    const { rows } = await session.query<{ ok: number; name: string }>(
      'SELECT 1 AS ok, current_user AS name',
    );
    if (rows[0]?.ok !== 1 || rows[0]?.name !== next.username) {
      throw new Error(`AWSPENDING logged in but SELECT 1 as ${next.username} did not answer as expected`);
    }
    return `AWSPENDING logs in as ${next.username}`;
  });
}

async function testAlternatingUsers(deps: RotationDeps, target: RotationTarget): Promise<string> {
  const next = await pending(deps, target);
  const now = await current(deps, target);
  return withSession(deps.connect, loginOf(next, next), async (session) => {
    const { rows } = await session.query<{ ok: number; name: string }>(
      'SELECT 1 AS ok, current_user AS name',
    );
    if (rows[0]?.ok !== 1 || rows[0]?.name !== next.username) {
      throw new Error(`AWSPENDING logged in but SELECT 1 as ${next.username} did not answer as expected`);
    }
    // A read any reader can do, and proof the clone holds every role the current user holds.
    const { rows: missing } = await session.query<{ name: string }>(
      `SELECT g.name FROM (${MEMBERSHIPS}) g
       WHERE NOT pg_catalog.pg_has_role(current_user, g.name, 'MEMBER')`,
      [now.username],
    );
    if (missing.length > 0) {
      throw new Error(
        `${next.username} lacks membership in ${missing.map((m) => m.name).join(', ')} that ${now.username} has`,
      );
    }
    return `AWSPENDING logs in as ${next.username} with the roles of ${now.username}`;
  });
}

// finishSecret -------------------------------------------------------------------------------------

async function finishSecret(deps: RotationDeps, target: RotationTarget): Promise<string> {
  await deps.client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: target.arn,
      VersionStage: CURRENT,
      MoveToVersionId: target.versionId,
      ...(target.currentVersionId ? { RemoveFromVersionId: target.currentVersionId } : {}),
    }),
  );
  return `moved AWSCURRENT from ${target.currentVersionId ?? 'no version'} to ${target.versionId}`;
}
