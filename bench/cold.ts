/**
 * bench:cold: the cold start a caller feels, from process start to the first answered request, for a read route
 * (`GET /v1/files/{id}`) and the upload-create route (`POST /v1/uploads`), each bundled two ways (`./bundling`):
 *   (a) the house way (CitadelFunction's HOUSE_BUNDLING);
 *   (b) NodejsFunction's out-of-the-box defaults (the baseline).
 * Every measurement is a fresh `node` process (plain node on the built bundle, in its directory, with Lambda's
 * environment) that imports the bundle, invokes `handler(event, context)` with the REST proxy event API Gateway
 * would send (Cognito authorizer claims included), checks the answer, and reports `performance.now()`, i.e.
 * milliseconds since the process started (Node's time origin), when the import finished ("load") and when the
 * response was in hand ("first"). A fresh process per run means the first request opens a new connection to
 * PostgreSQL (and, for create, a new HTTP connection to S3): that is what a cold start pays. Lambda's own init
 * (runtime bootstrap, downloading the code) is not in it; the same for both bundles.
 * The database is a local PostgreSQL (migrated, TLS off as on loopback); S3 is the repository's signature-checking
 * S3 test server with the buckets' policies, running in this process. Both variants talk to the same servers
 * with the same environment credentials (Lambda puts the execution role's keys in the environment).
 * House and default runs alternate, so drift in machine load hits both alike. The last line of stdout is one JSON
 * object.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getFile } from '../contract/api/files';
import { createUpload } from '../contract/api/uploads';
import type { RouteDefinition } from '../contract/route';
import { prepareDatabase, withClient } from '../local/database';
import { createDevTokenIssuer } from '../local/dev-tokens';
import {
  LOCAL_PRINCIPALS,
  LOCAL_QUARANTINE_BUCKET,
  LOCAL_UPLOADS_BUCKET,
  startLocalS3Server,
} from '../local/uploads';
import { startPostgres } from '../test/support/postgres';
import type { S3Server } from '../test/support/s3-server';
import { type Built, bundle, defaults, freshOutDir, house, LAMBDA_ENV, ROOT } from './bundling';
import {
  authorizerClaimsFor,
  CHILD_SCRIPT,
  type ChildResult,
  lambdaContext,
  parseChildOutput,
  proxyEvent,
} from './cold-event';
import { median, round } from './stats';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, node: { type: 'string' } },
});
/** The Node.js binary of the fresh processes: this one's by default, `--node <path>` for another (as bench:bundles). */
const NODE = values.node ?? process.execPath;
const RUNS = Math.max(9, Number(values.runs));
const OUT = path.join(ROOT, '.bench', 'cold');

/** One measured route: what to send, and what a correct answer looks like beyond its schema. */
interface Case {
  readonly key: 'read' | 'create';
  readonly route: RouteDefinition;
  readonly path: string;
  readonly body?: unknown;
  readonly check: (body: Record<string, unknown>) => string | undefined;
}

/** Runs `file` once in a fresh process; throws with everything the process printed unless it answered right. */
async function coldRun(
  file: string,
  c: Case,
  claims: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<ChildResult> {
  const requestId = randomUUID();
  const event = proxyEvent(c.route, { path: c.path, body: c.body, claims, requestId });
  const args = [
    '--input-type=module',
    '-e',
    CHILD_SCRIPT,
    file,
    JSON.stringify(event),
    JSON.stringify(lambdaContext(c.route, requestId)),
    String(c.route.response.status),
  ];
  const { stdout, stderr, error } = await new Promise<{ stdout: string; stderr: string; error: unknown }>(
    (resolve) =>
      execFile(
        NODE,
        args,
        { env, cwd: path.dirname(file), maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
        (e, out, err) => resolve({ stdout: String(out), stderr: String(err), error: e }),
      ),
  );
  const where = `${c.route.method} ${c.route.path} (${path.relative(ROOT, file)})`;
  if (error) {
    const { code, signal } = error as { code?: number | string; signal?: string };
    throw new Error(`${where} failed (exit ${code ?? signal})\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  }
  const result = parseChildOutput(stdout);
  const parsed = c.route.response.schema.safeParse(JSON.parse(result.body));
  if (!parsed.success) throw new Error(`${where}: the body breaks the contract: ${result.body}`);
  const wrong = c.check(parsed.data as Record<string, unknown>);
  if (wrong) throw new Error(`${where}: ${wrong}: ${result.body}`);
  return result;
}

interface Samples {
  readonly loaded: number[];
  readonly first: number[];
  /** first - loaded, per run. */
  readonly request: number[];
}
const samples = (): Samples => ({ loaded: [], first: [], request: [] });
const record = (s: Samples, r: ChildResult): void => {
  s.loaded.push(r.loadedMs);
  s.first.push(r.firstMs);
  s.request.push(r.firstMs - r.loadedMs);
};

// The dev token issuer (which mints the claims the authorizer would pass) runs only in development; the
// children get Lambda's environment, without NODE_ENV.
process.env.NODE_ENV = 'development';
const postgres = await startPostgres();
let s3Server: S3Server | undefined;
try {
  const admin = postgres.url();
  const { appUrl } = await prepareDatabase(admin);
  s3Server = await startLocalS3Server({ region: LAMBDA_ENV.AWS_REGION });
  const claims = await authorizerClaimsFor(await createDevTokenIssuer(), 'user');
  const owner = claims.sub as string;
  const fileId = randomUUID();
  await withClient(admin, (c) =>
    c.query(
      `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, sha256, state)
       VALUES ($1::uuid, $2::text, 'uploads/' || $2::text || '/' || $1::text, 'report.pdf', 'application/pdf', 123456, repeat('a', 64), 'clean')`,
      [fileId, owner],
    ),
  );

  // Lambda's environment: no AWS_PROFILE or other AWS_* of this shell (with AWS_PROFILE set, the SDK's default
  // chain in the defaults bundle would skip the environment's keys), the execution role's keys, and what the
  // Api stack sets for these routes (`database`, `uploads:write`, `uploads:abort`).
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'NODE_ENV'),
  );
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    ...LAMBDA_ENV,
    // Lambda sets it; without it Powertools never counts a cold start (no ColdStart metric, `cold_start: false`).
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_ACCESS_KEY_ID: LOCAL_PRINCIPALS.api.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_PRINCIPALS.api.secretAccessKey,
    AWS_SESSION_TOKEN: 'bench-session-token',
    DATABASE_URL: appUrl,
    CITADEL_DB_TLS: 'disable',
    CITADEL_S3_ENDPOINT: s3Server.endpoint,
    CITADEL_UPLOADS_BUCKET: LOCAL_UPLOADS_BUCKET,
    CITADEL_QUARANTINE_BUCKET: LOCAL_QUARANTINE_BUCKET,
    CITADEL_MAX_UPLOAD_BYTES: String(5 * 1024 ** 3),
    CITADEL_ALLOWED_TYPES: 'application/pdf,image/png,application/zip',
  };

  const cases: Case[] = [
    {
      key: 'read',
      route: getFile,
      path: `/v1/files/${fileId}`,
      check: (b) =>
        b.id !== fileId || b.ownerId !== owner || b.state !== 'clean' ? 'not the file inserted' : undefined,
    },
    {
      key: 'create',
      route: createUpload,
      path: '/v1/uploads',
      body: { filename: 'report.pdf', size: 20 * 1024 * 1024, contentType: 'application/pdf' },
      check: (b) =>
        b.key !== `uploads/${owner}/${b.id}` || typeof b.uploadId !== 'string' || b.uploadId === ''
          ? 'no multipart upload under the caller'
          : undefined,
    },
  ];

  freshOutDir(OUT);
  const rows: Array<{ c: Case; a: Built; b: Built; sa: Samples; sb: Samples }> = [];
  let creates = 0;
  for (const c of cases) {
    const name = c.route.entry.replace(/[/.]/g, '_');
    const a = await bundle(house(c.route.entry, path.join(OUT, 'house', name)));
    const b = await bundle(defaults(c.route.entry, path.join(OUT, 'default', name)));
    const sa = samples();
    const sb = samples();
    // One unmeasured run each: warms the OS file cache and fails fast on a wrong setup.
    await coldRun(a.file, c, claims, env);
    await coldRun(b.file, c, claims, env);
    for (let i = 0; i < RUNS; i++) {
      // Alternate so drift in machine load hits both variants alike.
      if (i % 2 === 0) {
        record(sa, await coldRun(a.file, c, claims, env));
        record(sb, await coldRun(b.file, c, claims, env));
      } else {
        record(sb, await coldRun(b.file, c, claims, env));
        record(sa, await coldRun(a.file, c, claims, env));
      }
    }
    if (c.key === 'create') creates += 2 + 2 * RUNS;
    rows.push({ c, a, b, sa, sb });
  }
  // Every create answered 201 with an upload id; S3 must hold exactly that many multipart uploads.
  const held = s3Server.multipartUploads(LOCAL_UPLOADS_BUCKET).length;
  if (held !== creates) throw new Error(`S3 holds ${held} multipart uploads after ${creates} creates`);

  console.log(
    `bench:cold — ${rows.length} routes, ${RUNS} alternating fresh processes per bundle, Node ${execFileSync(NODE, ['--version']).toString().trim()}: process start → first response (median ms)`,
  );
  console.log(
    'baseline (b): NodejsFunction defaults (CJS, unminified, @aws-sdk/* and @smithy/* from node_modules); (a) the house bundle',
  );
  console.log(
    'each process opens its own PostgreSQL connection (create: and its own HTTP connection to the S3 test server)\n',
  );
  console.log(
    'route'.padEnd(20),
    'a KiB'.padStart(7),
    'b KiB'.padStart(7),
    'a load'.padStart(7),
    'a req'.padStart(7),
    'a first'.padStart(8),
    'b load'.padStart(7),
    'b req'.padStart(7),
    'b first'.padStart(8),
    'a/b'.padStart(6),
  );
  const result: Record<string, number> = { routes: rows.length, runs: RUNS };
  const ratios: number[] = [];
  for (const { c, a, b, sa, sb } of rows) {
    const houseMs = median(sa.first);
    const defaultMs = median(sb.first);
    const ratio = houseMs / defaultMs;
    ratios.push(ratio);
    console.log(
      `${c.route.method} ${c.route.path}`.padEnd(20),
      (a.bytes / 1024).toFixed(0).padStart(7),
      (b.bytes / 1024).toFixed(0).padStart(7),
      median(sa.loaded).toFixed(1).padStart(7),
      median(sa.request).toFixed(1).padStart(7),
      houseMs.toFixed(1).padStart(8),
      median(sb.loaded).toFixed(1).padStart(7),
      median(sb.request).toFixed(1).padStart(7),
      defaultMs.toFixed(1).padStart(8),
      ratio.toFixed(2).padStart(6),
    );
    result[`${c.key}HouseMs`] = round(houseMs, 1);
    result[`${c.key}DefaultMs`] = round(defaultMs, 1);
    result[`${c.key}Ratio`] = round(ratio);
  }
  result.worstRatio = round(Math.max(...ratios));
  console.log(JSON.stringify(result));
} finally {
  await s3Server?.stop();
  await postgres.destroy();
  rmSync(OUT, { recursive: true, force: true });
}
