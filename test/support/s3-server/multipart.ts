/**
 * Multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
 * CompleteMultipartUpload, AbortMultipartUpload and ListMultipartUploads, with S3's validation rules at completion
 * (ascending part order, known parts with matching ETags, every part but the last at least 5 MiB).
 */
import { createHash } from 'node:crypto';
import {
  emitCreated,
  encryptionHeaders,
  MAX_PUT_SIZE,
  OWNER,
  requestAttributes,
  validateKey,
} from './attributes';
import { checksumElement, checksumHeader } from './checksums';
import type { RequestContext, Services } from './context';
import { errors, S3Error } from './errors';
import { copyToFile, receiveText, receiveToFile } from './io';
import { resolveCopySource } from './objects';
import { checkTagWrite } from './policy';
import { uriEncode } from './sigv4';
import { type CompletionPlan, compareKeys, type PartRecord, type UploadRecord } from './store';
import { type CompletedPartInput, parseCompleteMultipartUpload, xmlDocument } from './xml';

/** Smallest size of every part but the last: 5 MiB. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Highest part number. */
export const MAX_PART_NUMBER = 10_000;

function target(ctx: RequestContext): { bucket: string; key: string; uploadId: string } {
  return { bucket: ctx.bucketName, key: ctx.objectKey, uploadId: ctx.param('uploadId') ?? '' };
}

function requireUpload(ctx: RequestContext, services: Services): UploadRecord {
  const { bucket, key, uploadId } = target(ctx);
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const upload = services.store.getUpload(uploadId, bucket, key);
  if (!upload) throw errors.noSuchUpload(uploadId);
  return upload;
}

function integerParam(ctx: RequestContext, name: string, fallback: number, max: number): number {
  const raw = ctx.param(name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw))
    throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  return Math.min(Number(raw), max);
}

/** POST /bucket/key?uploads */
export async function createMultipartUpload(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  validateKey(key);
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const attributes = requestAttributes(ctx);
  checkTagWrite(ctx, services.policy, bucket, attributes.tags);
  const upload = await services.store.createUpload(bucket, key, attributes);
  ctx.sendXml(
    200,
    xmlDocument('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: upload.uploadId }),
    encryptionHeaders(upload.attributes),
  );
}

function partNumberParam(ctx: RequestContext): number {
  const raw = ctx.param('partNumber') ?? '';
  const partNumber = /^\d{1,5}$/.test(raw) ? Number(raw) : 0;
  if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw errors.invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      raw,
    );
  }
  return partNumber;
}

/** PUT /bucket/key?partNumber=N&uploadId=ID */
export async function uploadPart(ctx: RequestContext, services: Services): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const upload = requireUpload(ctx, services);
  const body = await receiveToFile(ctx, services);
  const part = await services.store.putPart(upload, partNumber, body.path, {
    size: body.size,
    etag: `"${body.md5Hex}"`,
    checksum: body.checksum,
  });
  ctx.send(200, {
    ETag: part.etag,
    ...encryptionHeaders(upload.attributes),
    ...(part.checksum ? { [checksumHeader(part.checksum.algorithm)]: part.checksum.value } : {}),
  });
}

const COPY_RANGE_HEADER = 'x-amz-copy-source-range';

/** An inclusive byte range of a copy source. */
export interface CopyRange {
  readonly first: number;
  readonly last: number;
}

/**
 * Parses `x-amz-copy-source-range`. Unlike GET's `Range`, only the exact form `bytes=first-last` (inclusive,
 * first ≤ last) is accepted; anything else is InvalidArgument, as in S3. The range is checked against the source's
 * size separately ({@link copyRangeWithin}).
 */
export function parseCopyRange(header: string | undefined): CopyRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header);
  const range = m ? { first: Number(m[1]), last: Number(m[2]) } : undefined;
  if (!range || range.first > range.last) {
    throw errors.invalidArgument(
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      COPY_RANGE_HEADER,
      header,
    );
  }
  return range;
}

/**
 * The bytes of a copy source that UploadPartCopy copies: the requested range, which must lie within the source
 * (S3 answers InvalidArgument otherwise), or the whole source, which may then be at most 5 GiB.
 */
export function copyRangeWithin(range: CopyRange | undefined, sourceSize: number, header = ''): CopyRange {
  if (range === undefined) {
    if (sourceSize > MAX_PUT_SIZE) {
      throw errors.invalidRequest(
        `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_SIZE}`,
      );
    }
    return { first: 0, last: sourceSize - 1 };
  }
  if (range.last >= sourceSize) {
    throw errors.invalidArgument(
      `Range specified is not valid for source object of size: ${sourceSize}`,
      COPY_RANGE_HEADER,
      header,
    );
  }
  if (range.last - range.first + 1 > MAX_PUT_SIZE) {
    throw errors.invalidRequest(
      `The specified copy range is larger than the maximum allowable size for a part: ${MAX_PUT_SIZE}`,
    );
  }
  return range;
}

/**
 * PUT /bucket/key?partNumber=N&uploadId=ID with `x-amz-copy-source` (UploadPartCopy). The source bytes are streamed
 * into a temporary file and stored like an uploaded part, so the part's ETag is their MD5 and completion treats it
 * like any other part. `?versionId=` in the copy source is ignored (see {@link resolveCopySource}).
 */
export async function uploadPartCopy(ctx: RequestContext, services: Services): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const rangeHeader = ctx.header(COPY_RANGE_HEADER);
  const requested = parseCopyRange(rangeHeader);
  const upload = requireUpload(ctx, services);
  const source = resolveCopySource(ctx, services);
  const { first, last } = copyRangeWithin(requested, source.record.size, rangeHeader);
  const copied = await copyToFile(services, source.bucket, source.record, first, last);
  const part = await services.store.putPart(upload, partNumber, copied.path, {
    size: copied.size,
    etag: `"${copied.md5Hex}"`,
  });
  ctx.sendXml(
    200,
    xmlDocument('CopyPartResult', { ETag: part.etag, LastModified: new Date(part.lastModified) }),
    encryptionHeaders(upload.attributes),
  );
}

function partElement(part: PartRecord) {
  return {
    PartNumber: part.partNumber,
    LastModified: new Date(part.lastModified),
    ETag: part.etag,
    Size: part.size,
    ...(part.checksum ? { [checksumElement(part.checksum.algorithm)]: part.checksum.value } : {}),
  };
}

/** GET /bucket/key?uploadId=ID (with `max-parts` and `part-number-marker`) */
export async function listParts(ctx: RequestContext, services: Services): Promise<void> {
  const upload = requireUpload(ctx, services);
  const maxParts = integerParam(ctx, 'max-parts', 1000, 1000);
  const marker = integerParam(ctx, 'part-number-marker', 0, Number.MAX_SAFE_INTEGER);
  const after = [...upload.parts.values()]
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  ctx.sendXml(
    200,
    xmlDocument('ListPartsResult', {
      Bucket: upload.bucket,
      Key: upload.key,
      UploadId: upload.uploadId,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: page.map(partElement),
    }),
  );
}

const normalizeEtag = (etag: string) => etag.replace(/"/g, '').trim().toLowerCase();

function invalidPart(upload: UploadRecord, requested: CompletedPartInput): S3Error {
  return new S3Error(
    'InvalidPart',
    400,
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
    { UploadId: upload.uploadId, PartNumber: String(requested.partNumber), ETag: requested.etag },
  );
}

/** Validates a completion request against an upload and computes the multipart ETag. */
export function planCompletion(
  upload: UploadRecord,
  requested: readonly CompletedPartInput[],
): CompletionPlan {
  let previous = 0;
  for (const part of requested) {
    if (part.partNumber <= previous) {
      throw new S3Error(
        'InvalidPartOrder',
        400,
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
        { UploadId: upload.uploadId },
      );
    }
    previous = part.partNumber;
  }
  const parts = requested.map((wanted) => {
    const part = upload.parts.get(wanted.partNumber);
    if (!part || normalizeEtag(part.etag) !== normalizeEtag(wanted.etag)) throw invalidPart(upload, wanted);
    for (const [element, value] of Object.entries(wanted.checksums)) {
      if (
        part.checksum &&
        checksumElement(part.checksum.algorithm) === element &&
        part.checksum.value !== value
      ) {
        throw invalidPart(upload, wanted);
      }
    }
    return part;
  });
  parts.slice(0, -1).forEach((part) => {
    if (part.size < MIN_PART_SIZE) {
      throw new S3Error(
        'EntityTooSmall',
        400,
        'Your proposed upload is smaller than the minimum allowed size',
        {
          ProposedSize: String(part.size),
          MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(part.partNumber),
          ETag: normalizeEtag(part.etag),
        },
      );
    }
  });
  const md5 = createHash('md5');
  for (const part of parts) md5.update(Buffer.from(normalizeEtag(part.etag), 'hex'));
  return { parts, etag: `"${md5.digest('hex')}-${parts.length}"` };
}

/** POST /bucket/key?uploadId=ID */
export async function completeMultipartUpload(ctx: RequestContext, services: Services): Promise<void> {
  const upload = requireUpload(ctx, services);
  const requested = parseCompleteMultipartUpload(await receiveText(ctx, 16 * 1024 * 1024));
  const record = await services.store.completeUpload(upload, (current) => planCompletion(current, requested));
  emitCreated(services, upload.bucket, record);
  const host = ctx.req.headers.host ?? 'localhost';
  ctx.sendXml(
    200,
    xmlDocument('CompleteMultipartUploadResult', {
      Location: `http://${host}/${uriEncode(upload.bucket)}/${uriEncode(upload.key, false)}`,
      Bucket: upload.bucket,
      Key: upload.key,
      ETag: record.etag,
    }),
    encryptionHeaders(record),
  );
}

/** DELETE /bucket/key?uploadId=ID */
export async function abortMultipartUpload(ctx: RequestContext, services: Services): Promise<void> {
  const upload = requireUpload(ctx, services);
  await services.store.abortUpload(upload.uploadId, upload);
  ctx.send(204);
}

/** GET /bucket?uploads (with `prefix`, `key-marker`, `upload-id-marker`, `max-uploads`) */
export async function listMultipartUploads(ctx: RequestContext, services: Services): Promise<void> {
  const bucket = ctx.bucketName;
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const prefix = ctx.param('prefix') ?? '';
  const keyMarker = ctx.param('key-marker') ?? '';
  const uploadIdMarker = ctx.param('upload-id-marker') ?? '';
  const maxUploads = integerParam(ctx, 'max-uploads', 1000, 1000);
  const all = services.store.listUploads(bucket).filter((u) => u.key.startsWith(prefix));
  let startIndex = 0;
  if (keyMarker !== '') {
    const markerIndex =
      uploadIdMarker === '' ? -1 : all.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker);
    startIndex = markerIndex >= 0 ? markerIndex + 1 : all.findIndex((u) => compareKeys(u.key, keyMarker) > 0);
    if (startIndex < 0) startIndex = all.length;
  }
  const page = all.slice(startIndex, startIndex + maxUploads);
  const truncated = startIndex + page.length < all.length;
  const last = page.at(-1);
  ctx.sendXml(
    200,
    xmlDocument('ListMultipartUploadsResult', {
      Bucket: bucket,
      KeyMarker: keyMarker,
      UploadIdMarker: uploadIdMarker,
      NextKeyMarker: truncated ? last?.key : undefined,
      NextUploadIdMarker: truncated ? last?.uploadId : undefined,
      Prefix: prefix,
      MaxUploads: maxUploads,
      IsTruncated: truncated,
      Upload: page.map((u) => ({
        Key: u.key,
        UploadId: u.uploadId,
        Initiator: OWNER,
        Owner: OWNER,
        StorageClass: 'STANDARD',
        Initiated: new Date(u.initiated),
      })),
    }),
  );
}
