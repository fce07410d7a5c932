/**
 * Object operations: PutObject, GetObject/HeadObject (ranges, conditional requests, `response-*` overrides,
 * `partNumber`), DeleteObject, DeleteObjects, CopyObject and object tagging.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import {
  contentAttributes,
  emitCreated,
  encryptionAttributes,
  encryptionHeaders,
  headerValue,
  MAX_PUT_SIZE,
  objectHeaders,
  parseTaggingHeader,
  requestAttributes,
  validateKey,
  validateTags,
} from './attributes';
import { checksumHeader } from './checksums';
import type { RequestContext, Services } from './context';
import { errors, S3Error } from './errors';
import { receiveText, receiveToFile, streamObject } from './io';
import { checkRead, checkReadAttributes, checkTagWrite } from './policy';
import { decodeComponent } from './sigv4';
import type { ObjectAttributes, ObjectRecord } from './store';
import { parseDelete, parseTagging, xmlDocument } from './xml';

const RESPONSE_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

function target(ctx: RequestContext): { bucket: string; key: string } {
  return { bucket: ctx.bucketName, key: ctx.objectKey };
}

function requireObject(services: Services, bucket: string, key: string): ObjectRecord {
  const record = services.store.getObject(bucket, key);
  if (!record) throw errors.noSuchKey(key);
  return record;
}

/** PUT /bucket/key */
export async function putObject(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  validateKey(key);
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const attributes = requestAttributes(ctx);
  checkTagWrite(ctx, services.policy, bucket, attributes.tags);
  const ifNoneMatch = ctx.header('if-none-match');
  const failIfExists = () => {
    if (ifNoneMatch === '*' && services.store.getObject(bucket, key)) {
      throw new S3Error(
        'PreconditionFailed',
        412,
        'At least one of the pre-conditions you specified did not hold',
        {
          Condition: 'If-None-Match',
        },
      );
    }
  };
  failIfExists();
  const body = await receiveToFile(ctx, services);
  try {
    failIfExists();
  } catch (error) {
    await services.store.discard(body.path);
    throw error;
  }
  const record = await services.store.putObject(bucket, key, body.path, {
    ...attributes,
    size: body.size,
    etag: `"${body.md5Hex}"`,
    checksum: body.checksum,
  });
  emitCreated(services, bucket, record);
  ctx.send(200, {
    ETag: record.etag,
    ...encryptionHeaders(record),
    ...(body.checksum ? { [checksumHeader(body.checksum.algorithm)]: body.checksum.value } : {}),
  });
}

type Range = { start: number; end: number } | 'unsatisfiable' | undefined;

/** Parses a single `bytes=` range; syntactically invalid or multi-range headers are ignored, as S3 does. */
export function parseRange(header: string | undefined, size: number): Range {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  return { start, end: Math.min(last, size - 1) };
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function checkConditions(ctx: RequestContext, record: ObjectRecord, prefix = ''): 'not-modified' | undefined {
  const etagMatches = (list: string) =>
    list.split(',').some((tag) => {
      const t = tag.trim().replace(/^W\//, '');
      return t === '*' || t.replace(/"/g, '') === record.etag.replace(/"/g, '');
    });
  const modified = seconds(new Date(record.lastModified));
  const dateHeader = (name: string): number | undefined => {
    const value = ctx.header(`${prefix}${name}`);
    const parsed = value === undefined ? Number.NaN : Date.parse(value);
    return Number.isNaN(parsed) ? undefined : Math.floor(parsed / 1000);
  };
  const failed = (condition: string) =>
    new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
      Condition: condition,
    });
  const ifMatch = ctx.header(`${prefix}if-match`);
  const ifNoneMatch = ctx.header(`${prefix}if-none-match`);
  const ifUnmodifiedSince = dateHeader('if-unmodified-since');
  const ifModifiedSince = dateHeader('if-modified-since');
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch)) throw failed('If-Match');
  } else if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) {
    throw failed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch)) {
      if (prefix !== '') throw failed('x-amz-copy-source-If-None-Match');
      return 'not-modified';
    }
  } else if (ifModifiedSince !== undefined && modified <= ifModifiedSince) {
    if (prefix !== '') throw failed('x-amz-copy-source-If-Modified-Since');
    return 'not-modified';
  }
  return undefined;
}

function partRange(ctx: RequestContext, record: ObjectRecord): { start: number; end: number } | undefined {
  const raw = ctx.param('partNumber');
  if (raw === undefined) return undefined;
  const partNumber = /^\d{1,5}$/.test(raw) ? Number(raw) : 0;
  if (partNumber < 1 || partNumber > 10_000) {
    throw errors.invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      raw,
    );
  }
  const segments = record.partsCount === undefined ? [{ size: record.size }] : record.segments;
  if (partNumber > segments.length) {
    throw new S3Error('InvalidPartNumber', 416, 'The requested partnumber is not satisfiable', {
      PartNumberRequested: raw,
      ActualPartCount: String(segments.length),
    });
  }
  const start = segments.slice(0, partNumber - 1).reduce((sum, s) => sum + s.size, 0);
  return { start, end: start + (segments[partNumber - 1]?.size ?? 0) - 1 };
}

/** GET or HEAD /bucket/key */
export async function getObject(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  const record = requireObject(services, bucket, key);
  checkRead(ctx, services.policy, { bucket, key, tags: record.tags });
  const conditional = checkConditions(ctx, record);
  if (conditional === 'not-modified') {
    ctx.send(304, { ETag: record.etag, 'Last-Modified': new Date(record.lastModified).toUTCString() });
    return;
  }
  const byPart = partRange(ctx, record);
  const range = byPart ?? parseRange(ctx.header('range'), record.size);
  if (range === 'unsatisfiable') {
    throw new S3Error(
      'InvalidRange',
      416,
      'The requested range is not satisfiable',
      { RangeRequested: ctx.header('range') ?? '', ActualObjectSize: String(record.size) },
      { 'Content-Range': `bytes */${record.size}` },
    );
  }
  const checksumMode = ctx.header('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  const headers: OutgoingHttpHeaders = objectHeaders(record, checksumMode && range === undefined);
  for (const [param, header] of RESPONSE_OVERRIDES) {
    const value = ctx.param(param);
    if (value !== undefined) headers[header] = value;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') headers[name] = headerValue(value);
  }
  if (byPart && record.partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(record.partsCount);
  const start = range?.start ?? 0;
  const end = range?.end ?? record.size - 1;
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  if (range && record.size > 0) headers['Content-Range'] = `bytes ${start}-${end}/${record.size}`;
  const status = range && record.size > 0 ? 206 : 200;
  ctx.res.writeHead(status, headers);
  if (ctx.method === 'HEAD' || end < start) {
    ctx.res.end();
    return;
  }
  await streamObject(ctx, services, bucket, record, start, end);
}

/** DELETE /bucket/key */
export async function deleteObject(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  await services.store.deleteObject(bucket, key);
  ctx.send(204);
}

/** POST /bucket?delete */
export async function deleteObjects(ctx: RequestContext, services: Services): Promise<void> {
  const bucket = ctx.bucketName;
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const hasChecksum =
    ctx.headersWithPrefix('x-amz-checksum-').length > 0 || ctx.header('x-amz-trailer') !== undefined;
  if (ctx.header('content-md5') === undefined && !hasChecksum) {
    throw errors.invalidRequest('Missing required header for this request: Content-MD5');
  }
  const request = parseDelete(await receiveText(ctx, 2 * 1024 * 1024));
  const deleted: string[] = [];
  for (const key of request.keys) {
    await services.store.deleteObject(bucket, key);
    deleted.push(key);
  }
  ctx.sendXml(
    200,
    xmlDocument('DeleteResult', { Deleted: request.quiet ? [] : deleted.map((Key) => ({ Key })) }),
  );
}

/**
 * Parses `x-amz-copy-source`: `[/]bucket/key`, URL-encoded, with an optional `?versionId=…`. The version id is
 * ignored: this server keeps one version per key and ignores `versionId` everywhere (GetObject, DeleteObject).
 */
function parseCopySource(raw: string): { bucket: string; key: string } {
  const query = raw.indexOf('?');
  const decoded = decodeComponent(query < 0 ? raw : raw.slice(0, query)).replace(/^\//, '');
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw errors.invalidArgument(
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      'x-amz-copy-source',
      raw,
    );
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

function directive(ctx: RequestContext, header: string): 'COPY' | 'REPLACE' {
  const value = ctx.header(header) ?? 'COPY';
  if (value !== 'COPY' && value !== 'REPLACE')
    throw errors.invalidArgument(`Unknown ${header}`, header, value);
  return value;
}

/** The object named by `x-amz-copy-source`, after its `x-amz-copy-source-if-*` conditions have passed. */
export interface CopySource {
  readonly bucket: string;
  readonly record: ObjectRecord;
}

/**
 * Resolves `x-amz-copy-source` (CopyObject, UploadPartCopy): NoSuchBucket/NoSuchKey when it does not exist,
 * PreconditionFailed when an `x-amz-copy-source-if-*` condition does not hold.
 */
export function resolveCopySource(ctx: RequestContext, services: Services): CopySource {
  const source = parseCopySource(ctx.header('x-amz-copy-source') ?? '');
  if (!services.store.hasBucket(source.bucket)) throw errors.noSuchBucket(source.bucket);
  const record = requireObject(services, source.bucket, source.key);
  checkRead(ctx, services.policy, { bucket: source.bucket, key: source.key, tags: record.tags });
  checkConditions(ctx, record, 'x-amz-copy-source-');
  return { bucket: source.bucket, record };
}

/**
 * PUT /bucket/key with `x-amz-copy-source`. Metadata and tagging directives follow S3 (COPY by default). Without
 * encryption headers the copy keeps the source's encryption settings (this server has no bucket defaults).
 */
export async function copyObject(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  validateKey(key);
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  const source = resolveCopySource(ctx, services);
  const { record } = source;
  if (record.size > MAX_PUT_SIZE) {
    throw errors.invalidRequest(
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_SIZE}`,
    );
  }
  const metadataDirective = directive(ctx, 'x-amz-metadata-directive');
  const taggingDirective = directive(ctx, 'x-amz-tagging-directive');
  if (taggingDirective === 'REPLACE')
    checkTagWrite(ctx, services.policy, bucket, parseTaggingHeader(ctx.header('x-amz-tagging')));
  const encryption = encryptionAttributes(ctx);
  const sameObject = source.bucket === bucket && record.key === key;
  if (sameObject && metadataDirective === 'COPY' && encryption.serverSideEncryption === undefined) {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const content =
    metadataDirective === 'REPLACE'
      ? contentAttributes(ctx)
      : {
          contentType: record.contentType,
          contentDisposition: record.contentDisposition,
          contentEncoding: record.contentEncoding,
          contentLanguage: record.contentLanguage,
          cacheControl: record.cacheControl,
          expires: record.expires,
          metadata: record.metadata,
        };
  const attributes: ObjectAttributes = {
    ...content,
    serverSideEncryption: encryption.serverSideEncryption ?? record.serverSideEncryption,
    sseKmsKeyId: encryption.serverSideEncryption !== undefined ? encryption.sseKmsKeyId : record.sseKmsKeyId,
    tags: taggingDirective === 'REPLACE' ? parseTaggingHeader(ctx.header('x-amz-tagging')) : record.tags,
  };
  const copied = await services.store.copyObject(source, bucket, key, attributes);
  emitCreated(services, bucket, copied);
  ctx.sendXml(
    200,
    xmlDocument('CopyObjectResult', { LastModified: new Date(copied.lastModified), ETag: copied.etag }),
    encryptionHeaders(copied),
  );
}

/** GET /bucket/key?tagging */
export async function getObjectTagging(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  const record = requireObject(services, bucket, key);
  checkReadAttributes(ctx, services.policy, bucket);
  ctx.sendXml(
    200,
    xmlDocument('Tagging', { TagSet: { Tag: record.tags.map((t) => ({ Key: t.key, Value: t.value })) } }),
  );
}

/** PUT /bucket/key?tagging */
export async function putObjectTagging(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  requireObject(services, bucket, key);
  const tags = validateTags(parseTagging(await receiveText(ctx, 64 * 1024)));
  checkTagWrite(ctx, services.policy, bucket, tags);
  await services.store.updateObject(bucket, key, (record) => ({ ...record, tags }));
  ctx.send(200);
}

/** DELETE /bucket/key?tagging */
export async function deleteObjectTagging(ctx: RequestContext, services: Services): Promise<void> {
  const { bucket, key } = target(ctx);
  await services.store.updateObject(bucket, key, (record) => ({ ...record, tags: [] }));
  ctx.send(204);
}
