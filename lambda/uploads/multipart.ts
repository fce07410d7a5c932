/** S3 multipart operations the upload routes share. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DOWNLOAD_URL_SECONDS, PART_URL_SECONDS } from '../../contract/api/uploads';
import { isNoSuchUpload, s3, uploadsBucket, uploadsKey } from './s3';

export interface StoredPart {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
}

/** Starts a multipart upload, encrypted with the bucket's KMS key. */
export async function createMultipart(key: string, contentType: string, fileId: string): Promise<string> {
  const kms = uploadsKey();
  const { UploadId } = await s3().send(
    new CreateMultipartUploadCommand({
      Bucket: uploadsBucket(),
      Key: key,
      ContentType: contentType,
      Metadata: { 'citadel-file-id': fileId },
      ...(kms ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kms, BucketKeyEnabled: true } : {}),
    }),
  );
  if (!UploadId) throw new Error('S3 returned no upload id');
  return UploadId;
}

/**
 * A presigned UploadPart URL valid for 15 minutes. `Content-Length` is a signed header, so S3 refuses a
 * body of any other size: parts cannot be larger (or smaller) than the API decided.
 */
export function presignPart(
  key: string,
  uploadId: string,
  partNumber: number,
  size: number,
): Promise<string> {
  return getSignedUrl(
    s3(),
    new UploadPartCommand({
      Bucket: uploadsBucket(),
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      ContentLength: size,
    }),
    { expiresIn: PART_URL_SECONDS, signableHeaders: new Set(['content-length']) },
  );
}

/**
 * Whether S3 holds a multipart upload `uploadId` of the object `key`: ListParts (one part's worth) answers
 * `NoSuchUpload` for an id S3 never issued, one it finished or aborted, and one issued for another key.
 */
export async function multipartExists(key: string, uploadId: string): Promise<boolean> {
  try {
    await s3().send(
      new ListPartsCommand({ Bucket: uploadsBucket(), Key: key, UploadId: uploadId, MaxParts: 1 }),
    );
    return true;
  } catch (error) {
    if (isNoSuchUpload(error)) return false;
    throw error;
  }
}

/** Every part S3 holds for the upload (ListParts, all pages); `undefined` when the upload no longer exists. */
export async function listAllParts(key: string, uploadId: string): Promise<StoredPart[] | undefined> {
  const parts: StoredPart[] = [];
  let marker: string | undefined;
  try {
    for (;;) {
      const page = await s3().send(
        new ListPartsCommand({
          Bucket: uploadsBucket(),
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: marker,
        }),
      );
      for (const p of page.Parts ?? []) {
        if (p.PartNumber !== undefined && p.ETag)
          parts.push({ partNumber: p.PartNumber, size: p.Size ?? 0, etag: p.ETag });
      }
      if (!page.IsTruncated || !page.NextPartNumberMarker) break;
      marker = page.NextPartNumberMarker;
    }
  } catch (error) {
    if (isNoSuchUpload(error)) return undefined;
    throw error;
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

export async function completeMultipart(
  key: string,
  uploadId: string,
  parts: readonly StoredPart[],
): Promise<void> {
  await s3().send(
    new CompleteMultipartUploadCommand({
      Bucket: uploadsBucket(),
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
    }),
  );
}

/** Aborts the upload; S3 drops every stored part. Aborting an upload that is gone is not an error. */
export async function abortMultipart(key: string, uploadId: string): Promise<void> {
  try {
    await s3().send(
      new AbortMultipartUploadCommand({ Bucket: uploadsBucket(), Key: key, UploadId: uploadId }),
    );
  } catch (error) {
    if (!isNoSuchUpload(error)) throw error;
  }
}

/** A 5-minute presigned GET that downloads as an attachment under `disposition`. */
export function presignDownload(key: string, disposition: string, contentType: string): Promise<string> {
  return getSignedUrl(
    s3(),
    new GetObjectCommand({
      Bucket: uploadsBucket(),
      Key: key,
      ResponseContentDisposition: disposition,
      ResponseContentType: contentType,
    }),
    { expiresIn: DOWNLOAD_URL_SECONDS },
  );
}

/**
 * The size of the object at `key`, or `undefined` when there is none. Listed rather than HEADed: reads of
 * unscanned objects are denied by the bucket policy, listing is not.
 */
export async function storedObjectSize(key: string): Promise<number | undefined> {
  const page = await s3().send(
    new ListObjectsV2Command({ Bucket: uploadsBucket(), Prefix: key, MaxKeys: 1 }),
  );
  const found = page.Contents?.find((o) => o.Key === key);
  return found ? (found.Size ?? 0) : undefined;
}

/** Deletes the current version (a delete marker in the versioned bucket; old versions expire by lifecycle). */
export async function deleteObject(key: string): Promise<void> {
  await s3().send(new DeleteObjectCommand({ Bucket: uploadsBucket(), Key: key }));
}

/**
 * Presigned requests the browser sends to S3 itself (Uppy 6). Each is signed for 15 minutes and, where the
 * body is the file, for its exact Content-Length; Content-Type is signed where the object takes it. The
 * bucket's default SSE-KMS encryption applies, so no encryption header has to travel with them.
 */
export const presignBrowser = {
  create: (key: string, contentType: string) =>
    getSignedUrl(
      s3(),
      new CreateMultipartUploadCommand({ Bucket: uploadsBucket(), Key: key, ContentType: contentType }),
      {
        expiresIn: PART_URL_SECONDS,
        signableHeaders: new Set(['content-type']),
      },
    ),
  put: (key: string, contentType: string, size: number) =>
    getSignedUrl(
      s3(),
      new PutObjectCommand({
        Bucket: uploadsBucket(),
        Key: key,
        ContentType: contentType,
        ContentLength: size,
        // Create-only: the URL lives 15 minutes and could be used again, but never over a scanned object.
        IfNoneMatch: '*',
      }),
      {
        expiresIn: PART_URL_SECONDS,
        signableHeaders: new Set(['content-type', 'content-length', 'if-none-match']),
      },
    ),
  list: (key: string, uploadId: string) =>
    getSignedUrl(s3(), new ListPartsCommand({ Bucket: uploadsBucket(), Key: key, UploadId: uploadId }), {
      expiresIn: PART_URL_SECONDS,
    }),
  complete: (key: string, uploadId: string) =>
    getSignedUrl(
      s3(),
      new CompleteMultipartUploadCommand({ Bucket: uploadsBucket(), Key: key, UploadId: uploadId }),
      {
        expiresIn: PART_URL_SECONDS,
      },
    ),
  abort: (key: string, uploadId: string) =>
    getSignedUrl(
      s3(),
      new AbortMultipartUploadCommand({ Bucket: uploadsBucket(), Key: key, UploadId: uploadId }),
      {
        expiresIn: PART_URL_SECONDS,
      },
    ),
};
