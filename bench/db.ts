/**
 * bench:db: what Citadel's handler stack (event translation, Middy, zod, authorization, logging, metrics,
 * the DB module) costs on top of the work itself.
 *   (a) GET /v1/files/{id} — one indexed query — served by `npm run dev`'s local server;
 *   (b) a bare node:http server running the same query with `pg` and returning the same JSON (with the
 *       security headers every Citadel response carries, so only the stack's work differs).
 * Both run as separate processes against the same real PostgreSQL, with the same pool size. The load is
 * 16 concurrent keep-alive clients, in alternating rounds. The last line of stdout is one JSON object.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDatabase, withClient } from '../local/database';
import { startPostgres } from '../test/support/postgres';
import { median, percentile, round } from './stats';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '10' },
  },
});
const REQUESTS = Math.max(5000, Number(values.requests));
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Math.max(2, Number(values.rounds));
const POOL = String(CONCURRENCY);
const ROOT = path.resolve(import.meta.dirname, '..');

const postgres = await startPostgres({ maxConnections: 100 });
const children: ChildProcess[] = [];
const shutdown = async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  await postgres.destroy();
};

try {
  const admin = postgres.url();
  const { appUrl } = await prepareDatabase(admin);
  const owner = 'dev-user-user';
  const target = randomUUID();
  // 20,000 files across 200 owners, so the lookup is a real index probe.
  await withClient(admin, async (c) => {
    await c.query(
      `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, state, created_at)
       SELECT gen_random_uuid(), 'owner-' || (g % 200), 'uploads/owner-' || (g % 200) || '/' || g, 'file-' || g || '.pdf',
              'application/pdf', 1024 + g, 'clean', now() - (g || ' seconds')::interval
       FROM generate_series(1, 20000) g`,
    );
    await c.query(
      `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, sha256, state)
       VALUES ($1::uuid, $2::text, 'uploads/' || $2::text || '/' || $1::text, 'report.pdf', 'application/pdf', 123456, repeat('a', 64), 'clean')`,
      [target, owner],
    );
    await c.query('ANALYZE citadel.files');
  });

  const env = {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: appUrl,
    CITADEL_DB_TLS: 'disable',
    CITADEL_DB_POOL_MAX: POOL,
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_SERVICE_NAME: 'bench',
    POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
  };
  const start = (mode: 'citadel' | 'bare') =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          ...(process.env.BENCH_CPU_PROF
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
            : []),
          '--import',
          'tsx',
          path.join(ROOT, 'bench/db-server.ts'),
          mode,
        ],
        { env, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      child.once('exit', (code) => reject(new Error(`${mode} server exited (${code})`)));
      child.stdout?.on('data', (chunk: Buffer) => {
        const m = /READY (\S+)/.exec(chunk.toString());
        if (m) resolve(m[1] as string);
      });
    });
  const [citadelUrl, bareUrl] = await Promise.all([start('citadel'), start('bare')]);
  const [citadelPid, barePid] = children.map((c) => c.pid as number);
  /**
   * CPU time (user + system, ms) a server process has used so far, from /proc (Linux; 0 elsewhere). Its growth over
   * the measured rounds divided by the requests served is the stack's CPU cost per request: a steadier figure than
   * latency on a shared 2-core machine, printed beside the ratios.
   */
  const cpuMs = (pid: number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
    } catch {
      return 0;
    }
  };
  const token = (
    (await (await fetch(`${citadelUrl}/_dev/token?role=user`)).json()) as { accessToken: string }
  ).accessToken;

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const get = (url: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = request(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      });
      req.on('error', reject);
      req.end();
    });

  interface Result {
    latencies: number[];
    seconds: number;
  }
  const run = async (url: string, headers: Record<string, string>, count: number): Promise<Result> => {
    const latencies: number[] = [];
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          next++;
          latencies.push(await get(url, headers));
        }
      }),
    );
    return { latencies, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };

  const a = { url: `${citadelUrl}/v1/files/${target}`, headers: { Authorization: `Bearer ${token}` } };
  const b = { url: `${bareUrl}/v1/files/${target}`, headers: {} };
  // Same body from both (the JSON shape is the contract's).
  const [bodyA, bodyB] = await Promise.all([
    fetch(a.url, { headers: a.headers }).then((r) => r.json()),
    fetch(b.url).then((r) => r.json()),
  ]);
  if (JSON.stringify(bodyA) !== JSON.stringify(bodyB))
    throw new Error('the two servers disagree on the response');

  await run(a.url, a.headers, 500); // warm-up: JIT, pools, token verification caches
  await run(b.url, b.headers, 500);
  const perRound = Math.ceil(REQUESTS / ROUNDS);
  const totals = {
    a: { latencies: [] as number[], seconds: 0, cpuMs: 0 },
    b: { latencies: [] as number[], seconds: 0, cpuMs: 0 },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
    for (const which of order) {
      const target = which === 'a' ? a : b;
      const pid = which === 'a' ? citadelPid : barePid;
      const cpuBefore = cpuMs(pid as number);
      const r = await run(target.url, target.headers, perRound);
      totals[which].cpuMs += cpuMs(pid as number) - cpuBefore;
      totals[which].latencies.push(...r.latencies);
      totals[which].seconds += r.seconds;
    }
  }
  const stats = (r: Result & { cpuMs: number }) => ({
    cpuUsPerRequest: (r.cpuMs * 1000) / r.latencies.length,
    p50: median(r.latencies),
    p99: percentile(r.latencies, 99),
    throughput: r.latencies.length / r.seconds,
    n: r.latencies.length,
  });
  const sa = stats(totals.a);
  const sb = stats(totals.b);
  console.log(
    `bench:db — ${CONCURRENCY} concurrent keep-alive clients, ${ROUNDS} alternating rounds, pool ${POOL} each`,
  );
  console.log(
    'baseline (b): bare node:http + pg: same query, same JSON, same security headers, no auth, no validation',
  );
  console.log('                        p50 ms   p99 ms   req/s     requests   server CPU µs/request');
  console.log(
    `(a) citadel local    ${sa.p50.toFixed(2).padStart(8)} ${sa.p99.toFixed(2).padStart(8)} ${sa.throughput.toFixed(0).padStart(7)} ${String(sa.n).padStart(10)} ${sa.cpuUsPerRequest.toFixed(0).padStart(11)}`,
  );
  console.log(
    `(b) bare http + pg   ${sb.p50.toFixed(2).padStart(8)} ${sb.p99.toFixed(2).padStart(8)} ${sb.throughput.toFixed(0).padStart(7)} ${String(sb.n).padStart(10)} ${sb.cpuUsPerRequest.toFixed(0).padStart(11)}`,
  );
  console.log(
    JSON.stringify({
      p50Ratio: round(sa.p50 / sb.p50),
      p99Ratio: round(sa.p99 / sb.p99),
      throughputRatio: round(sa.throughput / sb.throughput),
      cpuPerRequestRatio: round(sa.cpuUsPerRequest / sb.cpuUsPerRequest),
      requests: sa.n,
    }),
  );
  agent.destroy();
} finally {
  await shutdown();
}
process.exit(0);
