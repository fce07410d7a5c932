/**
 * Per-request state: the parsed path-style address (`/bucket/key`), query, effective headers (a presigned URL's
 * hoisted `x-amz-*` query parameters count as headers, as in S3), the verified signature, and response helpers.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { S3Error } from './errors';
import type { AccessPolicy } from './policy';
import { decodeComponent, parseQuery, type QueryParam, type VerifiedAuth } from './sigv4';
import type { Store } from './store';

/** What the operation handlers share. */
export interface Services {
  readonly store: Store;
  readonly events: EventEmitter;
  readonly region: string;
  /** Bucket-policy denies, by access key. @default none */
  readonly policy?: AccessPolicy;
}

const AUTH_QUERY_PARAMS = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
]);

/** A parsed request and its response. */
export class RequestContext {
  /** S3-style request id, echoed in `x-amz-request-id` and error bodies. */
  readonly requestId = randomBytes(8).toString('hex').toUpperCase();
  /** Echoed in `x-amz-id-2`. */
  readonly hostId = randomBytes(24).toString('base64');
  readonly method: string;
  /** Path as sent (percent-encoded). */
  readonly rawPath: string;
  readonly query: QueryParam[];
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  /** Set when the request target could not be parsed; reported before anything else. */
  readonly invalid: S3Error | undefined;
  private verified: VerifiedAuth | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.method = (req.method ?? 'GET').toUpperCase();
    res.setHeader('x-amz-request-id', this.requestId);
    res.setHeader('x-amz-id-2', this.hostId);
    res.setHeader('Server', 'AmazonS3');
    let target = req.url ?? '/';
    if (/^https?:\/\//i.test(target)) target = target.replace(/^https?:\/\/[^/?#]*/i, '') || '/';
    const q = target.indexOf('?');
    this.rawPath = q < 0 ? target : target.slice(0, q);
    try {
      if (!this.rawPath.startsWith('/'))
        throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
      this.query = parseQuery(q < 0 ? '' : target.slice(q + 1));
      const path = this.rawPath.slice(1);
      const slash = path.indexOf('/');
      const bucket = decodeComponent(slash < 0 ? path : path.slice(0, slash));
      const key = slash < 0 ? '' : decodeComponent(path.slice(slash + 1));
      this.bucket = bucket === '' ? undefined : bucket;
      this.key = key === '' ? undefined : key;
    } catch (error) {
      this.query = [];
      this.invalid =
        error instanceof S3Error
          ? error
          : new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
    }
  }

  /** The bucket of a bucket- or object-level request (routing guarantees there is one). */
  get bucketName(): string {
    if (this.bucket === undefined) throw new Error('request has no bucket');
    return this.bucket;
  }

  /** The key of an object-level request (routing guarantees there is one). */
  get objectKey(): string {
    if (this.key === undefined) throw new Error('request has no key');
    return this.key;
  }

  /** The path, for `<Resource>` in error documents. */
  get resource(): string {
    return this.rawPath;
  }

  /** The verified signature (set once authentication has succeeded). */
  get auth(): VerifiedAuth {
    if (!this.verified) throw new Error('request not authenticated');
    return this.verified;
  }

  set auth(value: VerifiedAuth) {
    this.verified = value;
  }

  /** First value of a query parameter. */
  param(name: string): string | undefined {
    return this.query.find((p) => p.name === name)?.value;
  }

  /** Whether a query parameter (sub-resource) is present. */
  has(name: string): boolean {
    return this.query.some((p) => p.name === name);
  }

  /**
   * Effective value of a header (lower-case name). For presigned requests, `x-amz-*` query parameters stand in for
   * headers that were hoisted into the URL.
   */
  header(name: string): string | undefined {
    const value = this.req.headers[name];
    if (value !== undefined) return Array.isArray(value) ? value.join(',') : value;
    if (this.verified?.presigned && name.startsWith('x-amz-') && !AUTH_QUERY_PARAMS.has(name)) {
      return this.query.find((p) => p.name.toLowerCase() === name)?.value;
    }
    return undefined;
  }

  /** All effective headers whose name starts with `prefix` (lower-case), as `[name, value]`. */
  headersWithPrefix(prefix: string): Array<[string, string]> {
    const names = new Set(Object.keys(this.req.headers).filter((n) => n.startsWith(prefix)));
    if (this.verified?.presigned) {
      for (const p of this.query) {
        const lower = p.name.toLowerCase();
        if (lower.startsWith(prefix) && !AUTH_QUERY_PARAMS.has(lower)) names.add(lower);
      }
    }
    return [...names].map((n) => [n, this.header(n) ?? '']);
  }

  /** Sends a response with an optional body (never for HEAD). */
  send(status: number, headers: OutgoingHttpHeaders = {}, body?: string): void {
    const payload = body === undefined || this.method === 'HEAD' ? undefined : Buffer.from(body, 'utf8');
    const length =
      payload?.length ?? (body === undefined && status !== 204 && status !== 304 ? 0 : undefined);
    this.res.writeHead(status, {
      ...headers,
      ...(length === undefined ? {} : { 'Content-Length': String(length) }),
    });
    this.res.end(payload);
  }

  /** Sends an XML document. */
  sendXml(status: number, xml: string, headers: OutgoingHttpHeaders = {}): void {
    this.send(status, { 'Content-Type': 'application/xml', ...headers }, xml);
  }
}
