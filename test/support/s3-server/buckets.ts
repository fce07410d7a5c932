/**
 * Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and object listings
 * (ListObjectsV2 with prefix/delimiter/max-keys/continuation-token/start-after, and the original ListObjects).
 */
import { OWNER } from './attributes';
import type { RequestContext, Services } from './context';
import { errors, S3Error } from './errors';
import { receiveText } from './io';
import { uriEncode } from './sigv4';
import { compareKeys, type ObjectRecord } from './store';
import { escapeXml, S3_NAMESPACE, xmlDocument } from './xml';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether a name follows S3's bucket naming rules. */
export function isValidBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

function requireBucket(ctx: RequestContext, services: Services): string {
  const bucket = ctx.bucketName;
  if (!services.store.hasBucket(bucket)) throw errors.noSuchBucket(bucket);
  return bucket;
}

/** GET / */
export async function listBuckets(ctx: RequestContext, services: Services): Promise<void> {
  ctx.sendXml(
    200,
    xmlDocument('ListAllMyBucketsResult', {
      Owner: OWNER,
      Buckets: {
        Bucket: services.store
          .listBuckets()
          .map((b) => ({ Name: b.name, CreationDate: new Date(b.created) })),
      },
    }),
  );
}

/** PUT /bucket (an optional CreateBucketConfiguration body is accepted and ignored) */
export async function createBucket(ctx: RequestContext, services: Services): Promise<void> {
  const bucket = ctx.bucketName;
  if (!isValidBucketName(bucket)) {
    throw new S3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: bucket });
  }
  await receiveText(ctx, 64 * 1024);
  const created = await services.store.createBucket(bucket);
  if (!created && services.region !== 'us-east-1') {
    throw new S3Error(
      'BucketAlreadyOwnedByYou',
      409,
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: bucket },
    );
  }
  ctx.send(200, { Location: `/${bucket}` });
}

/** HEAD /bucket */
export async function headBucket(ctx: RequestContext, services: Services): Promise<void> {
  requireBucket(ctx, services);
  ctx.send(200, { 'x-amz-bucket-region': services.region });
}

/** DELETE /bucket */
export async function deleteBucket(ctx: RequestContext, services: Services): Promise<void> {
  await services.store.deleteBucket(requireBucket(ctx, services));
  ctx.send(204);
}

/** GET /bucket?location */
export async function getBucketLocation(ctx: RequestContext, services: Services): Promise<void> {
  requireBucket(ctx, services);
  const region = services.region === 'us-east-1' ? '' : escapeXml(services.region);
  ctx.sendXml(
    200,
    `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NAMESPACE}">${region}</LocationConstraint>`,
  );
}

interface ListingOptions {
  readonly prefix: string;
  readonly delimiter: string;
  /** Exclusive lower bound: a key or common prefix already returned. */
  readonly after: string;
  readonly maxKeys: number;
}

interface Listing {
  readonly contents: ObjectRecord[];
  readonly commonPrefixes: string[];
  readonly truncated: boolean;
  /** Last key or common prefix returned. */
  readonly last: string | undefined;
}

/** Lists a bucket's keys in UTF-8 order, rolling keys up to common prefixes at the delimiter. */
export function listKeys(services: Services, bucket: string, options: ListingOptions): Listing {
  const { prefix, delimiter, after, maxKeys } = options;
  const contents: ObjectRecord[] = [];
  const commonPrefixes: string[] = [];
  const prefixOf = (key: string): string | undefined => {
    if (delimiter === '') return undefined;
    const at = key.indexOf(delimiter, prefix.length);
    return at < 0 ? undefined : key.slice(0, at + delimiter.length);
  };
  // A marker that is itself a common prefix means every key under it was already returned.
  const skipUnder = prefixOf(after) === after && after !== '' ? after : undefined;
  let last: string | undefined;
  let truncated = false;
  for (const key of services.store.sortedKeys(bucket)) {
    if (!key.startsWith(prefix) || (after !== '' && compareKeys(key, after) <= 0)) continue;
    if (skipUnder !== undefined && key.startsWith(skipUnder)) continue;
    const common = prefixOf(key);
    if (common !== undefined && common === last) continue;
    if (contents.length + commonPrefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      commonPrefixes.push(common);
      last = common;
    } else {
      const record = services.store.getObject(bucket, key);
      if (record) contents.push(record);
      last = key;
    }
  }
  return { contents, commonPrefixes, truncated, last };
}

function maxKeysParam(ctx: RequestContext): number {
  const raw = ctx.param('max-keys');
  if (raw === undefined) return 1000;
  if (!/^\d{1,9}$/.test(raw))
    throw errors.invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
  return Math.min(Number(raw), 1000);
}

function listingElements(ctx: RequestContext, listing: Listing, encode: (value: string) => string) {
  const fetchOwner = ctx.param('list-type') !== '2' || ctx.param('fetch-owner') === 'true';
  return {
    Contents: listing.contents.map((record) => ({
      Key: encode(record.key),
      LastModified: new Date(record.lastModified),
      ETag: record.etag,
      ...(record.checksum ? { ChecksumAlgorithm: record.checksum.algorithm } : {}),
      Size: record.size,
      ...(fetchOwner ? { Owner: OWNER } : {}),
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: listing.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  };
}

/** GET /bucket?list-type=2 */
export async function listObjectsV2(ctx: RequestContext, services: Services): Promise<void> {
  const bucket = requireBucket(ctx, services);
  const prefix = ctx.param('prefix') ?? '';
  const delimiter = ctx.param('delimiter') ?? '';
  const startAfter = ctx.param('start-after');
  const token = ctx.param('continuation-token');
  const maxKeys = maxKeysParam(ctx);
  let after = startAfter ?? '';
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || !decoded.startsWith('k:')) {
      throw errors.invalidArgument(
        'The continuation token provided is incorrect',
        'continuation-token',
        token,
      );
    }
    after = decoded.slice(2);
  }
  const listing = listKeys(services, bucket, { prefix, delimiter, after, maxKeys });
  const urlEncoding = ctx.param('encoding-type') === 'url';
  const encode = (value: string) => (urlEncoding ? uriEncode(value, false) : value);
  ctx.sendXml(
    200,
    xmlDocument('ListBucketResult', {
      Name: bucket,
      Prefix: encode(prefix),
      ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
      MaxKeys: maxKeys,
      ...(urlEncoding ? { EncodingType: 'url' } : {}),
      KeyCount: listing.contents.length + listing.commonPrefixes.length,
      IsTruncated: listing.truncated,
      ...(token !== undefined ? { ContinuationToken: token } : {}),
      ...(listing.truncated && listing.last !== undefined
        ? { NextContinuationToken: Buffer.from(`k:${listing.last}`, 'utf8').toString('base64url') }
        : {}),
      ...(startAfter !== undefined ? { StartAfter: encode(startAfter) } : {}),
      ...listingElements(ctx, listing, encode),
    }),
  );
}

/** GET /bucket (ListObjects, version 1) */
export async function listObjectsV1(ctx: RequestContext, services: Services): Promise<void> {
  const bucket = requireBucket(ctx, services);
  const prefix = ctx.param('prefix') ?? '';
  const delimiter = ctx.param('delimiter') ?? '';
  const marker = ctx.param('marker') ?? '';
  const maxKeys = maxKeysParam(ctx);
  const listing = listKeys(services, bucket, { prefix, delimiter, after: marker, maxKeys });
  const urlEncoding = ctx.param('encoding-type') === 'url';
  const encode = (value: string) => (urlEncoding ? uriEncode(value, false) : value);
  ctx.sendXml(
    200,
    xmlDocument('ListBucketResult', {
      Name: bucket,
      Prefix: encode(prefix),
      Marker: encode(marker),
      ...(listing.truncated && delimiter !== '' && listing.last !== undefined
        ? { NextMarker: encode(listing.last) }
        : {}),
      MaxKeys: maxKeys,
      ...(delimiter !== '' ? { Delimiter: encode(delimiter) } : {}),
      ...(urlEncoding ? { EncodingType: 'url' } : {}),
      IsTruncated: listing.truncated,
      ...listingElements(ctx, listing, encode),
    }),
  );
}
