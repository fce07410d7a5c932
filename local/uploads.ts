/**
 * LOCAL — `npm run dev`, the tests and the benchmarks. Points the upload routes and the scan pipeline at
 * the local S3 server and runs the GuardDuty simulator in front of the pipeline, as AWS wires them:
 * object created → scan → tag → `Object Scan Result` event → scan Lambda. Lambdas never load this module.
 */

import { randomUUID } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { SCAN_CLEAN, SCAN_STATUS_TAG, type ScanResultStatus } from '../contract/scan';
import { processObjectCreated, processScanResult } from '../lambda/scan/pipeline';
import {
  type AccessPolicy,
  DEFAULT_CREDENTIALS,
  type S3Server,
  type S3ServerOptions,
  startS3Server,
} from '../test/support/s3-server';
import { type GuardDutySimulator, type ObjectCreated, startGuardDutySimulator } from './guardduty-simulator';

export const LOCAL_UPLOADS_BUCKET = 'citadel-local-uploads';
export const LOCAL_QUARANTINE_BUCKET = 'citadel-local-quarantine';
export const LOCAL_BUCKETS = [LOCAL_UPLOADS_BUCKET, LOCAL_QUARANTINE_BUCKET] as const;

/**
 * The local principals, one key each, standing for the roles the bucket policies name: the API's functions
 * (and a developer using the printed local keys), the scan pipeline's role, GuardDuty's role, and break-glass
 * (the tests' and the developer's inspection client).
 */
export const LOCAL_PRINCIPALS = {
  api: DEFAULT_CREDENTIALS,
  scan: { accessKeyId: 'citadel-local-scan', secretAccessKey: 'citadel-local-scan-secret' },
  guardDuty: { accessKeyId: 'citadel-local-guardduty', secretAccessKey: 'citadel-local-guardduty-secret' },
  breakGlass: {
    accessKeyId: 'citadel-local-break-glass',
    secretAccessKey: 'citadel-local-break-glass-secret',
  },
} as const;

/**
 * The uploads and quarantine buckets' policies (`ScannedUploadBucket`), by local key: reads of uploads are
 * denied until GuardDuty tagged them clean (GuardDuty and the scan pipeline exempt), only GuardDuty writes the
 * scan tag, and quarantine is readable by break-glass only. Break-glass also stands in for an operator
 * inspecting the buckets, so it may read any upload.
 */
export const LOCAL_S3_POLICY: AccessPolicy = {
  scanGate: {
    bucket: LOCAL_UPLOADS_BUCKET,
    prefix: 'uploads/',
    tag: SCAN_STATUS_TAG,
    value: SCAN_CLEAN,
    exempt: [
      LOCAL_PRINCIPALS.guardDuty.accessKeyId,
      LOCAL_PRINCIPALS.scan.accessKeyId,
      LOCAL_PRINCIPALS.breakGlass.accessKeyId,
    ],
  },
  tagGuard: {
    bucket: LOCAL_UPLOADS_BUCKET,
    tag: SCAN_STATUS_TAG,
    writers: [LOCAL_PRINCIPALS.guardDuty.accessKeyId, LOCAL_PRINCIPALS.breakGlass.accessKeyId],
  },
  lockedBuckets: [{ bucket: LOCAL_QUARANTINE_BUCKET, readers: [LOCAL_PRINCIPALS.breakGlass.accessKeyId] }],
};

/** The S3 test server as Citadel's buckets behave: both buckets, every local principal, the bucket policies. */
export function startLocalS3Server(
  options: Omit<S3ServerOptions, 'buckets' | 'credentials' | 'policy'> = {},
) {
  return startS3Server({
    ...options,
    buckets: [...LOCAL_BUCKETS],
    credentials: Object.values(LOCAL_PRINCIPALS),
    policy: LOCAL_S3_POLICY,
  });
}

const clientFor = (server: S3Server, credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

export interface LocalUploadsOptions {
  /** Largest declared upload (bytes). */
  readonly maxUploadBytes: number;
  readonly allowedContentTypes: readonly string[];
  /** Forces GuardDuty's verdict for some objects (tests). */
  readonly verdict?: (object: ObjectCreated, bytes: Buffer) => ScanResultStatus | undefined;
  readonly onScanError?: (error: unknown, object: ObjectCreated) => void;
}

export interface LocalUploads {
  /** A break-glass client of the local S3 server: reads and tags anything (tests inspect with it). */
  readonly s3: S3Client;
  readonly guardDuty: GuardDutySimulator;
  /** Resolves when every object-created delivery and every scan started so far has finished. */
  idle(): Promise<void>;
  /** Holds S3's events and GuardDuty's scans (as slow delivery would) until `resume()`. */
  pause(): void;
  resume(): void;
  stop(): void;
}

/**
 * Sets the upload environment for this process and starts the simulated scan pipeline. `server` should be
 * {@link startLocalS3Server}'s (every local principal's key; the bucket policies).
 */
export function startLocalUploads(server: S3Server, options: LocalUploadsOptions): LocalUploads {
  Object.assign(process.env, {
    CITADEL_S3_ENDPOINT: server.endpoint,
    AWS_REGION: server.region,
    AWS_ACCESS_KEY_ID: LOCAL_PRINCIPALS.api.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_PRINCIPALS.api.secretAccessKey,
    CITADEL_S3_SCAN_ACCESS_KEY_ID: LOCAL_PRINCIPALS.scan.accessKeyId,
    CITADEL_S3_SCAN_SECRET_ACCESS_KEY: LOCAL_PRINCIPALS.scan.secretAccessKey,
    CITADEL_UPLOADS_BUCKET: LOCAL_UPLOADS_BUCKET,
    CITADEL_QUARANTINE_BUCKET: LOCAL_QUARANTINE_BUCKET,
    CITADEL_MAX_UPLOAD_BYTES: String(options.maxUploadBytes),
    CITADEL_ALLOWED_TYPES: options.allowedContentTypes.join(','),
  });
  const s3 = clientFor(server, LOCAL_PRINCIPALS.breakGlass);
  const guardDutyS3 = clientFor(server, LOCAL_PRINCIPALS.guardDuty);
  // S3 → EventBridge `Object Created` → the pipeline, as the bucket's EventBridge notifications do.
  const deliveries = new Set<Promise<unknown>>();
  let held: ObjectCreated[] | undefined;
  const deliver = (object: ObjectCreated) => {
    const run = processObjectCreated({
      id: randomUUID(),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      detail: {
        bucket: { name: object.bucket },
        object: { key: object.key, size: object.size, etag: object.etag },
      },
    })
      .catch((error) => options.onScanError?.(error, object))
      .finally(() => deliveries.delete(run));
    deliveries.add(run);
  };
  const objectCreated = (object: ObjectCreated) => {
    if (object.bucket !== LOCAL_UPLOADS_BUCKET || !object.key.startsWith('uploads/')) return;
    if (held) held.push(object);
    else deliver(object);
  };
  server.events.on('object-created', objectCreated);
  const guardDuty = startGuardDutySimulator({
    events: server.events,
    s3: guardDutyS3,
    bucket: LOCAL_UPLOADS_BUCKET,
    deliver: processScanResult,
    verdict: options.verdict,
    onError: options.onScanError,
  });
  return {
    s3,
    guardDuty,
    pause() {
      held ??= [];
      guardDuty.pause();
    },
    resume() {
      const queued = held ?? [];
      held = undefined;
      for (const object of queued) deliver(object);
      guardDuty.resume();
    },
    async idle() {
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
      await guardDuty.idle();
    },
    stop: () => {
      server.events.off('object-created', objectCreated);
      guardDuty.stop();
      s3.destroy();
      guardDutyS3.destroy();
    },
  };
}
