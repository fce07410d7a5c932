/**
 * Short-lived, privileged connections straight to the instance (migrations, rotation, restore checks):
 * TLS, a connect timeout and a statement timeout, always closed. Never through RDS Proxy.
 */
import pg from 'pg';
import { pgTls, RDS_PROXY_HOST } from './tls';

/** What a connection needs: the fields of a database secret. */
export interface DbLogin {
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly username: string;
  readonly password: string;
}

/** The part of a `pg.Client` the rotation uses. */
export interface DbSession {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<{ readonly rows: R[] }>;
  end(): Promise<void>;
}

/** Opens a session as `login`; injected so tests can cut connections at any point. */
export type Connect = (login: DbLogin) => Promise<DbSession>;

export const CONNECT_TIMEOUT_MS = 5_000;
export const STATEMENT_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** @default STATEMENT_TIMEOUT_MS */
  readonly statementTimeoutMs?: number;
  /** @default 'citadel-rotation' */
  readonly applicationName?: string;
}

/** The production `Connect`: a `pg.Client` with `pgTls()`, directly to the instance. */
export const pgConnect = async (login: DbLogin, options: ConnectOptions = {}): Promise<DbSession> => {
  // RDS Proxy caches credentials and cannot run privileged statements: these sessions go to the instance.
  if (RDS_PROXY_HOST.test(login.host)) {
    throw new Error(`host ${login.host} is an RDS Proxy endpoint; the secret must name the instance itself`);
  }
  const client = new pg.Client({
    host: login.host,
    port: login.port,
    database: login.dbname,
    user: login.username,
    password: login.password,
    ssl: pgTls(login.host),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
    query_timeout: (options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS) + 2_000,
    application_name: options.applicationName ?? 'citadel-rotation',
  });
  // A network error after connect must not become an unhandled 'error' event that kills the container.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return {
    query: async <R extends Record<string, unknown>>(text: string, values?: readonly unknown[]) =>
      client.query<R>(text, values ? [...values] : undefined),
    end: () => client.end(),
  };
};

/** Runs `work` in a session as `login` and always closes the session. */
export async function withSession<T>(
  connect: Connect,
  login: DbLogin,
  work: (session: DbSession) => Promise<T>,
): Promise<T> {
  const session = await connect(login);
  try {
    return await work(session);
  } finally {
    await session.end().catch(() => undefined);
  }
}
