/**
 * SigV4 verification against the worked examples AWS publishes for S3 (header auth, presigned URL, and the
 * chunk-signature chain of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload). The same vectors validate the suite's
 * own test signer, which the other files use to craft requests by hand.
 */

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from '@jest/globals';
import { createChecksum } from '../support/s3-server/checksums';
import { AwsChunkedDecoder } from '../support/s3-server/chunked';
import { S3Error } from '../support/s3-server/errors';
import { parseRange } from '../support/s3-server/objects';
import {
  type AuthConfig,
  authenticate,
  canonicalQueryString,
  canonicalUri,
  parseQuery,
  type SignableRequest,
} from '../support/s3-server/sigv4';
import { compareKeys } from '../support/s3-server/store';
import { awsChunked, crc32Base64, signRequest } from './helpers';

const EXAMPLE = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const EXAMPLE_DATE = new Date('2013-05-24T00:00:00Z');
const config: AuthConfig = {
  credentials: new Map([[EXAMPLE.accessKeyId, EXAMPLE.secretAccessKey]]),
  region: 'us-east-1',
  now: () => EXAMPLE_DATE,
};

function request(method: string, target: string, headers: Record<string, string>): SignableRequest {
  const q = target.indexOf('?');
  return {
    method,
    rawPath: q < 0 ? target : target.slice(0, q),
    query: parseQuery(q < 0 ? '' : target.slice(q + 1)),
    rawHeaders: Object.entries(headers).flat(),
  };
}

function authHeader(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${EXAMPLE.accessKeyId}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

const GET_OBJECT_HEADERS = {
  Host: 'examplebucket.s3.amazonaws.com',
  Range: 'bytes=0-9',
  'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'x-amz-date': '20130524T000000Z',
};
const GET_OBJECT_SIGNATURE = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

describe('SigV4 header authentication (AWS examples)', () => {
  it('verifies the GET Object example', () => {
    const auth = authenticate(
      request('GET', '/test.txt', {
        ...GET_OBJECT_HEADERS,
        Authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', GET_OBJECT_SIGNATURE),
      }),
      config,
    );
    expect(auth).toMatchObject({
      accessKeyId: EXAMPLE.accessKeyId,
      presigned: false,
      signature: GET_OBJECT_SIGNATURE,
    });
  });

  it('verifies the PUT Object example (path with a reserved character, Date header signed)', () => {
    const signature = '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd';
    const auth = authenticate(
      request('PUT', '/test%24file.text', {
        Host: 'examplebucket.s3.amazonaws.com',
        Date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        Authorization: authHeader('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', signature),
      }),
      config,
    );
    expect(auth.payloadHash).toBe('44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
  });

  it('verifies the ListObjects example (sorted query)', () => {
    const signature = '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7';
    expect(() =>
      authenticate(
        request('GET', '/?max-keys=2&prefix=J', {
          Host: 'examplebucket.s3.amazonaws.com',
          'x-amz-date': '20130524T000000Z',
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          Authorization: authHeader('host;x-amz-content-sha256;x-amz-date', signature),
        }),
        config,
      ),
    ).not.toThrow();
  });

  it('rejects the same request once a signed header changes', () => {
    const tampered = request('GET', '/test.txt', {
      ...GET_OBJECT_HEADERS,
      Range: 'bytes=0-10',
      Authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', GET_OBJECT_SIGNATURE),
    });
    expect(() => authenticate(tampered, config)).toThrow(
      expect.objectContaining({ code: 'SignatureDoesNotMatch', status: 403 }),
    );
  });

  it('treats header values canonically (trimmed, inner blanks collapsed)', () => {
    const spaced = request('GET', '/test.txt', {
      ...GET_OBJECT_HEADERS,
      Range: '  bytes=0-9  ',
      Authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', GET_OBJECT_SIGNATURE),
    });
    expect(() => authenticate(spaced, config)).not.toThrow();
  });

  it('refuses requests whose date is more than 15 minutes off', () => {
    const late = { ...config, now: () => new Date(EXAMPLE_DATE.getTime() + 16 * 60_000) };
    const req = request('GET', '/test.txt', {
      ...GET_OBJECT_HEADERS,
      Authorization: authHeader('host;range;x-amz-content-sha256;x-amz-date', GET_OBJECT_SIGNATURE),
    });
    expect(() => authenticate(req, late)).toThrow(
      expect.objectContaining({ code: 'RequestTimeTooSkewed', status: 403 }),
    );
  });

  it('the suite signer reproduces the published signature', () => {
    const signed = signRequest({
      method: 'GET',
      path: '/test.txt',
      host: 'examplebucket.s3.amazonaws.com',
      headers: { range: 'bytes=0-9' },
      payloadHash: GET_OBJECT_HEADERS['x-amz-content-sha256'],
      date: EXAMPLE_DATE,
      ...EXAMPLE,
    });
    expect(signed.signature).toBe(GET_OBJECT_SIGNATURE);
  });
});

describe('SigV4 presigned URLs (AWS example)', () => {
  const url =
    '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const host = { Host: 'examplebucket.s3.amazonaws.com' };

  it('verifies the example URL within its validity', () => {
    const auth = authenticate(request('GET', url, host), {
      ...config,
      now: () => new Date('2013-05-24T23:59:59Z'),
    });
    expect(auth).toMatchObject({ presigned: true, payloadHash: 'UNSIGNED-PAYLOAD' });
  });

  it('reports expiry after X-Amz-Date + X-Amz-Expires', () => {
    const expired = { ...config, now: () => new Date('2013-05-25T00:00:01Z') };
    expect(() => authenticate(request('GET', url, host), expired)).toThrow(
      expect.objectContaining({ code: 'AccessDenied', status: 403, message: 'Request has expired' }),
    );
  });

  it('rejects a changed query parameter', () => {
    expect(() => authenticate(request('GET', `${url}&partNumber=2`, host), config)).toThrow(
      expect.objectContaining({ code: 'SignatureDoesNotMatch' }),
    );
  });

  it('rejects unknown access keys', () => {
    const other = { ...config, credentials: new Map([['SOMEONE-ELSE', 'x']]) };
    expect(() => authenticate(request('GET', url, host), other)).toThrow(
      expect.objectContaining({ code: 'InvalidAccessKeyId' }),
    );
  });
});

describe('aws-chunked signed payload (AWS example)', () => {
  const headers = {
    Host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'Content-Encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'Content-Length': '66824',
  };
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const signedHeaders =
    'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class';
  const payload = Buffer.alloc(66_560, 'a');

  async function decode(body: Buffer, decoder: AwsChunkedDecoder): Promise<Buffer> {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([body]),
      decoder,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    return Buffer.concat(out);
  }

  it('verifies the seed signature and the published chunk-signature chain', async () => {
    const auth = authenticate(
      request('PUT', '/examplebucket/chunkObject.txt', {
        ...headers,
        Authorization: authHeader(signedHeaders, seed),
      }),
      config,
    );
    expect(auth.signature).toBe(seed);
    const body = Buffer.concat([
      Buffer.from(
        '10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n',
      ),
      payload.subarray(0, 65_536),
      Buffer.from(
        '\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n',
      ),
      payload.subarray(65_536),
      Buffer.from(
        '\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n',
      ),
    ]);
    expect(body.length).toBe(66_824);
    const signing = {
      signingKey: auth.signingKey,
      amzDate: auth.amzDate,
      scope: auth.scope,
      seedSignature: seed,
    };
    expect((await decode(body, new AwsChunkedDecoder({ signing }))).equals(payload)).toBe(true);
    // The suite's encoder produces exactly the published body.
    expect(
      awsChunked(payload, {
        chunkSize: 65_536,
        signed: { ...auth, signature: seed, target: '', headers: {}, canonicalRequest: '' },
      }).equals(body),
    ).toBe(true);

    const tampered = Buffer.from(body);
    tampered[200] = 'b'.charCodeAt(0);
    await expect(decode(tampered, new AwsChunkedDecoder({ signing }))).rejects.toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
  });

  it('fails a truncated body', async () => {
    const body = Buffer.from('5\r\nhello\r\n');
    await expect(decode(body, new AwsChunkedDecoder())).rejects.toBeInstanceOf(S3Error);
  });
});

describe('canonicalisation details', () => {
  it('encodes the path once, never double-encoding already-encoded keys', () => {
    expect(canonicalUri('/bucket/a%20b/c%2Bd%21')).toBe('/bucket/a%20b/c%2Bd%21');
    expect(canonicalUri('/bucket/a+b/%7Etilde')).toBe('/bucket/a%2Bb/~tilde');
    expect(canonicalUri('/bucket/%E2%82%AC')).toBe('/bucket/%E2%82%AC');
  });

  it('sorts the query by encoded name and value, keeps empty values', () => {
    expect(canonicalQueryString(parseQuery('uploads&b=2&a=z&a=y&X-Amz-Signature=s'), 'X-Amz-Signature')).toBe(
      'a=y&a=z&b=2&uploads=',
    );
  });

  it('orders keys by UTF-8 bytes, as S3 lists them', () => {
    const keys = ['\u{1F600}', '\uFFFD', 'b', 'a'];
    expect([...keys].sort(compareKeys)).toEqual(['a', 'b', '\uFFFD', '\u{1F600}']);
  });

  it('parses byte ranges like S3', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
  });

  it('computes checksums in S3 encoding', () => {
    const data = Buffer.from('123456789');
    const crc32 = createChecksum('CRC32');
    crc32.update(data);
    expect(crc32.digest()).toBe(crc32Base64(data));
    const crc32c = createChecksum('CRC32C');
    crc32c.update(data.subarray(0, 4));
    crc32c.update(data.subarray(4));
    expect(Buffer.from(crc32c.digest(), 'base64').readUInt32BE()).toBe(0xe3069283);
  });
});
