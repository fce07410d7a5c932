/**
 * `npm run dev`: the whole API on loopback, offline. Starts a real PostgreSQL and the S3 test server,
 * applies migrations, runs the scan pipeline behind the local GuardDuty simulator (EICAR is the one
 * threat it knows), and serves the route table with dev tokens. Ctrl-C stops everything.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closePool } from '../lambda/shared/db';
import { loadStageConfig } from '../lib/config';
import { ensureDatabase, prepareDatabase } from '../local/database';
import { DEV_TOKEN_PATH, devTokenEndpoint } from '../local/dev-endpoints';
import { createDevTokenIssuer, isDevProcess } from '../local/dev-tokens';
import { startLocalServer } from '../local/server';
import { LOCAL_BUCKETS, startLocalUploads } from '../local/uploads';
import { startPostgres } from '../test/support/postgres';
import { startS3Server } from '../test/support/s3-server';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3000' },
    dev: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
  },
});

if (!isDevProcess()) {
  console.error('npm run dev: refusing to start without --dev or NODE_ENV=development (it mints tokens).');
  process.exit(1);
}

const root = path.resolve(import.meta.dirname, '..');
const stateDir = path.join(root, '.dev');
await mkdir(stateDir, { recursive: true });
const config = loadStageConfig('dev');

const postgres = await startPostgres({ dataDir: values.fresh ? undefined : path.join(stateDir, 'postgres') });
const s3 = await startS3Server({
  dataDir: values.fresh ? undefined : path.join(stateDir, 's3'),
  buckets: [...LOCAL_BUCKETS],
  corsOrigins: config.api.corsOrigins,
});

const { appUrl, result } = await prepareDatabase(await ensureDatabase(postgres.url(), 'citadel'));

Object.assign(process.env, {
  CITADEL_STAGE: 'local',
  CITADEL_CORS_ORIGINS: config.api.corsOrigins.join(','),
  DATABASE_URL: appUrl,
  CITADEL_DB_TLS: 'disable',
  CITADEL_DB_POOL_MAX: '10',
  // Cognito and API Gateway management are simulated in memory for the admin routes (local only).
  CITADEL_ADAPTERS_MODULE: path.join(root, 'local/aws-simulators.ts'),
  POWERTOOLS_SERVICE_NAME: 'citadel-local',
  POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
  POWERTOOLS_METRICS_DISABLED: 'true',
});

// Uploads go to the local S3 server; GuardDuty is simulated in front of the real scan pipeline.
const uploads = startLocalUploads(s3, {
  maxUploadBytes: config.uploads.maxUploadBytes,
  allowedContentTypes: config.uploads.allowedContentTypes,
  onScanError: (error, object) => console.error(`scan pipeline failed for ${object.key}:`, error),
});

const tokens = await createDevTokenIssuer();
const server = await startLocalServer({
  tokens,
  port: Number(values.port),
  corsOrigins: config.api.corsOrigins,
  devEndpoints: devTokenEndpoint(tokens),
});

// Machine clients created locally are told to get tokens from the dev token endpoint.
process.env.CITADEL_TOKEN_ENDPOINT = `${server.url}${DEV_TOKEN_PATH}?machine=1`;

console.log(`
Citadel (local) is up: ${server.url}
  PostgreSQL  ${appUrl.replace(/:[^:@/]+@/, ':****@')} (migrations: ${result.applied.length} applied, ${result.skipped.length} already there)
  S3          ${s3.endpoint} (buckets ${LOCAL_BUCKETS.join(', ')})
  GuardDuty   LOCAL SIMULATOR: every new upload is "scanned"; the EICAR test file is the only threat

Try it:
  curl -s ${server.url}/v1/health
  TOKEN=$(curl -s '${server.url}${DEV_TOKEN_PATH}?role=user' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
  curl -s -H "Authorization: Bearer $TOKEN" ${server.url}/v1/...

Dev tokens: ${DEV_TOKEN_PATH}?role=guest|user|manager|admin, or ?machine=1&scope=files.read&scope=files.write
Ctrl-C stops the server, S3 and PostgreSQL.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  await server.close().catch(() => undefined);
  await uploads.idle().catch(() => undefined);
  uploads.stop();
  await closePool().catch(() => undefined);
  await s3.stop().catch(() => undefined);
  await postgres.destroy().catch(() => undefined);
  console.log('stopped cleanly.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
