/**
 * Request-body intake: decodes aws-chunked bodies, hashes while streaming (MD5 for the ETag, SHA-256 when the
 * payload hash was signed, the declared `x-amz-checksum-*`), writes to a sink with backpressure, and only then
 * checks every digest, so callers can discard the received data when verification fails.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Checksum,
  type ChecksumAlgorithm,
  checksumHeader,
  createChecksum,
  isSupportedAlgorithm,
  KNOWN_ALGORITHMS,
} from './checksums';
import { AwsChunkedDecoder } from './chunked';
import { errors, S3Error } from './errors';
import type { VerifiedAuth } from './sigv4';
import type { StoredChecksum } from './store';

/** How a body is framed and what it must be verified against. */
export interface BodySpec {
  /** aws-chunked framing and its signing variant, if the body is aws-chunked. */
  readonly chunked?: { readonly signed: boolean; readonly signedTrailer: boolean };
  /** Number of payload bytes announced (Content-Length or x-amz-decoded-content-length), if any. */
  readonly declaredLength?: number;
  /** Hex SHA-256 the payload must match (signed payload). */
  readonly sha256?: string;
  /** Base64 MD5 from Content-MD5. */
  readonly contentMd5?: string;
  /** Additional checksum: algorithm and expected value (`undefined` when it comes in the trailer). */
  readonly checksum?: { readonly algorithm: ChecksumAlgorithm; readonly expected?: string };
}

/** Digests of a received body. */
export interface ReceivedBody {
  readonly size: number;
  readonly md5Hex: string;
  readonly checksum?: StoredChecksum;
}

type HeaderLookup = (name: string) => string | undefined;

function parseLength(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value.trim())) throw errors.invalidArgument(`Invalid ${name}`, name, value);
  return Number(value.trim());
}

/**
 * Works out a body's framing and expected digests from the (effective) request headers and the verified auth.
 * @throws S3Error for inconsistent or unsupported checksum headers.
 */
export function bodySpec(header: HeaderLookup, auth: VerifiedAuth): BodySpec {
  const payload = auth.payloadHash;
  const streaming = payload.startsWith('STREAMING-');
  const chunked = streaming
    ? {
        signed: payload.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
        signedTrailer: payload === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      }
    : undefined;
  const declaredLength = streaming
    ? parseLength(header('x-amz-decoded-content-length'), 'x-amz-decoded-content-length')
    : parseLength(header('content-length'), 'Content-Length');
  if (streaming && declaredLength === undefined) {
    throw new S3Error(
      'MissingContentLength',
      411,
      'You must provide the x-amz-decoded-content-length header.',
    );
  }

  const present = KNOWN_ALGORITHMS.filter((a) => header(checksumHeader(a)) !== undefined);
  if (present.length > 1) {
    throw errors.invalidRequest(
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  }
  const trailer = header('x-amz-trailer')?.trim().toLowerCase();
  let algorithmName: string | undefined = present[0];
  let expected: string | undefined = algorithmName && header(checksumHeader(algorithmName))?.trim();
  if (trailer !== undefined) {
    if (!chunked)
      throw errors.invalidRequest('The x-amz-trailer header requires an aws-chunked (STREAMING-*) payload.');
    const fromTrailer = KNOWN_ALGORITHMS.find((a) => checksumHeader(a) === trailer);
    if (!fromTrailer)
      throw errors.invalidRequest(
        `The value specified in the x-amz-trailer header is not supported: ${trailer}`,
      );
    if (algorithmName !== undefined) {
      throw errors.invalidRequest(
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      );
    }
    algorithmName = fromTrailer;
    expected = undefined;
  }
  const sdkAlgorithm = header('x-amz-sdk-checksum-algorithm')?.trim().toUpperCase();
  if (sdkAlgorithm !== undefined && algorithmName === undefined) {
    throw errors.invalidRequest(
      'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
    );
  }
  if (sdkAlgorithm !== undefined && sdkAlgorithm !== algorithmName) {
    throw errors.invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  let checksum: BodySpec['checksum'];
  if (algorithmName !== undefined) {
    if (!isSupportedAlgorithm(algorithmName))
      throw errors.notImplemented(`checksum algorithm ${algorithmName}`);
    checksum = { algorithm: algorithmName, expected };
  }

  const contentMd5 = header('content-md5')?.trim();
  if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').length !== 16) {
    throw new S3Error('InvalidDigest', 400, 'The Content-MD5 you specified was invalid.', {
      'Content-MD5': contentMd5,
    });
  }
  return {
    chunked,
    declaredLength,
    sha256: /^[0-9a-f]{64}$/.test(payload) ? payload : undefined,
    contentMd5,
    checksum,
  };
}

/** Hashes bytes as they pass and enforces a size ceiling. */
class Digester extends Transform {
  readonly md5 = createHash('md5');
  readonly sha256: Hash | undefined;
  readonly checksum: Checksum | undefined;
  size = 0;

  constructor(
    spec: BodySpec,
    private readonly maxSize: number,
  ) {
    super();
    this.sha256 = spec.sha256 ? createHash('sha256') : undefined;
    this.checksum = spec.checksum ? createChecksum(spec.checksum.algorithm) : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxSize) {
      callback(new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size'));
      return;
    }
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.checksum?.update(chunk);
    callback(null, chunk);
  }
}

/**
 * Streams a request body through decoding and hashing into `sink`, then verifies it.
 * On failure the request is drained (so an error response can still be delivered) and the error rethrown; the
 * caller owns cleaning up whatever `sink` wrote.
 */
export async function receiveBody(
  req: IncomingMessage,
  spec: BodySpec,
  auth: VerifiedAuth,
  sink: Writable,
  maxSize: number,
): Promise<ReceivedBody> {
  const decoder = spec.chunked
    ? new AwsChunkedDecoder({
        signing: spec.chunked.signed
          ? {
              signingKey: auth.signingKey,
              amzDate: auth.amzDate,
              scope: auth.scope,
              seedSignature: auth.signature,
            }
          : undefined,
        signedTrailer: spec.chunked.signedTrailer,
      })
    : undefined;
  const digester = new Digester(spec, maxSize);
  const first: Transform = decoder ?? digester;
  const onClose = () => {
    if (!req.complete) first.destroy(errors.incompleteBody());
  };
  const onError = (error: Error) => first.destroy(error);
  req.once('close', onClose);
  req.once('error', onError);
  req.pipe(first);
  try {
    if (decoder) await pipeline(decoder, digester, sink);
    else await pipeline(digester, sink);
  } catch (error) {
    req.unpipe(first);
    req.resume();
    throw error;
  } finally {
    req.off('close', onClose);
    req.off('error', onError);
  }
  return verify(spec, digester, decoder?.trailers);
}

function verify(
  spec: BodySpec,
  digester: Digester,
  trailers: ReadonlyMap<string, string> | undefined,
): ReceivedBody {
  if (spec.declaredLength !== undefined && digester.size !== spec.declaredLength)
    throw errors.incompleteBody();
  if (spec.sha256) {
    const computed = digester.sha256?.digest('hex') ?? '';
    if (computed !== spec.sha256) {
      throw new S3Error(
        'XAmzContentSHA256Mismatch',
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        { ClientComputedContentSHA256: spec.sha256, S3ComputedContentSHA256: computed },
      );
    }
  }
  const md5 = digester.md5.digest();
  if (spec.contentMd5 !== undefined && !md5.equals(Buffer.from(spec.contentMd5, 'base64'))) {
    throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.', {
      ExpectedDigest: spec.contentMd5,
      CalculatedDigest: md5.toString('base64'),
    });
  }
  let checksum: StoredChecksum | undefined;
  if (spec.checksum && digester.checksum) {
    const { algorithm } = spec.checksum;
    const expected = spec.checksum.expected ?? trailers?.get(checksumHeader(algorithm));
    if (expected === undefined) {
      throw new S3Error(
        'MalformedTrailerError',
        400,
        `The request did not contain the declared trailer ${checksumHeader(algorithm)}.`,
      );
    }
    const computed = digester.checksum.digest();
    if (computed !== expected) throw errors.badDigest(algorithm);
    checksum = { algorithm, value: computed };
  }
  return { size: digester.size, md5Hex: md5.toString('hex'), checksum };
}

/** A sink that collects a small body in memory, failing beyond `limit` bytes. */
export class MemorySink extends Writable {
  private readonly chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.length += chunk.length;
    if (this.length > this.limit) {
      callback(new S3Error('MaxMessageLengthExceeded', 400, 'Your request was too big.'));
      return;
    }
    this.chunks.push(chunk);
    callback();
  }

  /** The collected body as UTF-8 text. */
  text(): string {
    return Buffer.concat(this.chunks, this.length).toString('utf8');
  }
}
