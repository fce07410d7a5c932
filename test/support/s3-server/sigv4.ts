/**
 * AWS Signature Version 4 verification for S3, in both forms (Authorization header and presigned query), plus the
 * string-to-sign helpers of the aws-chunked streaming variants. The canonical request is rebuilt exactly as S3
 * does: the path is normalised to single URI encoding (never double-encoded), the query is sorted by encoded
 * name then value, header values are trimmed with inner whitespace collapsed, and only signed headers count.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { errors, S3Error } from './errors';

/** The only signing algorithm S3 accepts from this server's clients. */
export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** SHA-256 of the empty string, hex. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Longest validity of a presigned URL, in seconds (7 days). */
export const MAX_PRESIGNED_EXPIRY = 604_800;
/** Largest tolerated distance between a header-signed request's date and the server clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** A decoded query parameter, in request order. */
export interface QueryParam {
  readonly name: string;
  readonly value: string;
}

/** What signature verification needs to know about a request. */
export interface SignableRequest {
  readonly method: string;
  /** The path exactly as it appeared on the request line (still percent-encoded). */
  readonly rawPath: string;
  readonly query: readonly QueryParam[];
  /** Node's `IncomingMessage.rawHeaders`: alternating names and values, duplicates preserved. */
  readonly rawHeaders: readonly string[];
}

/** Server-side configuration for verification. */
export interface AuthConfig {
  /** Access key id → secret access key. */
  readonly credentials: ReadonlyMap<string, string>;
  readonly region: string;
  readonly now: () => Date;
}

/** The outcome of a successful verification. */
export interface VerifiedAuth {
  readonly accessKeyId: string;
  readonly presigned: boolean;
  /** The payload hash that was signed: a hex SHA-256 or one of the `UNSIGNED-PAYLOAD`/`STREAMING-*` markers. */
  readonly payloadHash: string;
  /** Request timestamp in ISO 8601 basic format (`20130524T000000Z`). */
  readonly amzDate: string;
  /** Credential scope (`20130524/us-east-1/s3/aws4_request`). */
  readonly scope: string;
  /** The verified request signature: the seed of a chunk-signature chain. */
  readonly signature: string;
  readonly signingKey: Buffer;
}

/**
 * URI-encodes per SigV4: every byte except the unreserved `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex).
 * @param encodeSlash `false` keeps `/` as is (object key paths).
 */
export function uriEncode(value: string, encodeSlash = true): string {
  const encoded = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return encodeSlash ? encoded : encoded.replace(/%2F/g, '/');
}

/** Decodes a percent-encoded URI component, mapping malformed escapes to S3's `InvalidURI`. */
export function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  }
}

/** Canonical URI of an S3 request: each path segment decoded once, then encoded once. */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeComponent(segment)))
    .join('/');
}

/** Splits a raw query string into decoded parameters (`+` is literal, as in SigV4). */
export function parseQuery(rawQuery: string): QueryParam[] {
  return rawQuery
    .split('&')
    .filter((piece) => piece !== '')
    .map((piece) => {
      const eq = piece.indexOf('=');
      return eq < 0
        ? { name: decodeComponent(piece), value: '' }
        : { name: decodeComponent(piece.slice(0, eq)), value: decodeComponent(piece.slice(eq + 1)) };
    });
}

/** Canonical query string: encoded `name=value` pairs sorted by name then value, optionally omitting one name. */
export function canonicalQueryString(params: readonly QueryParam[], omit?: string): string {
  return params
    .filter((p) => p.name !== omit)
    .map((p) => [uriEncode(p.name), uriEncode(p.value)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Groups `rawHeaders` by lower-cased name, preserving the order of repeated values. */
export function headerValues(rawHeaders: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    const list = map.get(name);
    if (list) list.push(value);
    else map.set(name, [value]);
  }
  return map;
}

/** Canonical form of one header: values trimmed, runs of blanks collapsed, repeated values joined by commas. */
export function canonicalHeaderValue(values: readonly string[]): string {
  return values.map((v) => v.replace(/[ \t]+/g, ' ').trim()).join(',');
}

/** Inputs of {@link createCanonicalRequest}. */
export interface CanonicalRequestInput {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
}

/** Builds the SigV4 canonical request. */
export function createCanonicalRequest(input: CanonicalRequestInput): string {
  const headerLines = input.signedHeaders.map(
    (name) => `${name}:${canonicalHeaderValue(input.headers.get(name) ?? [])}\n`,
  );
  return [
    input.method,
    input.canonicalUri,
    input.canonicalQuery,
    headerLines.join(''),
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
}

/** Hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hex HMAC-SHA256. */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/**
 * The string to sign of a request. The canonical request is hashed as the bytes that were received: Node hands
 * header values over as Latin-1 strings, so UTF-8 header values (e.g. `x-amz-meta-*`) must not be re-encoded.
 */
export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(Buffer.from(canonicalRequest, 'latin1'))].join('\n');
}

/** The string to sign of one chunk of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body. */
export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  chunkSha256: string,
): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previousSignature, EMPTY_SHA256, chunkSha256].join(
    '\n',
  );
}

/** The string to sign of the trailing headers of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` body. */
export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  trailerSha256: string,
): string {
  return ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previousSignature, trailerSha256].join('\n');
}

const signingKeyCache = new Map<string, Buffer>();

/** Derives (and caches) the SigV4 signing key. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${secret}\n${date}\n${region}\n${service}`;
  let key = signingKeyCache.get(cacheKey);
  if (!key) {
    key = Buffer.from(`AWS4${secret}`, 'utf8');
    for (const part of [date, region, service, 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    if (signingKeyCache.size > 256) signingKeyCache.clear();
    signingKeyCache.set(cacheKey, key);
  }
  return key;
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, provided: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(provided)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(provided, 'hex'));
}

/** Parses an ISO 8601 basic timestamp (`20130524T000000Z`). */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== d ? undefined : date;
}

function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

const PAYLOAD_MARKERS = new Set([
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
]);

interface ParsedCredential {
  readonly accessKeyId: string;
  readonly secret: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

type MalformedError = (message: string) => S3Error;

const headerMalformed: MalformedError = (message) =>
  new S3Error('AuthorizationHeaderMalformed', 400, message);
const queryMalformed: MalformedError = (message) =>
  new S3Error('AuthorizationQueryParametersError', 400, message);

function parseCredential(value: string, malformed: MalformedError, config: AuthConfig): ParsedCredential {
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw malformed(
      `The authorization credential is malformed; it must be <access-key>/<date>/<region>/s3/aws4_request: ${value}`,
    );
  }
  const [accessKeyId, date, region, service, terminal] = parts as [string, string, string, string, string];
  const secret = config.credentials.get(accessKeyId);
  if (secret === undefined) {
    throw new S3Error(
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
      {
        AWSAccessKeyId: accessKeyId,
      },
    );
  }
  if (!/^\d{8}$/.test(date)) throw malformed(`Invalid credential date "${date}".`);
  if (region !== config.region) {
    throw malformed(
      `The authorization header is malformed; the region '${region}' is wrong; expecting '${config.region}'`,
    );
  }
  if (service !== 's3')
    throw malformed(
      `The authorization header is malformed; incorrect service "${service}". This endpoint belongs to "s3".`,
    );
  if (terminal !== 'aws4_request')
    throw malformed(`The authorization header is malformed; incorrect terminal "${terminal}".`);
  return { accessKeyId, secret, date, region, service };
}

function parseSignedHeaders(value: string, malformed: MalformedError): string[] {
  const names = value.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase()))
    throw malformed(`Invalid SignedHeaders "${value}".`);
  if (!names.includes('host')) throw malformed('The host header must be signed.');
  return names;
}

interface SignatureCheck {
  readonly request: SignableRequest;
  readonly headers: Map<string, string[]>;
  readonly credential: ParsedCredential;
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly canonicalQuery: string;
  readonly payloadHash: string;
  readonly provided: string;
  readonly presigned: boolean;
}

function checkSignature(check: SignatureCheck): VerifiedAuth {
  const { credential } = check;
  const canonicalRequest = createCanonicalRequest({
    method: check.request.method,
    canonicalUri: canonicalUri(check.request.rawPath),
    canonicalQuery: check.canonicalQuery,
    headers: check.headers,
    signedHeaders: check.signedHeaders,
    payloadHash: check.payloadHash,
  });
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const sts = stringToSign(check.amzDate, scope, canonicalRequest);
  const key = signingKey(credential.secret, credential.date, credential.region, credential.service);
  const expected = hmacHex(key, sts);
  if (!signaturesEqual(expected, check.provided)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      403,
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        AWSAccessKeyId: credential.accessKeyId,
        StringToSign: sts,
        SignatureProvided: check.provided,
        CanonicalRequest: canonicalRequest,
      },
    );
  }
  return {
    accessKeyId: credential.accessKeyId,
    presigned: check.presigned,
    payloadHash: check.payloadHash,
    amzDate: check.amzDate,
    scope,
    signature: expected,
    signingKey: key,
  };
}

function verifyHeaderAuth(
  request: SignableRequest,
  headers: Map<string, string[]>,
  authorization: string,
  config: AuthConfig,
): VerifiedAuth {
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    if (/^AWS\s/.test(authorization)) {
      throw errors.invalidRequest(
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    }
    throw headerMalformed('The authorization header is malformed; the algorithm is not supported.');
  }
  const fields = new Map<string, string>();
  for (const piece of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const credentialField = fields.get('Credential');
  const signedHeadersField = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credentialField === undefined || signedHeadersField === undefined || signature === undefined) {
    throw headerMalformed(
      'The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.',
    );
  }
  const credential = parseCredential(credentialField, headerMalformed, config);
  const signedHeaders = parseSignedHeaders(signedHeadersField, headerMalformed);

  const amzDateHeader = headers.get('x-amz-date')?.[0];
  const dateHeader = headers.get('date')?.[0];
  const requestDate =
    amzDateHeader !== undefined
      ? parseAmzDate(amzDateHeader)
      : dateHeader !== undefined && !Number.isNaN(Date.parse(dateHeader))
        ? new Date(Date.parse(dateHeader))
        : undefined;
  if (!requestDate)
    throw errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  const amzDate = amzDateHeader ?? formatAmzDate(requestDate);
  if (amzDate.slice(0, 8) !== credential.date) {
    throw headerMalformed(
      `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  const now = config.now();
  if (Math.abs(now.getTime() - requestDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      403,
      'The difference between the request time and the current time is too large.',
      {
        RequestTime: amzDate,
        ServerTime: now.toISOString(),
        MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
      },
    );
  }
  const payloadHash = headers.get('x-amz-content-sha256')?.[0];
  if (payloadHash === undefined)
    throw errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
  if (!PAYLOAD_MARKERS.has(payloadHash) && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw new S3Error(
      'InvalidArgument',
      400,
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
    );
  }
  return checkSignature({
    request,
    headers,
    credential,
    amzDate,
    signedHeaders,
    canonicalQuery: canonicalQueryString(request.query),
    payloadHash,
    provided: signature,
    presigned: false,
  });
}

function verifyPresigned(
  request: SignableRequest,
  headers: Map<string, string[]>,
  config: AuthConfig,
): VerifiedAuth {
  const param = (name: string): string | undefined => request.query.find((p) => p.name === name)?.value;
  if (param('X-Amz-Algorithm') !== ALGORITHM) {
    throw queryMalformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const credentialParam = param('X-Amz-Credential');
  const dateParam = param('X-Amz-Date');
  const expiresParam = param('X-Amz-Expires');
  const signedHeadersParam = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');
  if (
    credentialParam === undefined ||
    dateParam === undefined ||
    expiresParam === undefined ||
    signedHeadersParam === undefined ||
    signature === undefined
  ) {
    throw queryMalformed(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(credentialParam, queryMalformed, config);
  const signedHeaders = parseSignedHeaders(signedHeadersParam, queryMalformed);
  const requestDate = parseAmzDate(dateParam);
  if (!requestDate)
    throw queryMalformed(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (dateParam.slice(0, 8) !== credential.date) {
    throw queryMalformed(
      `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${dateParam.slice(0, 8)}".`,
    );
  }
  if (!/^\d{1,7}$/.test(expiresParam) || Number(expiresParam) < 1) {
    throw queryMalformed('X-Amz-Expires should be a number');
  }
  const expires = Number(expiresParam);
  if (expires > MAX_PRESIGNED_EXPIRY) {
    throw errors.accessDenied('X-Amz-Expires must be less than a week (in seconds) that is 604800', {
      'X-Amz-Expires': expiresParam,
    });
  }
  const now = config.now();
  if (now.getTime() > requestDate.getTime() + expires * 1000) {
    throw errors.accessDenied('Request has expired', {
      'X-Amz-Expires': expiresParam,
      Expires: new Date(requestDate.getTime() + expires * 1000).toISOString(),
      ServerTime: now.toISOString(),
    });
  }
  if (requestDate.getTime() - now.getTime() > MAX_CLOCK_SKEW_MS) {
    throw errors.accessDenied('Request is not valid yet', { ServerTime: now.toISOString() });
  }
  const contentSha = request.query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value;
  return checkSignature({
    request,
    headers,
    credential,
    amzDate: dateParam,
    signedHeaders,
    canonicalQuery: canonicalQueryString(request.query, 'X-Amz-Signature'),
    payloadHash: contentSha ?? 'UNSIGNED-PAYLOAD',
    provided: signature,
    presigned: true,
  });
}

/**
 * Verifies a request's SigV4 signature (header or presigned form).
 * @throws S3Error `AccessDenied` (no or expired authentication), `InvalidAccessKeyId`, `SignatureDoesNotMatch`,
 *   `RequestTimeTooSkewed`, `AuthorizationHeaderMalformed` / `AuthorizationQueryParametersError`.
 */
export function authenticate(request: SignableRequest, config: AuthConfig): VerifiedAuth {
  const headers = headerValues(request.rawHeaders);
  const authorization = headers.get('authorization');
  const presigned = request.query.some((p) => p.name === 'X-Amz-Algorithm' || p.name === 'X-Amz-Signature');
  if (authorization && presigned) {
    throw errors.invalidArgument(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified',
      'Authorization',
    );
  }
  if (authorization) {
    if (authorization.length > 1) throw headerMalformed('Multiple Authorization headers.');
    return verifyHeaderAuth(request, headers, authorization[0] ?? '', config);
  }
  if (presigned) return verifyPresigned(request, headers, config);
  throw errors.accessDenied();
}
