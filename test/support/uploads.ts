/**
 * One upload environment per test file: a real PostgreSQL (migrated), the S3 test server (SigV4-verified),
 * the simulated GuardDuty scan in front of the real scan pipeline, and the local API server running the
 * real route handlers behind the emulated gateway and Cognito authorizer.
 */
import type { Role, Scope } from '../../contract/roles';
import type { ScanResultStatus } from '../../contract/scan';
import { closePool } from '../../lambda/shared/db';
import { createDevTokenIssuer, type DevTokenIssuer } from '../../local/dev-tokens';
import type { ObjectCreated } from '../../local/guardduty-simulator';
import { type LocalServer, startLocalServer } from '../../local/server';
import {
  LOCAL_QUARANTINE_BUCKET,
  LOCAL_UPLOADS_BUCKET,
  type LocalUploads,
  startLocalS3Server,
  startLocalUploads,
} from '../../local/uploads';
import { type MigratedDatabase, migratedDatabase, withClient } from './database';
import { startPostgres, type TestPostgres } from './postgres';
import type { S3Server } from './s3-server';

export { LOCAL_QUARANTINE_BUCKET, LOCAL_UPLOADS_BUCKET };

export interface UploadEnvironmentOptions {
  /** @default 64 MiB */
  readonly maxUploadBytes?: number;
  /** @default the default stage list */
  readonly allowedContentTypes?: readonly string[];
  readonly verdict?: (object: ObjectCreated, bytes: Buffer) => ScanResultStatus | undefined;
  /** Browser origins the API and the S3 server answer (CORS), as a stage lists them. @default none */
  readonly corsOrigins?: readonly string[];
}

export interface UploadEnvironment {
  readonly url: string;
  readonly tokens: DevTokenIssuer;
  readonly s3Server: S3Server;
  readonly uploads: LocalUploads;
  readonly database: MigratedDatabase;
  /** The PostgreSQL cluster the database lives in, for a test that needs another database beside it. */
  readonly postgres: TestPostgres;
  /** A bearer token for a person in `role` with id `sub`. */
  token(role: Role, sub?: string, scopes?: readonly Scope[]): Promise<string>;
  /** Runs SQL as the master user (assertions on rows the API does not expose). */
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Scan-pipeline failures the simulator saw (a test asserts none unless it provokes them). */
  readonly scanErrors: unknown[];
  stop(): Promise<void>;
}

export const DEFAULT_TEST_TYPES = [
  'application/pdf',
  'application/zip',
  'image/png',
  'image/jpeg',
  'image/gif',
  'video/mp4',
  'application/octet-stream',
];

export async function startUploadEnvironment(
  options: UploadEnvironmentOptions = {},
): Promise<UploadEnvironment> {
  const postgres: TestPostgres = await startPostgres();
  const database = await migratedDatabase(postgres, 'uploads');
  process.env.DATABASE_URL = database.appUrl;
  process.env.NODE_ENV = 'development';
  const s3Server = await startLocalS3Server({ corsOrigins: options.corsOrigins });
  process.env.CITADEL_CORS_ORIGINS = (options.corsOrigins ?? []).join(',');
  const scanErrors: unknown[] = [];
  const uploads = startLocalUploads(s3Server, {
    maxUploadBytes: options.maxUploadBytes ?? 64 * 1024 * 1024,
    allowedContentTypes: options.allowedContentTypes ?? DEFAULT_TEST_TYPES,
    verdict: options.verdict,
    onScanError: (error) => scanErrors.push(error),
  });
  const tokens = await createDevTokenIssuer();
  const server: LocalServer = await startLocalServer({ tokens, corsOrigins: options.corsOrigins });
  return {
    url: server.url,
    tokens,
    s3Server,
    uploads,
    database,
    postgres,
    token: (role, sub, scopes) => tokens.mint({ role, sub, scopes }),
    sql: <T>(text: string, values: unknown[] = []) =>
      withClient(database.adminUrl, async (c) => (await c.query(text, values)).rows as T[]),
    scanErrors,
    async stop() {
      await server.close();
      await uploads.idle();
      uploads.stop();
      await closePool();
      await s3Server.stop();
      await postgres.destroy();
      process.env.NODE_ENV = 'test';
    },
  };
}
