/**
 * Streaming decoder of `Content-Encoding: aws-chunked` bodies, in the unsigned form
 * (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `<hex-size>\r\n<data>\r\n … 0\r\n<trailers>\r\n`) and the signed forms
 * (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: `<hex-size>;chunk-signature=<sig>\r\n<data>\r\n …`), whose
 * chunk signatures (and trailer signature) are verified as the bytes stream through.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { errors, S3Error } from './errors';
import {
  chunkStringToSign,
  EMPTY_SHA256,
  hmacHex,
  sha256Hex,
  signaturesEqual,
  trailerStringToSign,
} from './sigv4';

/** Key material to verify a chunk-signature chain. */
export interface ChunkSigning {
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
  /** The signature of the request itself: the first "previous signature" of the chain. */
  readonly seedSignature: string;
}

/** Options of {@link AwsChunkedDecoder}. */
export interface AwsChunkedOptions {
  /** Verify chunk signatures with this key material; absent for unsigned chunked bodies. */
  readonly signing?: ChunkSigning;
  /** Whether the trailing headers carry an `x-amz-trailer-signature` (the signed `-TRAILER` variant). */
  readonly signedTrailer?: boolean;
}

const MAX_LINE = 16 * 1024;
const LF = 0x0a;

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

const malformed = (what: string) => errors.invalidRequest(`Malformed aws-chunked body: ${what}`);
const chunkSignatureMismatch = () =>
  new S3Error(
    'SignatureDoesNotMatch',
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );

/** Decodes an aws-chunked body into its payload; trailing headers end up in {@link trailers}. */
export class AwsChunkedDecoder extends Transform {
  /** Trailing headers (lower-cased names), available once the stream has finished. */
  readonly trailers = new Map<string, string>();
  /** Number of payload bytes decoded so far. */
  decodedLength = 0;

  private state: State = 'size';
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private remaining = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature: string | undefined;
  private previousSignature: string;
  private trailerCanonical = '';
  private trailerSigned = false;

  constructor(private readonly options: AwsChunkedOptions = {}) {
    super();
    this.previousSignature = options.signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // Without a checksum the SDK ends an unsigned body right after `0\r\n`, with no closing blank line.
    const endedAfterLastChunk =
      this.state === 'trailer' &&
      this.pendingLength === 0 &&
      this.trailers.size === 0 &&
      !this.options.signedTrailer;
    if (this.state !== 'done' && !endedAfterLastChunk) {
      callback(errors.incompleteBody());
      return;
    }
    callback();
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, chunk.length - offset);
        const slice = chunk.subarray(offset, offset + n);
        this.chunkHash?.update(slice);
        this.push(slice);
        this.remaining -= n;
        this.decodedLength += n;
        offset += n;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      if (this.state === 'done') throw malformed('data after the final chunk');
      const newline = chunk.indexOf(LF, offset);
      const end = newline < 0 ? chunk.length : newline + 1;
      this.pending.push(chunk.subarray(offset, end));
      this.pendingLength += end - offset;
      offset = end;
      if (this.pendingLength > MAX_LINE) throw malformed('line too long');
      if (newline >= 0) this.handleLine(this.takeLine());
    }
  }

  private takeLine(): string {
    const line = Buffer.concat(this.pending, this.pendingLength).toString('latin1');
    this.pending = [];
    this.pendingLength = 0;
    if (!line.endsWith('\r\n')) throw malformed('lines must end with CRLF');
    return line.slice(0, -2);
  }

  private handleLine(line: string): void {
    switch (this.state) {
      case 'size':
        this.startChunk(line);
        return;
      case 'data-end':
        if (line !== '') throw malformed('chunk data longer than its declared size');
        this.verifyChunk(this.chunkHash?.digest('hex') ?? EMPTY_SHA256);
        this.state = 'size';
        return;
      case 'trailer':
        this.trailerLine(line);
        return;
      default:
        throw malformed('unexpected data');
    }
  }

  private startChunk(line: string): void {
    const m = /^([0-9a-fA-F]{1,15})((?:;[^;]*)*)$/.exec(line);
    if (!m) throw malformed(`invalid chunk header "${line.slice(0, 80)}"`);
    const size = Number.parseInt(m[1] ?? '', 16);
    const extensions = new Map<string, string>();
    for (const ext of (m[2] ?? '').split(';').slice(1)) {
      const eq = ext.indexOf('=');
      extensions.set((eq < 0 ? ext : ext.slice(0, eq)).trim(), eq < 0 ? '' : ext.slice(eq + 1).trim());
    }
    if (this.options.signing) {
      this.chunkSignature = extensions.get('chunk-signature');
      if (this.chunkSignature === undefined) throw malformed('missing chunk-signature');
    }
    if (size === 0) {
      this.verifyChunk(EMPTY_SHA256);
      this.state = 'trailer';
      return;
    }
    this.remaining = size;
    this.chunkHash = this.options.signing ? createHash('sha256') : undefined;
    this.state = 'data';
  }

  private verifyChunk(dataSha256: string): void {
    const signing = this.options.signing;
    if (!signing) return;
    const sts = chunkStringToSign(signing.amzDate, signing.scope, this.previousSignature, dataSha256);
    const expected = hmacHex(signing.signingKey, sts);
    if (!signaturesEqual(expected, this.chunkSignature ?? '')) throw chunkSignatureMismatch();
    this.previousSignature = expected;
    this.chunkHash = undefined;
  }

  private trailerLine(line: string): void {
    if (line === '') {
      if (this.options.signedTrailer && !this.trailerSigned) {
        throw new S3Error('MalformedTrailerError', 400, 'The request contained no x-amz-trailer-signature.');
      }
      this.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new S3Error(
        'MalformedTrailerError',
        400,
        'The request contained trailing data that was not well-formed.',
      );
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      const signing = this.options.signing;
      if (!signing || !this.options.signedTrailer) throw malformed('unexpected trailer signature');
      const sts = trailerStringToSign(
        signing.amzDate,
        signing.scope,
        this.previousSignature,
        sha256Hex(this.trailerCanonical),
      );
      if (!signaturesEqual(hmacHex(signing.signingKey, sts), value)) throw chunkSignatureMismatch();
      this.trailerSigned = true;
      return;
    }
    if (this.trailerSigned) throw malformed('trailer after the trailer signature');
    this.trailers.set(name, value);
    this.trailerCanonical += `${name}:${value}\n`;
  }
}
