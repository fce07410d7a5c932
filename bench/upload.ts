/**
 * bench:upload: what Citadel's resumable uploader costs against a plain multipart upload.
 *   (a) Citadel: the client uploader end to end — create → sign part URLs (batched) → parts streamed from
 *       disk to S3 with presigned URLs → complete — against the local API (real handlers, real PostgreSQL)
 *       and the SigV4-verifying S3 server;
 *   (b) baseline: `@aws-sdk/lib-storage`'s `Upload` straight to the same S3 server and bucket, same part size
 *       and `queueSize` = concurrency, reading the same file (a stream), with UNSIGNED-PAYLOAD as it signs
 *       over HTTPS against real S3 (so neither side hashes the payload for SigV4);
 *   (c) raw: the limit — CreateMultipartUpload with the S3 SDK, every UploadPart URL presigned up front the
 *       way Citadel's API presigns them (Content-Length signed), then exactly `concurrency` workers each PUT
 *       a part streamed from disk (`fs.createReadStream` start/end into `http.request` with an explicit
 *       Content-Length, keep-alive sockets), then CompleteMultipartUpload. No retries, progress or hashing.
 * Each upload runs in its own child process, which reports its own timing (upload start → complete) and
 * peak RSS (`process.resourceUsage().maxRSS`). Rounds rotate the order (abc, bca, cab, …). The uploaded
 * object is hashed and compared with the source in the first round of each. Medians per mode. The last line
 * of stdout is one JSON object.
 *
 *   npm run bench:upload                      # 1 GiB, 3 rounds
 *   npm run bench:upload -- --size 3GiB --rounds 2
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { median, round } from './stats';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    child: { type: 'string' },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

interface ChildReport {
  readonly seconds: number;
  readonly maxRssKiB: number;
  /** Citadel: the file id; lib-storage and raw: the object key. */
  readonly ref: string;
}

/** The children's S3 client: the test server, path-style, checksums only when required (as Citadel's API). */
async function benchS3Client() {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint: process.env.BENCH_S3_ENDPOINT,
    region: process.env.BENCH_S3_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.BENCH_S3_KEY as string,
      secretAccessKey: process.env.BENCH_S3_SECRET as string,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * (c) The limit: a multipart upload with every part URL presigned up front (Content-Length signed, as
 * `lambda/uploads/multipart.ts` presigns), then `concurrency` workers PUT the parts streamed from disk.
 */
async function rawUpload(file: string, concurrency: number): Promise<ChildReport> {
  const { createReadStream } = await import('node:fs');
  const { stat } = await import('node:fs/promises');
  const http = (await import('node:http')).default;
  const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } = await import(
    '@aws-sdk/client-s3'
  );
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const { partSizeFor, partCountFor, partBytes, PART_URL_SECONDS } = await import('../contract/api/uploads');
  const { size } = await stat(file);
  const partSize = partSizeFor(size);
  const partCount = partCountFor(size, partSize);
  const Bucket = process.env.BENCH_BUCKET as string;
  const Key = `bench/${randomUUID()}`;
  const s3 = await benchS3Client();
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });

  const put = (url: string, start: number, length: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'PUT', agent, headers: { 'content-length': String(length) } });
      req.once('error', reject);
      req.once('response', (res) => {
        res.resume();
        res.once('end', () => {
          const etag = res.headers.etag;
          if (res.statusCode === 200 && etag) resolve(etag);
          else reject(new Error(`raw: part at ${start} answered ${res.statusCode}`));
        });
      });
      // 256 KiB reads, as the client makes: the limit is set by the transfer, not a smaller read size.
      const body = createReadStream(file, { start, end: start + length - 1, highWaterMark: 256 * 1024 });
      body.once('error', (e) => req.destroy(e));
      body.pipe(req);
    });

  const started = process.hrtime.bigint();
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }),
  );
  const urls = await Promise.all(
    Array.from({ length: partCount }, (_, i) =>
      getSignedUrl(
        s3,
        new UploadPartCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: i + 1,
          ContentLength: partBytes(i + 1, size, partSize),
        }),
        { expiresIn: PART_URL_SECONDS, signableHeaders: new Set(['content-length']) },
      ),
    ),
  );
  const etags: string[] = new Array(partCount);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, partCount) }, async () => {
      for (let i = next++; i < partCount; i = next++) {
        etags[i] = await put(urls[i] as string, i * partSize, partBytes(i + 1, size, partSize));
      }
    }),
  );
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { seconds, maxRssKiB: process.resourceUsage().maxRSS, ref: Key };
}

/** Child mode: one upload, then one JSON line on stdout. Imports only what its side needs. */
async function child(mode: string): Promise<void> {
  const file = process.env.BENCH_FILE as string;
  const concurrency = Number(process.env.BENCH_CONCURRENCY);
  let report: ChildReport;
  if (mode === 'citadel') {
    const { CitadelClient } = await import('../client/client');
    const { uploadFile } = await import('../client/upload');
    const client = new CitadelClient({
      baseUrl: process.env.CITADEL_API_URL as string,
      token: process.env.CITADEL_TOKEN as string,
    });
    const started = process.hrtime.bigint();
    const result = await uploadFile(client, file, {
      concurrency,
      resume: false,
      contentType: 'application/octet-stream',
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    report = { seconds, maxRssKiB: process.resourceUsage().maxRSS, ref: result.id };
  } else if (mode === 'lib-storage') {
    const { createReadStream } = await import('node:fs');
    const { Upload } = await import('@aws-sdk/lib-storage');
    const { partSizeFor } = await import('../contract/api/uploads');
    const { size } = await (await import('node:fs/promises')).stat(file);
    const s3 = await benchS3Client();
    // As over HTTPS against real S3: the payload is not hashed for the signature.
    s3.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'unsignedPayload' },
    );
    const key = `bench/${randomUUID()}`;
    const started = process.hrtime.bigint();
    await new Upload({
      client: s3,
      params: {
        Bucket: process.env.BENCH_BUCKET,
        Key: key,
        Body: createReadStream(file),
        ContentType: 'application/octet-stream',
      },
      partSize: partSizeFor(size),
      queueSize: concurrency,
      leavePartsOnError: false,
    }).done();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    report = { seconds, maxRssKiB: process.resourceUsage().maxRSS, ref: key };
  } else if (mode === 'raw') {
    report = await rawUpload(file, concurrency);
  } else if (mode === 'floor') {
    // Node + tsx, importing the Citadel client and doing nothing: the RSS floor both sides start from.
    await import('../client/client');
    await import('../client/upload');
    report = { seconds: 0, maxRssKiB: process.resourceUsage().maxRSS, ref: '' };
  } else {
    throw new Error(`unknown child mode ${mode}`);
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (values.child) {
  await child(values.child);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------------
// Parent: the local stack, the source file, alternating rounds.

const { parseByteSize } = await import('../client/transfer');
const SIZE = parseByteSize(values.size ?? '1GiB');
const ROUNDS = Math.max(1, Number(values.rounds));
const CONCURRENCY = Math.max(1, Number(values.concurrency));

// The S3 test server warns about listeners when it streams many-part objects (a known quirk, see its io.ts);
// keep stderr for warnings that matter.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'MaxListenersExceededWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// Quiet handlers (their logs would interleave with the figures) and local-only database settings.
Object.assign(process.env, {
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'WARN',
  CITADEL_DB_TLS: 'disable',
});
const { startUploadEnvironment, LOCAL_UPLOADS_BUCKET } = await import('../test/support/uploads');
const { DEFAULT_CREDENTIALS } = await import('../test/support/s3-server');
const { GetObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');

const env = await startUploadEnvironment({ maxUploadBytes: Math.max(SIZE, 64 * MiB) });
const work = await mkdtemp(path.join(tmpdir(), 'citadel-bench-upload-'));
const source = path.join(work, 'source.bin');

const shutdown = async () => {
  await rm(work, { recursive: true, force: true });
  await env.stop();
};

/** Writes SIZE random bytes and returns their SHA-256. */
async function writeSource(): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(source, 'w');
  try {
    for (let written = 0; written < SIZE; ) {
      const chunk = randomBytes(Math.min(4 * MiB, SIZE - written));
      hash.update(chunk);
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function objectSha256(key: string): Promise<string> {
  const { Body } = await env.uploads.s3.send(
    new GetObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: key }),
  );
  const hash = createHash('sha256');
  for await (const chunk of Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function runChild(mode: string, extraEnv: Record<string, string>): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/upload.ts'), '--child', mode],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          NODE_ENV: 'production',
          NODE_NO_WARNINGS: '1',
          BENCH_FILE: source,
          BENCH_CONCURRENCY: String(CONCURRENCY),
          ...extraEnv,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.once('error', reject);
    proc.once('close', (code) => {
      if (code !== 0) return reject(new Error(`${mode} child exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as ChildReport);
    });
  });
}

try {
  process.stderr.write(`bench:upload — writing ${round(SIZE / MiB, 0)} MiB of random bytes…\n`);
  const expected = await writeSource();
  const token = await env.token('user', 'bench');
  const citadelEnv = { CITADEL_API_URL: env.url, CITADEL_TOKEN: token };
  const baselineEnv = {
    BENCH_S3_ENDPOINT: env.s3Server.endpoint,
    BENCH_S3_REGION: env.s3Server.region,
    BENCH_S3_KEY: DEFAULT_CREDENTIALS.accessKeyId,
    BENCH_S3_SECRET: DEFAULT_CREDENTIALS.secretAccessKey,
    BENCH_BUCKET: LOCAL_UPLOADS_BUCKET,
  };
  const floor = await runChild('floor', {});

  const results = { citadel: [] as ChildReport[], libStorage: [] as ChildReport[], raw: [] as ChildReport[] };
  const verified = { citadel: false, libStorage: false, raw: false };
  const runCitadel = async (first: boolean) => {
    const r = await runChild('citadel', citadelEnv);
    results.citadel.push(r);
    await env.uploads.guardDuty.idle(); // the simulated scan reads the object; let it finish first
    const [row] = await env.sql<{ object_key: string; state: string }>(
      'SELECT object_key, state FROM citadel.files WHERE id = $1',
      [r.ref],
    );
    if (first) {
      if ((await objectSha256(row?.object_key as string)) !== expected)
        throw new Error('Citadel: the stored object differs from the source');
      verified.citadel = true;
    }
    await fetch(`${env.url}/v1/files/${r.ref}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    return r;
  };
  /** (b) and (c): the object lands straight in the bucket under the key the child reports. */
  const runDirect = async (mode: 'lib-storage' | 'raw', into: ChildReport[], first: boolean) => {
    const r = await runChild(mode, baselineEnv);
    into.push(r);
    if (first) {
      if ((await objectSha256(r.ref)) !== expected)
        throw new Error(`${mode}: the stored object differs from the source`);
      if (mode === 'raw') verified.raw = true;
      else verified.libStorage = true;
    }
    await env.uploads.s3.send(new DeleteObjectCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: r.ref }));
    return r;
  };
  const modes = {
    a: { label: '(a) citadel', run: runCitadel },
    b: {
      label: '(b) lib-storage',
      run: (first: boolean) => runDirect('lib-storage', results.libStorage, first),
    },
    c: { label: '(c) raw', run: (first: boolean) => runDirect('raw', results.raw, first) },
  } as const;
  const mibps = (r: ChildReport) => SIZE / MiB / r.seconds;
  const line = (name: string, r: ChildReport) =>
    `  ${name.padEnd(16)} ${r.seconds.toFixed(2).padStart(8)} s ${mibps(r).toFixed(1).padStart(8)} MiB/s   peak RSS ${(r.maxRssKiB / 1024).toFixed(0).padStart(5)} MiB`;

  console.log(
    `bench:upload — ${round(SIZE / MiB, 0)} MiB, part size ${(await import('../contract/api/uploads')).partSizeFor(SIZE) / MiB} MiB, concurrency ${CONCURRENCY}, ${ROUNDS} rounds in rotating order`,
  );
  console.log(
    '(b) lib-storage: @aws-sdk/lib-storage Upload straight to the same S3 server, same part size and queueSize',
  );
  console.log(
    '(c) raw: parts PUT to presigned URLs (all signed up front) by `concurrency` workers, no retries/progress',
  );
  console.log(
    `floor: node + tsx + the Citadel client imported, idle: peak RSS ${(floor.maxRssKiB / 1024).toFixed(0)} MiB`,
  );
  const rotation = ['a', 'b', 'c'] as const;
  for (let i = 0; i < ROUNDS; i++) {
    console.log(`round ${i + 1}`);
    for (let j = 0; j < rotation.length; j++) {
      const mode = modes[rotation[(i + j) % rotation.length] as keyof typeof modes];
      console.log(line(mode.label, await mode.run(i === 0)));
    }
  }
  const a = median(results.citadel.map(mibps));
  const b = median(results.libStorage.map(mibps));
  const c = median(results.raw.map(mibps));
  const peak = (rs: ChildReport[]) => Math.max(...rs.map((r) => r.maxRssKiB)) / 1024;
  const rssA = peak(results.citadel);
  const rssB = peak(results.libStorage);
  const rssC = peak(results.raw);
  const allVerified = verified.citadel && verified.libStorage && verified.raw;
  const row = (name: string, v: number, rss: number) =>
    `  ${name.padEnd(16)} ${v.toFixed(1).padStart(8)} MiB/s ${(v / b).toFixed(2).padStart(9)}× ${(v / c).toFixed(2).padStart(9)}×   peak RSS ${rss.toFixed(0).padStart(5)} MiB`;
  console.log(`median over ${ROUNDS} rounds     throughput   vs (b)    vs (c)`);
  console.log(row('(a) citadel', a, rssA));
  console.log(row('(b) lib-storage', b, rssB));
  console.log(row('(c) raw', c, rssC));
  console.log(`objects verified by SHA-256: ${allVerified}`);
  console.log(
    JSON.stringify({
      sizeMiB: round(SIZE / MiB, 0),
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      citadelMiBps: round(a, 1),
      libStorageMiBps: round(b, 1),
      rawMiBps: round(c, 1),
      throughputVsLibStorage: round(a / b),
      throughputVsRaw: round(a / c),
      clientPeakRssMiB: round(rssA, 0),
      libStoragePeakRssMiB: round(rssB, 0),
      rawPeakRssMiB: round(rssC, 0),
      nodeFloorRssMiB: round(floor.maxRssKiB / 1024, 0),
      verified: allVerified,
    }),
  );
} finally {
  await shutdown();
}
process.exit(0);
