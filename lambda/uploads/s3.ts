/** The S3 side of uploads: one client per container, configured for presigning, and the bucket settings. */
import { S3Client } from '@aws-sdk/client-s3';
import { traced } from '../shared/powertools';

let client: S3Client | undefined;

/**
 * The container's S3 client. Checksums only when S3 requires them: the SDK's default CRC32 would be baked
 * into presigned UploadPart URLs as the checksum of an empty body and fail every real upload.
 * `CITADEL_S3_ENDPOINT` points it at the local S3 server (path-style) for `npm run dev` and the tests.
 */
export function s3(): S3Client {
  const endpoint = process.env.CITADEL_S3_ENDPOINT;
  client ??= traced(
    new S3Client({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    }),
  );
  return client;
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
