/**
 * LOCAL — `npm run dev`, the tests and the benchmarks. Points the upload routes and the scan pipeline at
 * the local S3 server and runs the GuardDuty simulator in front of the pipeline, as AWS wires them:
 * object created → scan → tag → `Object Scan Result` event → scan Lambda. Lambdas never load this module.
 */

import { randomUUID } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { ScanResultStatus } from '../contract/scan';
import { processObjectCreated, processScanResult } from '../lambda/scan/pipeline';
import { DEFAULT_CREDENTIALS, type S3Server } from '../test/support/s3-server';
import { type GuardDutySimulator, type ObjectCreated, startGuardDutySimulator } from './guardduty-simulator';

export const LOCAL_UPLOADS_BUCKET = 'citadel-local-uploads';
export const LOCAL_QUARANTINE_BUCKET = 'citadel-local-quarantine';
export const LOCAL_BUCKETS = [LOCAL_UPLOADS_BUCKET, LOCAL_QUARANTINE_BUCKET] as const;

export interface LocalUploadsOptions {
  /** Largest declared upload (bytes). */
  readonly maxUploadBytes: number;
  readonly allowedContentTypes: readonly string[];
  /** Forces GuardDuty's verdict for some objects (tests). */
  readonly verdict?: (object: ObjectCreated, bytes: Buffer) => ScanResultStatus | undefined;
  readonly onScanError?: (error: unknown, object: ObjectCreated) => void;
}

export interface LocalUploads {
  /** A client of the local S3 server with the accepted credentials. */
  readonly s3: S3Client;
  readonly guardDuty: GuardDutySimulator;
  /** Resolves when every object-created delivery and every scan started so far has finished. */
  idle(): Promise<void>;
  /** Holds S3's events and GuardDuty's scans (as slow delivery would) until `resume()`. */
  pause(): void;
  resume(): void;
  stop(): void;
}

/** Sets the upload environment for this process and starts the simulated scan pipeline. */
export function startLocalUploads(server: S3Server, options: LocalUploadsOptions): LocalUploads {
  Object.assign(process.env, {
    CITADEL_S3_ENDPOINT: server.endpoint,
    AWS_REGION: server.region,
    AWS_ACCESS_KEY_ID: DEFAULT_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DEFAULT_CREDENTIALS.secretAccessKey,
    CITADEL_UPLOADS_BUCKET: LOCAL_UPLOADS_BUCKET,
    CITADEL_QUARANTINE_BUCKET: LOCAL_QUARANTINE_BUCKET,
    CITADEL_MAX_UPLOAD_BYTES: String(options.maxUploadBytes),
    CITADEL_ALLOWED_TYPES: options.allowedContentTypes.join(','),
  });
  const s3 = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: DEFAULT_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
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
    s3,
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
    },
  };
}
