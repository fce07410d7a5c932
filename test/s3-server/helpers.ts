/**
 * Shared helpers of the S3 server conformance suite: SDK clients in both checksum modes, a controllable clock,
 * and an independent SigV4 signer + raw HTTP client for requests the SDK cannot produce (aws-chunked bodies with
 * chunk signatures, hand-made trailers, malformed input). The signer is checked against AWS's published example
 * signatures in `sigv4.test.ts`, so it does not share the server's assumptions.
 */

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { expect } from '@jest/globals';
import { DEFAULT_CREDENTIALS, type S3Server } from '../support/s3-server/index';

/** 1 MiB. */
export const MiB = 1024 * 1024;

/** Credentials the server accepts by default. */
export const CREDENTIALS = DEFAULT_CREDENTIALS;

/** A clock whose offset from real time tests can move. */
export function testClock(): { now: () => Date; advance: (ms: number) => void; reset: () => void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
    reset: () => {
      offset = 0;
    },
  };
}

/**
 * An SDK client for the server. `checksums: 'default'` keeps SDK defaults (CRC32 checksums, aws-chunked trailers for
 * streams); `'when-required'` sets `requestChecksumCalculation: 'WHEN_REQUIRED'`.
 */
export function s3Client(
  server: Pick<S3Server, 'endpoint' | 'region'>,
  checksums: 'default' | 'when-required',
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    ...(checksums === 'when-required'
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
    ...extra,
  });
}

/** Deterministic pseudo-random bytes (xorshift32; fast enough for tens of MiB). */
export function testData(size: number, seed = 1): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, size);
}

/** A Buffer as a fetch body (the DOM typings want an ArrayBuffer-backed view). */
export function fetchBody(data: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.length);
}

/** Hex SHA-256. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hex MD5. */
export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Base64 big-endian CRC32 (S3's x-amz-checksum-crc32 encoding), computed without node:zlib. */
export function crc32Base64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

/** Reads an SDK body (or any async iterable of bytes) fully. */
export async function readAll(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body ?? []) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Files under a directory of the server's data dir (empty if it does not exist). */
export async function filesIn(server: S3Server, ...path: string[]): Promise<string[]> {
  return readdir(join(server.dataDir, ...path)).catch(() => []);
}

/** Polls until `check` passes (or throws its last failure after `timeoutMs`). */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** A unique key per test. */
export function uniqueKey(prefix: string): string {
  return `${prefix}/${randomBytes(6).toString('hex')}`;
}

// ---- independent SigV4 signer ------------------------------------------------------------------------------------

/** RFC 3986 encoding as SigV4 requires (unreserved characters kept). */
export function awsEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Derives a SigV4 signing key. */
export function deriveSigningKey(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

/** Formats a date as `YYYYMMDDTHHMMSSZ`. */
export function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** A request to sign: path is the decoded key path (`/bucket/key`), query is decoded. */
export interface SignInput {
  readonly method: string;
  readonly path: string;
  readonly query?: ReadonlyArray<readonly [string, string]>;
  /** Headers to send and sign (lower-case names). `host`, `x-amz-date` and `x-amz-content-sha256` are added. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly host: string;
  readonly payloadHash: string;
  readonly date?: Date;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

/** Signature parts, for callers that chain chunk signatures. */
export interface SignedRequest {
  /** Encoded path + query, for the request line. */
  readonly target: string;
  readonly headers: Record<string, string>;
  readonly signature: string;
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
  readonly canonicalRequest: string;
}

/** Signs a request with an `Authorization` header (header-based SigV4). */
export function signRequest(input: SignInput): SignedRequest {
  const date = input.date ?? new Date();
  const region = input.region ?? 'us-east-1';
  const accessKeyId = input.accessKeyId ?? CREDENTIALS.accessKeyId;
  const secret = input.secretAccessKey ?? CREDENTIALS.secretAccessKey;
  const stamp = amzDate(date);
  const scope = `${stamp.slice(0, 8)}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = {
    ...input.headers,
    host: input.host,
    'x-amz-date': stamp,
    'x-amz-content-sha256': input.payloadHash,
  };
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const canonicalPath = awsEncode(input.path, true);
  const encodedQuery = (input.query ?? []).map(([k, v]) => `${awsEncode(k)}=${awsEncode(v)}`);
  const canonicalQuery = [...encodedQuery].sort().join('&');
  const canonicalHeaders = names
    .map((n) => `${n}:${String(headers[n]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    input.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    names.join(';'),
    input.payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = deriveSigningKey(secret, stamp.slice(0, 8), region);
  const signature = hmac(signingKey, stringToSign).toString('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  const target = `${canonicalPath}${encodedQuery.length > 0 ? `?${encodedQuery.join('&')}` : ''}`;
  return { target, headers, signature, signingKey, amzDate: stamp, scope, canonicalRequest };
}

/** Signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function chunkSignature(
  signed: Pick<SignedRequest, 'signingKey' | 'amzDate' | 'scope'>,
  previous: string,
  data: Buffer,
): string {
  const sts = [
    'AWS4-HMAC-SHA256-PAYLOAD',
    signed.amzDate,
    signed.scope,
    previous,
    sha256Hex(''),
    sha256Hex(data),
  ].join('\n');
  return hmac(signed.signingKey, sts).toString('hex');
}

/** Options of {@link awsChunked}. */
export interface ChunkedOptions {
  readonly chunkSize: number;
  /** Sign chunks, chaining from this request signature. */
  readonly signed?: SignedRequest;
  /** Trailing headers (`name: value`). */
  readonly trailers?: ReadonlyArray<readonly [string, string]>;
  /** Add `x-amz-trailer-signature` (signed trailer variant). */
  readonly signTrailer?: boolean;
}

/** Encodes a payload as an aws-chunked body. */
export function awsChunked(data: Buffer, options: ChunkedOptions): Buffer {
  const parts: Buffer[] = [];
  let previous = options.signed?.signature ?? '';
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += options.chunkSize) {
    chunks.push(data.subarray(offset, offset + options.chunkSize));
  }
  chunks.push(Buffer.alloc(0));
  for (const chunk of chunks) {
    let header = chunk.length.toString(16);
    if (options.signed) {
      previous = chunkSignature(options.signed, previous, chunk);
      header += `;chunk-signature=${previous}`;
    }
    parts.push(Buffer.from(`${header}\r\n`), chunk);
    if (chunk.length > 0) parts.push(Buffer.from('\r\n'));
  }
  let trailerText = '';
  for (const [name, value] of options.trailers ?? []) trailerText += `${name}:${value}\n`;
  for (const [name, value] of options.trailers ?? []) parts.push(Buffer.from(`${name}:${value}\r\n`));
  if (options.signTrailer && options.signed) {
    const sts = [
      'AWS4-HMAC-SHA256-TRAILER',
      options.signed.amzDate,
      options.signed.scope,
      previous,
      sha256Hex(trailerText),
    ].join('\n');
    parts.push(
      Buffer.from(`x-amz-trailer-signature:${hmac(options.signed.signingKey, sts).toString('hex')}\r\n`),
    );
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** A raw HTTP response. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Error code from an S3 XML error body, if any. */
  readonly code: string | undefined;
}

/** Sends a request with full control over headers (no automatic ones besides those node:http always adds). */
export function rawRequest(
  server: S3Server,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: server.port, method, path: target, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            code: /<Code>([^<]*)<\/Code>/.exec(text.toString('utf8'))?.[1],
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Signs and sends a request in one go (payload hash defaults to the body's SHA-256). */
export function signedRequest(
  server: S3Server,
  input: Omit<SignInput, 'host' | 'payloadHash'> & { payloadHash?: string; body?: Buffer | string },
): Promise<RawResponse> {
  const body = input.body ?? '';
  const signed = signRequest({
    ...input,
    host: `127.0.0.1:${server.port}`,
    payloadHash: input.payloadHash ?? sha256Hex(body),
  });
  const headers = { ...signed.headers, 'content-length': String(Buffer.byteLength(body)) };
  return rawRequest(server, input.method, signed.target, headers, body);
}

/** Asserts that an SDK call fails with the given S3 error code and HTTP status. */
export async function expectS3Error(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  await expect(promise).rejects.toMatchObject({
    name: code,
    $metadata: expect.objectContaining({ httpStatusCode: status }),
  });
}
