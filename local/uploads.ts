/**
 * LOCAL — `npm run dev`, the tests and the benchmarks. Points the upload routes and the scan pipeline at
 * the local S3 server and runs the GuardDuty simulator in front of the pipeline, as AWS wires them:
 * object created → scan → tag → `Object Scan Result` event → scan Lambda. Lambdas never load this module.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { ScanResultStatus } from '../contract/scan';
import { processScanResult } from '../lambda/scan/pipeline';
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
    stop: () => {
      guardDuty.stop();
      s3.destroy();
    },
  };
}
