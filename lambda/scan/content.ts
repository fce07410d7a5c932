/** Reads what the type check (and, when declared, the SHA-256 check) needs from a scanned object. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { scanS3 as s3, uploadsBucket } from '../uploads/s3';
import { HEAD_BYTES } from './type-check';

export interface Content {
  /** The first bytes of the object (at most `HEAD_BYTES`). */
  readonly head: Uint8Array;
  /** Lower-case hex SHA-256 of the whole object, when it was asked for. */
  readonly sha256?: string;
  /** Bytes read. */
  readonly bytesRead: number;
  /** The object's whole size (from `Content-Range`, or `Content-Length` when it was read whole). */
  readonly objectSize: number;
}

/**
 * The object's leading bytes; with `hash`, the whole object is streamed once (constant memory) to hash
 * it as well. `versionId` pins the read to the version GuardDuty scanned.
 */
export async function readContent(
  key: string,
  versionId: string | undefined,
  hash: boolean,
): Promise<Content> {
  const { Body, ContentRange, ContentLength } = await s3().send(
    new GetObjectCommand({
      Bucket: uploadsBucket(),
      Key: key,
      VersionId: versionId,
      Range: hash ? undefined : `bytes=0-${HEAD_BYTES - 1}`,
    }),
  );
  if (!Body) throw new Error(`S3 returned no body for ${key}`);
  const digest = hash ? createHash('sha256') : undefined;
  const head: Buffer[] = [];
  let kept = 0;
  let bytesRead = 0;
  for await (const chunk of Body as Readable) {
    const bytes = chunk as Buffer;
    bytesRead += bytes.length;
    digest?.update(bytes);
    if (kept < HEAD_BYTES) {
      const take = bytes.subarray(0, HEAD_BYTES - kept);
      head.push(take);
      kept += take.length;
    }
  }
  const total = ContentRange?.match(/\/(\d+)$/)?.[1];
  return {
    head: Buffer.concat(head),
    sha256: digest?.digest('hex'),
    bytesRead,
    objectSize: total !== undefined ? Number(total) : (ContentLength ?? bytesRead),
  };
}
