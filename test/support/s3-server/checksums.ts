/**
 * S3 "additional checksums" (`x-amz-checksum-*`): incremental CRC32, CRC32C, SHA-1 and SHA-256, each rendered as
 * S3 does (base64 of the big-endian digest). CRC64NVME is not implemented.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** Checksum algorithms the server verifies. */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256';

/** All algorithm names S3 knows, including those this server cannot verify. */
export const KNOWN_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;

/** An incremental checksum. */
export interface Checksum {
  update(data: Buffer): void;
  /** Base64 digest; call once. */
  digest(): string;
}

/** Header (and trailer) name that carries an algorithm's checksum, e.g. `x-amz-checksum-crc32`. */
export function checksumHeader(algorithm: string): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** Element name in S3's XML documents, e.g. `ChecksumCRC32`. */
export function checksumElement(algorithm: string): string {
  return `Checksum${algorithm}`;
}

/** Whether the server can verify the named algorithm. */
export function isSupportedAlgorithm(algorithm: string): algorithm is ChecksumAlgorithm {
  return algorithm === 'CRC32' || algorithm === 'CRC32C' || algorithm === 'SHA1' || algorithm === 'SHA256';
}

function uint32Base64(value: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString('base64');
}

class Crc32 implements Checksum {
  private value = 0;
  update(data: Buffer): void {
    this.value = crc32(data, this.value);
  }
  digest(): string {
    return uint32Base64(this.value);
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

class Crc32c implements Checksum {
  private value = 0xffffffff;
  update(data: Buffer): void {
    let c = this.value;
    for (let i = 0; i < data.length; i++)
      c = (CRC32C_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    this.value = c;
  }
  digest(): string {
    return uint32Base64(this.value ^ 0xffffffff);
  }
}

class HashChecksum implements Checksum {
  private readonly hash: Hash;
  constructor(algorithm: 'sha1' | 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(data: Buffer): void {
    this.hash.update(data);
  }
  digest(): string {
    return this.hash.digest('base64');
  }
}

/** Creates an incremental checksum for a supported algorithm. */
export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32();
    case 'CRC32C':
      return new Crc32c();
    case 'SHA1':
      return new HashChecksum('sha1');
    case 'SHA256':
      return new HashChecksum('sha256');
  }
}
