/**
 * Database access for handlers: one `pg` pool per container, IAM authentication on AWS (an RDS auth
 * token, refreshed before its 15-minute life ends; no password exists), TLS verified against Node's trust store
 * (see `pgTls`), `DATABASE_URL` locally. Statement and idle-transaction timeouts are server-side role settings
 * (see migrations/0001), so nothing here issues a session `SET`, a named prepared statement or an advisory
 * lock: those would pin RDS Proxy connections.
 */
import pg from 'pg';
import { ServiceUnavailableError } from '../errors';
import { logger } from '../powertools';
import { rdsAuthToken } from './iam-token';
import { pgTls } from './tls';

/** Where and how to connect, from the environment the Api stack (or the local server) sets. */
export type DbSettings =
  | { readonly kind: 'url'; readonly url: string; readonly poolMax: number }
  | {
      readonly kind: 'iam';
      readonly host: string;
      readonly port: number;
      readonly database: string;
      readonly user: string;
      readonly region: string;
      readonly poolMax: number;
    };

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): DbSettings {
  const poolMax = Number(env.CITADEL_DB_POOL_MAX ?? 2);
  if (env.DATABASE_URL) return { kind: 'url', url: env.DATABASE_URL, poolMax };
  const { CITADEL_DB_HOST: host, CITADEL_DB_NAME: database, CITADEL_DB_USER: user, AWS_REGION: region } = env;
  if (!host || !database || !user || !region) {
    throw new Error(
      'Database not configured: set DATABASE_URL, or CITADEL_DB_HOST/NAME/USER and AWS_REGION.',
    );
  }
  return { kind: 'iam', host, port: Number(env.CITADEL_DB_PORT ?? 5432), database, user, region, poolMax };
}

/** RDS IAM auth tokens live 15 minutes; a new connection gets one that has at least 5 minutes left. */
export class IamTokenSource {
  private cached: { token: string; expiresAt: number } | undefined;

  constructor(
    private readonly sign: () => Promise<string>,
    private readonly now: () => number = Date.now,
    private readonly lifetimeMs = 15 * 60_000,
    private readonly refreshBeforeMs = 5 * 60_000,
  ) {}

  async token(): Promise<string> {
    if (!this.cached || this.now() >= this.cached.expiresAt - this.refreshBeforeMs) {
      const issuedAt = this.now();
      this.cached = { token: await this.sign(), expiresAt: issuedAt + this.lifetimeMs };
    }
    return this.cached.token;
  }
}

async function poolConfig(settings: DbSettings): Promise<pg.PoolConfig> {
  const common: pg.PoolConfig = {
    max: settings.poolMax,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    // Recycle connections well before RDS Proxy's or the server's idle limits and certificate rotations.
    maxLifetimeSeconds: 600,
    application_name: process.env.POWERTOOLS_SERVICE_NAME ?? 'citadel',
  };
  if (settings.kind === 'url') {
    const tls = pgTls(new URL(settings.url).hostname);
    return { ...common, connectionString: settings.url, ...(tls ? { ssl: tls } : {}) };
  }
  const tokens = new IamTokenSource(() =>
    rdsAuthToken({
      hostname: settings.host,
      port: settings.port,
      username: settings.user,
      region: settings.region,
    }),
  );
  return {
    ...common,
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    password: () => tokens.token(),
    ssl: pgTls(settings.host),
  };
}

let pool: Promise<pg.Pool> | undefined;

async function createPool(): Promise<pg.Pool> {
  const created = new pg.Pool(await poolConfig(settingsFromEnv()));
  // An idle client whose backend died (restart, failover, pg_terminate_backend) is dropped by the pool;
  // without a listener that event would crash the process.
  created.on('error', (error) =>
    logger.warn('idle database connection lost', { code: (error as { code?: string }).code }),
  );
  return created;
}

/** The container's pool, created on first use. */
export function getPool(): Promise<pg.Pool> {
  pool ??= createPool().catch((error) => {
    pool = undefined;
    throw error;
  });
  return pool;
}

/** Closes the pool (tests, local server shutdown). */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await (await current)?.end();
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown (pg_terminate_backend, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** True for failures that say "the database is not reachable right now", not "this query is wrong". */
export function isUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

/** Statement timeout (57014): the server cancelled a statement that ran past the role's limit. */
const isCancelled = (error: unknown): boolean => (error as { code?: string } | undefined)?.code === '57014';

function toDomain(error: unknown): unknown {
  if (isUnavailable(error)) {
    logger.warn('database unavailable', { code: (error as { code?: string }).code });
    return new ServiceUnavailableError('The database is unavailable. Retry shortly.', 5);
  }
  if (isCancelled(error)) {
    logger.warn('statement cancelled by statement_timeout');
    return new ServiceUnavailableError('The database is busy. Retry shortly.', 2);
  }
  return error;
}

export interface QueryOptions {
  /** Safe to run twice: retried once on a fresh connection when the first one was broken. @default false */
  readonly idempotent?: boolean;
}

/** Something that runs parameterised SQL: the pool, or a transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** One parameterised statement on a pooled connection; unreachable database → 503 with Retry-After. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  options: QueryOptions = {},
): Promise<R[]> {
  try {
    return (await (await getPool()).query<R>(text, values)).rows;
  } catch (error) {
    if (options.idempotent && isUnavailable(error)) {
      try {
        return (await (await getPool()).query<R>(text, values)).rows;
      } catch (retryError) {
        throw toDomain(retryError);
      }
    }
    throw toDomain(error);
  }
}

/** Runs `work` in a transaction on one connection; commits on success, rolls back on any error. */
export async function transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await (await getPool()).connect();
  } catch (error) {
    throw toDomain(error);
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (isUnavailable(error)) broken = error as Error;
    else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw toDomain(error);
  } finally {
    // A broken connection is destroyed instead of going back to the pool.
    client.release(broken);
  }
}

/** Readiness probe: one round trip. */
export async function ping(): Promise<void> {
  await query('SELECT 1', [], { idempotent: true });
}
