/** The S3 side of uploads: one client per container, configured for presigning, and the bucket settings. */
import { S3Client } from '@aws-sdk/client-s3';
import { traced } from '../shared/powertools';

let client: S3Client | undefined;
let scanClient: S3Client | undefined;

const newClient = (credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client => {
  const endpoint = process.env.CITADEL_S3_ENDPOINT;
  return traced(
    new S3Client({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      ...(credentials ? { credentials } : {}),
    }),
  );
};

/**
 * The container's S3 client. Checksums only when S3 requires them: the SDK's default CRC32 would be baked
 * into presigned UploadPart URLs as the checksum of an empty body and fail every real upload.
 * `CITADEL_S3_ENDPOINT` points it at the local S3 server (path-style) for `npm run dev` and the tests.
 */
export function s3(): S3Client {
  client ??= newClient();
  return client;
}

/**
 * The scan pipeline's client: in AWS the same as {@link s3} (the scan Lambda has its own role, which the bucket
 * policy exempts from the scan-tag read gate). Locally every function runs in one process, so with the local S3
 * server `CITADEL_S3_SCAN_ACCESS_KEY_ID` / `CITADEL_S3_SCAN_SECRET_ACCESS_KEY` give the pipeline the key the
 * server exempts, as the policy exempts the role; the API routes keep the gated key.
 */
export function scanS3(): S3Client {
  const accessKeyId = process.env.CITADEL_S3_SCAN_ACCESS_KEY_ID;
  const secretAccessKey = process.env.CITADEL_S3_SCAN_SECRET_ACCESS_KEY;
  if (!process.env.CITADEL_S3_ENDPOINT || !accessKeyId || !secretAccessKey) return s3();
  scanClient ??= newClient({ accessKeyId, secretAccessKey });
  return scanClient;
}

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export const uploadsBucket = (): string => required('CITADEL_UPLOADS_BUCKET');
export const quarantineBucket = (): string => required('CITADEL_QUARANTINE_BUCKET');
/** SSE-KMS key of the uploads bucket (absent locally, where the test server has no KMS). */
export const uploadsKey = (): string | undefined => process.env.CITADEL_UPLOADS_KEY_ARN;

/** Stage limits the Api stack passes from `config.uploads`. */
export const maxUploadBytes = (): number => Number(process.env.CITADEL_MAX_UPLOAD_BYTES ?? 5 * 1024 ** 3);
let allowed: { from: string; types: ReadonlySet<string> } | undefined;
export function allowedContentTypes(): ReadonlySet<string> {
  const from = process.env.CITADEL_ALLOWED_TYPES ?? '';
  if (allowed?.from !== from) allowed = { from, types: new Set(from.split(',').filter(Boolean)) };
  return allowed.types;
}

/** S3 error names the SDK reports for a missing upload or object. */
export const isNoSuchUpload = (e: unknown): boolean => (e as { name?: string }).name === 'NoSuchUpload';
export const isNoSuchKey = (e: unknown): boolean =>
  ['NoSuchKey', 'NotFound'].includes((e as { name?: string }).name ?? '');
