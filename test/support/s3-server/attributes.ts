/**
 * Object attributes shared by PutObject, CopyObject and CreateMultipartUpload: reading them from request headers
 * (content headers, `x-amz-meta-*`, server-side encryption, `x-amz-tagging`), validating tags, and echoing them in
 * responses. Also the `object-created` event.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { checksumHeader } from './checksums';
import type { RequestContext, Services } from './context';
import { errors, S3Error } from './errors';
import type { ObjectAttributes, ObjectRecord } from './store';
import type { Tag } from './xml';

/** Largest object a single PUT (or a single part) may carry: 5 GiB. */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;
/** S3's maximum key length in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Canonical owner reported in listings. */
export const OWNER = {
  ID: '6d2b1c0f3d5e4a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d',
  DisplayName: 'citadel-local',
} as const;

/** Payload of the server's `object-created` event. */
export interface ObjectCreatedEvent {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** ETag without quotes, as in S3 event notifications (e.g. `9b2c…` or `…-3`). */
  readonly etag: string;
  readonly tags: Readonly<Record<string, string>>;
}

const SSE_VALUES = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);
const MAX_METADATA_BYTES = 2048;

/** Validates a tag set as S3 does (≤ 10 tags, unique keys of 1–128 chars, values ≤ 256 chars). */
export function validateTags(tags: readonly Tag[]): Tag[] {
  if (tags.length > 10) throw new S3Error('BadRequest', 400, 'Object tags cannot be greater than 10');
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (seen.has(key))
      throw new S3Error('InvalidTag', 400, 'Cannot provide multiple Tags with the same key', { TagKey: key });
    seen.add(key);
    if ([...key].length < 1 || [...key].length > 128) {
      throw new S3Error('InvalidTag', 400, 'The TagKey you have provided is invalid', { TagKey: key });
    }
    if ([...value].length > 256) {
      throw new S3Error('InvalidTag', 400, 'The TagValue you have provided is invalid', {
        TagKey: key,
        TagValue: value,
      });
    }
  }
  return [...tags];
}

/** Parses an `x-amz-tagging` header (URL query syntax, `k1=v1&k2=v2`). */
export function parseTaggingHeader(value: string | undefined): Tag[] {
  if (value === undefined || value === '') return [];
  return validateTags([...new URLSearchParams(value)].map(([key, v]) => ({ key, value: v })));
}

/** Tags as a plain object. */
export function tagRecord(tags: readonly Tag[]): Record<string, string> {
  return Object.fromEntries(tags.map((t) => [t.key, t.value]));
}

/** Content headers, `x-amz-meta-*` metadata and encryption settings of a request. */
export function contentAttributes(ctx: RequestContext): Omit<ObjectAttributes, 'tags'> {
  const metadata: Record<string, string> = {};
  let metadataBytes = 0;
  for (const [name, value] of ctx.headersWithPrefix('x-amz-meta-')) {
    const short = name.slice('x-amz-meta-'.length);
    metadata[short] = value;
    metadataBytes += Buffer.byteLength(short) + Buffer.byteLength(value);
  }
  if (metadataBytes > MAX_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      400,
      'Your metadata headers exceed the maximum allowed metadata size.',
      {
        Size: String(metadataBytes),
        MaxSizeAllowed: String(MAX_METADATA_BYTES),
      },
    );
  }
  const encoding = ctx
    .header('content-encoding')
    ?.split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked')
    .join(',');
  return {
    contentType: ctx.header('content-type'),
    contentDisposition: ctx.header('content-disposition'),
    contentEncoding: encoding === '' ? undefined : encoding,
    contentLanguage: ctx.header('content-language'),
    cacheControl: ctx.header('cache-control'),
    expires: ctx.header('expires'),
    metadata,
    ...encryptionAttributes(ctx),
  };
}

/** Server-side encryption settings of a request (validated). */
export function encryptionAttributes(
  ctx: RequestContext,
): Pick<ObjectAttributes, 'serverSideEncryption' | 'sseKmsKeyId'> {
  const sse = ctx.header('x-amz-server-side-encryption');
  const kmsKeyId = ctx.header('x-amz-server-side-encryption-aws-kms-key-id');
  if (sse !== undefined && !SSE_VALUES.has(sse)) {
    throw errors.invalidArgument(
      `The encryption method specified is not supported`,
      'x-amz-server-side-encryption',
      sse,
    );
  }
  if (kmsKeyId !== undefined && !sse?.startsWith('aws:kms')) {
    throw errors.invalidArgument(
      'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id',
      kmsKeyId,
    );
  }
  return { serverSideEncryption: sse, sseKmsKeyId: kmsKeyId };
}

/** All attributes of a creating request (content, metadata, encryption, `x-amz-tagging`). */
export function requestAttributes(ctx: RequestContext): ObjectAttributes {
  return { ...contentAttributes(ctx), tags: parseTaggingHeader(ctx.header('x-amz-tagging')) };
}

/** Encryption response headers. */
export function encryptionHeaders(
  attributes: Pick<ObjectAttributes, 'serverSideEncryption' | 'sseKmsKeyId'>,
): OutgoingHttpHeaders {
  return {
    ...(attributes.serverSideEncryption
      ? { 'x-amz-server-side-encryption': attributes.serverSideEncryption }
      : {}),
    ...(attributes.sseKmsKeyId
      ? { 'x-amz-server-side-encryption-aws-kms-key-id': attributes.sseKmsKeyId }
      : {}),
  };
}

/**
 * Makes a stored string sendable as a header value: text beyond Latin-1 goes out as its raw UTF-8 bytes (as S3
 * sends it) and control characters become spaces, so no stored value can make a response fail.
 */
export function headerValue(value: string): string {
  const raw = /[\u0100-\u{10ffff}]/u.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
  let out = '';
  for (const ch of raw) {
    const code = ch.charCodeAt(0);
    out += (code < 0x20 && ch !== '\t') || code === 0x7f ? ' ' : ch;
  }
  return out;
}

/** Headers describing a stored object (GET/HEAD), before `response-*` overrides. */
export function objectHeaders(record: ObjectRecord, withChecksum: boolean): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'Content-Type': record.contentType ?? 'binary/octet-stream',
    ETag: record.etag,
    'Last-Modified': new Date(record.lastModified).toUTCString(),
    'Accept-Ranges': 'bytes',
    ...encryptionHeaders(record),
  };
  if (record.contentDisposition !== undefined) headers['Content-Disposition'] = record.contentDisposition;
  if (record.contentEncoding !== undefined) headers['Content-Encoding'] = record.contentEncoding;
  if (record.contentLanguage !== undefined) headers['Content-Language'] = record.contentLanguage;
  if (record.cacheControl !== undefined) headers['Cache-Control'] = record.cacheControl;
  if (record.expires !== undefined) headers.Expires = record.expires;
  for (const [name, value] of Object.entries(record.metadata)) headers[`x-amz-meta-${name}`] = value;
  if (record.tags.length > 0) headers['x-amz-tagging-count'] = String(record.tags.length);
  if (withChecksum && record.checksum) {
    headers[checksumHeader(record.checksum.algorithm)] = record.checksum.value;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  return headers;
}

/** Rejects keys longer than S3 allows. */
export function validateKey(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 400, 'Your key is too long', {
      MaxSizeAllowed: String(MAX_KEY_BYTES),
      Size: String(Buffer.byteLength(key)),
    });
  }
}

/** Emits `object-created`; a throwing listener never affects the request. */
export function emitCreated(services: Services, bucket: string, record: ObjectRecord): void {
  const event: ObjectCreatedEvent = {
    bucket,
    key: record.key,
    size: record.size,
    etag: record.etag.replace(/"/g, ''),
    tags: tagRecord(record.tags),
  };
  try {
    services.events.emit('object-created', event);
  } catch (error) {
    console.error('s3-server: object-created listener failed', error);
  }
}
