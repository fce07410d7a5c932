/** Moves an object out of the uploads bucket into quarantine, where only break-glass can read it. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { quarantineBucket, scanS3 as s3, uploadsBucket } from '../uploads/s3';

/** CopyObject copies at most 5 GiB; larger objects are copied in 1 GiB ranges. */
const COPY_LIMITS = { single: 5 * 1024 ** 3, part: 1024 ** 3 };

const encryption = () => {
  const key = process.env.CITADEL_QUARANTINE_KEY_ARN;
  return key ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: key, BucketKeyEnabled: true } : {};
};

/**
 * Copies `key` (exactly `versionId`, when known) into quarantine under the same key with its tags, then
 * deletes that version from the uploads bucket for good. A failure before the delete leaves the original
 * in place (still unreadable: it carries no clean tag); the event is retried.
 */
export async function quarantine(
  key: string,
  size: number,
  versionId?: string,
  limits: { single: number; part: number } = COPY_LIMITS,
): Promise<void> {
  const source = `${uploadsBucket()}/${key.split('/').map(encodeURIComponent).join('/')}${versionId ? `?versionId=${encodeURIComponent(versionId)}` : ''}`;
  if (size <= limits.single) {
    await s3().send(
      new CopyObjectCommand({
        Bucket: quarantineBucket(),
        Key: key,
        CopySource: source,
        TaggingDirective: 'COPY',
        MetadataDirective: 'COPY',
        ...encryption(),
      }),
    );
  } else {
    await multipartCopy(key, source, size, limits.part);
  }
  await s3().send(
    new DeleteObjectCommand({
      Bucket: uploadsBucket(),
      Key: key,
      ...(versionId ? { VersionId: versionId } : {}),
    }),
  );
}

async function multipartCopy(key: string, source: string, size: number, partBytes: number): Promise<void> {
  const { UploadId } = await s3().send(
    new CreateMultipartUploadCommand({ Bucket: quarantineBucket(), Key: key, ...encryption() }),
  );
  try {
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (let start = 0, n = 1; start < size; start += partBytes, n++) {
      const end = Math.min(start + partBytes, size) - 1;
      const { CopyPartResult } = await s3().send(
        new UploadPartCopyCommand({
          Bucket: quarantineBucket(),
          Key: key,
          UploadId,
          PartNumber: n,
          CopySource: source,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      parts.push({ PartNumber: n, ETag: CopyPartResult?.ETag ?? '' });
    }
    await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: quarantineBucket(),
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    await s3()
      .send(new AbortMultipartUploadCommand({ Bucket: quarantineBucket(), Key: key, UploadId }))
      .catch(() => undefined);
    throw error;
  }
}
