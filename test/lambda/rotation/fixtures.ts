/**
 * Shared setup of the rotation tests: roles in a real PostgreSQL, the two secrets, logins, a reader that
 * behaves like a client of the rotated secret, and `Connect` wrappers that cut connections on purpose.
 */
import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { type Connect, type DbLogin, type DbSession, pgConnect } from '../../../lambda/shared/db/direct';
import { pgTls } from '../../../lambda/shared/db/tls';
import type { TestPostgres } from '../../support/postgres';
import type { SecretsManagerDouble } from './secrets-manager-double';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A secret's JSON as the tests read it back. */
export interface SecretJson extends DbLogin {
  readonly engine: 'postgres';
  readonly masterarn?: string;
}

export interface Provisioned {
  readonly admin: string;
  readonly readonly: string;
  readonly reporting: string;
  readonly masterArn: string;
  readonly reportingArn: string;
  readonly initial: { readonly master: SecretJson; readonly reporting: SecretJson };
}

export async function superQuery<R extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Creates, for one scenario, what the Data stack and the first migration create on RDS: a master-like
 * `citadel_admin_<tag>` (LOGIN CREATEROLE), and, created by it, the group `citadel_readonly_<tag>` (SELECT on
 * `report_data`) and its member `citadel_reporting_<tag>`. Registers the master and reporting secrets with `secrets`
 * (the Secrets Manager double, or a function that creates a secret elsewhere and returns its ARN).
 */
export async function provision(
  server: TestPostgres,
  database: { readonly name: string; readonly url: string },
  secrets: SecretsManagerDouble | ((name: string, value: SecretJson) => Promise<string>),
  tag: string,
): Promise<Provisioned> {
  // The in-memory double, or any other way to register a secret (e.g. moto, through the SDK); returns its ARN.
  const createSecret = async (name: string, value: SecretJson): Promise<string> =>
    typeof secrets === 'function' ? secrets(name, value) : secrets.createSecret(name, value);
  const admin = `citadel_admin_${tag}`;
  const group = `citadel_readonly_${tag}`;
  const reporting = `citadel_reporting_${tag}`;
  const adminPassword = randomBytes(18).toString('base64url');
  const reportingPassword = randomBytes(18).toString('base64url');
  await superQuery(database.url, `CREATE ROLE ${admin} WITH LOGIN CREATEROLE PASSWORD '${adminPassword}'`);
  const master: SecretJson = {
    engine: 'postgres',
    host: server.host,
    port: server.port,
    dbname: database.name,
    username: admin,
    password: adminPassword,
  };
  const asAdmin = await pgConnect(master);
  try {
    await asAdmin.query(`CREATE ROLE ${group} NOLOGIN`);
    await asAdmin.query(
      `CREATE ROLE ${reporting} WITH LOGIN PASSWORD '${reportingPassword}' IN ROLE ${group}`,
    );
  } finally {
    await asAdmin.end();
  }
  await superQuery(
    database.url,
    `CREATE TABLE IF NOT EXISTS report_data (id int PRIMARY KEY);
     INSERT INTO report_data SELECT generate_series(1, 3) ON CONFLICT DO NOTHING;
     GRANT SELECT ON report_data TO ${group}`,
  );
  const masterArn = await createSecret(`citadel/${tag}/master`, master);
  const reportingSecret: SecretJson = {
    ...master,
    username: reporting,
    password: reportingPassword,
    masterarn: masterArn,
  };
  const reportingArn = await createSecret(`citadel/${tag}/reporting`, reportingSecret);
  return {
    admin,
    readonly: group,
    reporting,
    masterArn,
    reportingArn,
    initial: { master, reporting: reportingSecret },
  };
}

/** The value a stage (default AWSCURRENT) holds, read through the SDK like any client. */
export async function readSecret(
  client: SecretsManagerClient,
  secretId: string,
  stage = 'AWSCURRENT',
): Promise<SecretJson> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
  return JSON.parse(out.SecretString ?? 'null') as SecretJson;
}

export type LoginResult =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly code: string };

/** Logs in with `login` and runs `sql` (default `SELECT 1`); reports the SQLSTATE of a failure. */
export async function tryLogin(login: DbLogin, sql = 'SELECT current_user AS user'): Promise<LoginResult> {
  const client = new pg.Client({
    host: login.host,
    port: login.port,
    database: login.dbname,
    user: login.username,
    password: login.password,
    ssl: pgTls(login.host),
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query(sql);
    return { ok: true, user: String(rows[0]?.user ?? login.username) };
  } catch (error) {
    return { ok: false, code: String((error as { code?: string }).code ?? (error as Error).message) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const INVALID_PASSWORD = '28P01';

/** The stored password verifier of a role (superuser only), to prove a step changed nothing. */
export async function storedPassword(url: string, role: string): Promise<string | null | undefined> {
  const rows = await superQuery<{ p: string | null }>(
    url,
    'SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1',
    [role],
  );
  return rows[0]?.p;
}

/** The roles `role` is a direct member of, sorted (`undefined` when the role does not exist). */
export async function memberships(url: string, role: string): Promise<string[] | undefined> {
  const exists = await superQuery(url, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (exists.length === 0) return undefined;
  const rows = await superQuery<{ name: string }>(
    url,
    `SELECT DISTINCT g.rolname AS name FROM pg_auth_members m
     JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
     WHERE u.rolname = $1 ORDER BY 1`,
    [role],
  );
  return rows.map((r) => r.name);
}

// A client of the rotated secret ---------------------------------------------------------------------

export type ReadOutcome = 'first-try' | 'after-retry';

/**
 * Reads like a real client: GetSecretValue (AWSCURRENT), connect, query, disconnect. On an authentication
 * failure it waits `retryDelayMs`, fetches the secret again and retries once; any other failure, or a
 * second one, is a failed query.
 */
export class SecretReader {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly sql: string,
    private readonly retryDelayMs: number,
  ) {}

  async fetch(): Promise<SecretJson> {
    return readSecret(this.client, this.secretId);
  }

  /** One query; `held` is a secret fetched earlier (a client's cache). Throws when the retry fails too. */
  async read(held?: SecretJson): Promise<ReadOutcome> {
    const first = await tryLogin(held ?? (await this.fetch()), this.sql);
    if (first.ok) return 'first-try';
    if (first.code !== INVALID_PASSWORD) throw new Error(`query failed: ${first.code}`);
    await sleep(this.retryDelayMs);
    const second = await tryLogin(await this.fetch(), this.sql);
    if (second.ok) return 'after-retry';
    throw new Error(`query failed after one retry with a re-fetched secret: ${second.code}`);
  }
}

export interface LoopStats {
  readonly queries: number;
  readonly firstTry: number;
  readonly afterRetry: number;
  readonly failed: number;
  /** Queries that started while a rotation was running. */
  readonly duringRotation: number;
  readonly failures: readonly string[];
}

/** `workers` readers querying in a loop, `pauseMs` apart, until `stop()`. */
export function startReadLoop(reader: SecretReader, workers: number, pauseMs: number) {
  let running = true;
  const state = { rotating: false };
  const stats = {
    queries: 0,
    firstTry: 0,
    afterRetry: 0,
    failed: 0,
    duringRotation: 0,
    failures: [] as string[],
  };
  const worker = async () => {
    while (running) {
      stats.queries++;
      if (state.rotating) stats.duringRotation++;
      try {
        const outcome = await reader.read();
        if (outcome === 'first-try') stats.firstTry++;
        else stats.afterRetry++;
      } catch (error) {
        stats.failed++;
        stats.failures.push((error as Error).message);
      }
      await sleep(pauseMs);
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    state,
    async stop(): Promise<LoopStats> {
      running = false;
      await all;
      return stats;
    },
  };
}

/** Runs `act` while `loop` reads, and stops the loop even when `act` fails. */
export async function underLoad(
  loop: ReturnType<typeof startReadLoop>,
  act: () => Promise<void>,
): Promise<LoopStats> {
  try {
    await act();
  } catch (error) {
    await loop.stop();
    throw error;
  }
  return loop.stop();
}

// Connections that fail on purpose ------------------------------------------------------------------

export interface FaultPlan {
  /** Drop the connection right after a statement matching this ran (the server did the work). */
  readonly afterStatement?: RegExp;
  /** Drop the connection instead of running a statement matching this. */
  readonly beforeStatement?: RegExp;
  /** `pending`: refuse the first login `isPendingLogin` accepts, as an unreachable database would. */
  readonly refuseLogin?: 'pending';
  readonly isPendingLogin?: (login: DbLogin) => boolean;
}

/** A `Connect` over the real one that fails once as planned, and records every statement sent. */
export function faultyConnect(plan: FaultPlan) {
  const record = { fired: false, statements: [] as string[] };
  const connect: Connect = async (login) => {
    if (plan.refuseLogin === 'pending' && plan.isPendingLogin?.(login) && !record.fired) {
      record.fired = true;
      throw Object.assign(new Error('connect ECONNREFUSED (injected)'), { code: 'ECONNREFUSED' });
    }
    const inner = await pgConnect(login);
    const session: DbSession = {
      query: async <R extends Record<string, unknown>>(text: string, values?: readonly unknown[]) => {
        if (plan.beforeStatement?.test(text.trim()) && !record.fired) {
          record.fired = true;
          await inner.end();
          throw new Error('Connection terminated unexpectedly (injected before the statement)');
        }
        const result = await inner.query<R>(text, values);
        record.statements.push(text);
        if (plan.afterStatement?.test(text.trim()) && !record.fired) {
          record.fired = true;
          await inner.end();
          throw new Error('Connection terminated unexpectedly (injected after the statement)');
        }
        return result;
      },
      end: () => inner.end(),
    };
    return session;
  };
  return { connect, record };
}
