/**
 * A local S3-protocol server for tests, `npm run dev` and benchmarks: path-style addressing, real SigV4
 * verification (headers, presigned URLs, aws-chunked signatures), payload and checksum verification, multipart
 * uploads (including UploadPartCopy, ListParts and Abort) stored without copying part data, and streaming everywhere.
 *
 * @example
 * const s3 = await startS3Server({ buckets: ['uploads'] });
 * const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: DEFAULT_CREDENTIALS });
 * await s3.stop();
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isValidBucketName } from './buckets';
import type { AccessPolicy } from './policy';
import { createRequestHandler } from './server';
import { Store } from './store';

export type { ObjectCreatedEvent } from './attributes';
export type { AccessPolicy } from './policy';

/** Credentials accepted by default. */
export const DEFAULT_CREDENTIALS = {
  accessKeyId: 'citadel-local',
  secretAccessKey: 'citadel-local-secret',
} as const;

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Directory for object and part data. @default a fresh mkdtemp dir under os.tmpdir(), removed on stop() */
  readonly dataDir?: string;
  /** @default 0 (ephemeral port); always bind 127.0.0.1 */
  readonly port?: number;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Accepted credentials. @default [{ accessKeyId: 'citadel-local', secretAccessKey: 'citadel-local-secret' }] */
  readonly credentials?: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }>;
  /** Buckets created at start. */
  readonly buckets?: readonly string[];
  /** Clock for signature expiry and date checks (tests inject). @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Browser CORS: allowed origins (exact match); when set, answer preflights and add Access-Control-* headers,
   * exposing ETag.
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Bucket-policy denies by access key (the scan-tag read gate, the scan-tag write guard, locked buckets), as
   * Citadel's bucket policies deny by role. @default none
   */
  readonly policy?: AccessPolicy;
}

/** A running server. */
export interface S3Server {
  /** e.g. `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly dataDir: string;
  /**
   * Emits `'object-created'` with an {@link ObjectCreatedEvent} (`{ bucket, key, size, etag, tags }`) after
   * PutObject, CompleteMultipartUpload and CopyObject.
   */
  readonly events: EventEmitter;
  /** Introspection for tests: in-progress multipart uploads (bucket, key, uploadId, parts count). */
  multipartUploads(bucket?: string): Array<{ bucket: string; key: string; uploadId: string; parts: number }>;
  /** Closes every connection, waits for in-flight requests, and removes the data directory if it was created. */
  stop(): Promise<void>;
}

/** Starts an S3 server on 127.0.0.1. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
  const credentials = new Map(
    (options.credentials ?? [DEFAULT_CREDENTIALS]).map((c) => [c.accessKeyId, c.secretAccessKey] as const),
  );
  for (const bucket of options.buckets ?? []) {
    if (!isValidBucketName(bucket)) throw new Error(`Invalid bucket name: ${bucket}`);
  }
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'citadel-s3-')));
  const store = await Store.open(dataDir, now);
  for (const bucket of options.buckets ?? []) await store.createBucket(bucket);

  const events = new EventEmitter();
  const handler = createRequestHandler({
    store,
    events,
    region,
    credentials,
    now,
    corsOrigins: options.corsOrigins,
    policy: options.policy,
  });
  const inFlight = new Set<Promise<void>>();
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 10_000 }, (req, res) => {
    const request = handler(req, res);
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await Promise.allSettled([...inFlight]);
    await closed;
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    dataDir,
    events,
    multipartUploads: (bucket) =>
      store
        .listUploads(bucket)
        .map((u) => ({ bucket: u.bucket, key: u.key, uploadId: u.uploadId, parts: u.parts.size })),
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
