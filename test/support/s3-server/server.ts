/**
 * The HTTP request handler: parses the path-style target, applies CORS, verifies SigV4, routes to the operation
 * and turns every failure into S3's XML error response (bodiless for HEAD). Nothing a client sends can crash it.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as buckets from './buckets';
import { RequestContext, type Services } from './context';
import { answerPreflight, applyCors } from './cors';
import { errors, S3Error } from './errors';
import * as multipart from './multipart';
import * as objects from './objects';
import type { AccessPolicy } from './policy';
import { authenticate } from './sigv4';
import type { Store } from './store';
import { errorDocument } from './xml';

/** Everything the handler needs. */
export interface HandlerConfig {
  readonly store: Store;
  readonly events: EventEmitter;
  readonly region: string;
  /** Access key id → secret access key. */
  readonly credentials: ReadonlyMap<string, string>;
  readonly now: () => Date;
  readonly corsOrigins?: readonly string[];
  readonly policy?: AccessPolicy;
}

type Operation = (ctx: RequestContext, services: Services) => Promise<void>;

const BUCKET_SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'lifecycle',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'tagging',
  'versioning',
  'versions',
  'website',
];
const OBJECT_SUBRESOURCES = ['acl', 'attributes', 'legal-hold', 'restore', 'retention', 'select', 'torrent'];

function unsupported(ctx: RequestContext, names: readonly string[]): void {
  const name = names.find((n) => ctx.has(n));
  if (name !== undefined) throw errors.notImplemented(`?${name}`);
}

/** Picks the operation for a request (after authentication, so presigned hoisted headers are visible). */
function route(ctx: RequestContext): Operation {
  const { method } = ctx;
  if (ctx.bucket === undefined) {
    if (method === 'GET') return buckets.listBuckets;
    throw errors.methodNotAllowed(method, 'SERVICE');
  }
  if (ctx.key === undefined) {
    unsupported(ctx, BUCKET_SUBRESOURCES);
    switch (method) {
      case 'PUT':
        return buckets.createBucket;
      case 'HEAD':
        return buckets.headBucket;
      case 'DELETE':
        return buckets.deleteBucket;
      case 'GET':
        if (ctx.has('uploads')) return multipart.listMultipartUploads;
        if (ctx.has('location')) return buckets.getBucketLocation;
        return ctx.param('list-type') === '2' ? buckets.listObjectsV2 : buckets.listObjectsV1;
      case 'POST':
        if (ctx.has('delete')) return objects.deleteObjects;
        break;
    }
    throw errors.methodNotAllowed(method, 'BUCKET');
  }
  unsupported(ctx, OBJECT_SUBRESOURCES);
  const inUpload = ctx.has('uploadId');
  switch (method) {
    case 'PUT':
      if (inUpload || ctx.has('partNumber')) {
        if (!inUpload || !ctx.has('partNumber')) {
          throw errors.invalidRequest(
            'UploadPart requires both the partNumber and uploadId query parameters.',
          );
        }
        if (ctx.header('x-amz-copy-source') !== undefined) return multipart.uploadPartCopy;
        return multipart.uploadPart;
      }
      if (ctx.has('tagging')) return objects.putObjectTagging;
      if (ctx.header('x-amz-copy-source') !== undefined) return objects.copyObject;
      return objects.putObject;
    case 'GET':
      if (inUpload) return multipart.listParts;
      if (ctx.has('tagging')) return objects.getObjectTagging;
      return objects.getObject;
    case 'HEAD':
      return objects.getObject;
    case 'POST':
      if (ctx.has('uploads')) return multipart.createMultipartUpload;
      if (inUpload) return multipart.completeMultipartUpload;
      break;
    case 'DELETE':
      if (inUpload) return multipart.abortMultipartUpload;
      if (ctx.has('tagging')) return objects.deleteObjectTagging;
      return objects.deleteObject;
  }
  throw errors.methodNotAllowed(method, 'OBJECT');
}

const DISCONNECT_CODES = new Set([
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECONNRESET',
  'EPIPE',
  'ERR_STREAM_DESTROYED',
]);

function sendError(ctx: RequestContext, error: unknown): void {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (ctx.res.headersSent || ctx.res.destroyed) {
    ctx.res.destroy();
    return;
  }
  let s3Error: S3Error;
  if (error instanceof S3Error) s3Error = error;
  else {
    if (code === undefined || !DISCONNECT_CODES.has(code)) console.error('s3-server: internal error', error);
    s3Error = errors.internal();
  }
  for (const name of ctx.res.getHeaderNames()) {
    if (!/^(x-amz-request-id|x-amz-id-2|server|access-control-|vary)/i.test(name)) ctx.res.removeHeader(name);
  }
  ctx.sendXml(
    s3Error.status,
    errorDocument(s3Error, ctx.resource, ctx.requestId, ctx.hostId),
    s3Error.headers,
  );
}

/** Creates the server's request handler; the returned promise settles when the request has been answered. */
export function createRequestHandler(
  config: HandlerConfig,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const services: Services = {
    store: config.store,
    events: config.events,
    region: config.region,
    policy: config.policy,
  };
  return async (req, res) => {
    const ctx = new RequestContext(req, res);
    try {
      applyCors(ctx, config.corsOrigins);
      if (ctx.invalid) throw ctx.invalid;
      if (ctx.method === 'OPTIONS') {
        answerPreflight(ctx, config.corsOrigins);
        return;
      }
      ctx.auth = authenticate(
        { method: ctx.method, rawPath: ctx.rawPath, query: ctx.query, rawHeaders: req.rawHeaders },
        config,
      );
      await route(ctx)(ctx, services);
    } catch (error) {
      sendError(ctx, error);
    }
  };
}
