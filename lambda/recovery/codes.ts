/**
 * MFA recovery codes: generation, the typed form, and their scrypt hashes (`node:crypto`, a salt per code).
 *
 * A code is 12 characters of Crockford's base32: a 2-character selector, stored in clear so a recovery finds the
 * one row to check, and a 10-character secret (50 bits), stored only as `scrypt$N$r$p$salt$hash`. Checking a code
 * therefore costs exactly one scrypt computation whether or not a row was found (a missing row is checked against a
 * decoy hash), which keeps the answer's timing independent of who exists and which codes they hold.
 */
import { createHash, randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';
import { RECOVERY_CODE_ALPHABET, RECOVERY_CODE_COUNT } from '../../contract/api/recovery';

/** scrypt's cost: N = 2^14, r = 8 (16 MiB per hash), p = 1; 32-byte output, 16-byte salt. */
export const SCRYPT_PARAMS = { N: 2 ** 14, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Node's default `maxmem` (32 MiB) is exactly 2 × 128 × N × r: a little headroom for larger N later. */
const MAX_MEM = 64 * 1024 * 1024;

const SELECTOR_LENGTH = 2;
const SECRET_LENGTH = 10;

/** A code split into the part that finds its row and the part that is hashed. */
export interface ParsedCode {
  readonly selector: string;
  readonly secret: string;
}

/** A freshly generated code, as shown once to its owner. */
export interface GeneratedCode extends ParsedCode {
  /** `xxxx-xxxx-xxxx` */
  readonly display: string;
}

/** Hashes and checks secrets; tests wrap it to count the scrypt computations a request makes. */
export interface CodeHasher {
  hash(secret: string): Promise<string>;
  /** True when `stored` is the hash of `secret`. Always computes scrypt once, even for a malformed `stored`. */
  verify(secret: string, stored: string): Promise<boolean>;
}

const randomChars = (n: number): string =>
  Array.from({ length: n }, () => RECOVERY_CODE_ALPHABET[randomInt(RECOVERY_CODE_ALPHABET.length)]).join('');

/** `RECOVERY_CODE_COUNT` codes with distinct selectors. */
export function generateCodes(count = RECOVERY_CODE_COUNT): GeneratedCode[] {
  const selectors = new Set<string>();
  const codes: GeneratedCode[] = [];
  while (codes.length < count) {
    const selector = randomChars(SELECTOR_LENGTH);
    if (selectors.has(selector)) continue;
    selectors.add(selector);
    const secret = randomChars(SECRET_LENGTH);
    const all = selector + secret;
    codes.push({ selector, secret, display: `${all.slice(0, 4)}-${all.slice(4, 8)}-${all.slice(8)}` });
  }
  return codes;
}

/**
 * A code as typed: case, hyphens and spaces ignored, `i`/`l` read as `1` and `o` as `0` (Crockford).
 * `undefined` when what is left is not 12 characters of the alphabet.
 */
export function parseCode(typed: string): ParsedCode | undefined {
  const plain = typed.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (plain.length !== SELECTOR_LENGTH + SECRET_LENGTH) return undefined;
  if ([...plain].some((c) => !RECOVERY_CODE_ALPHABET.includes(c))) return undefined;
  return { selector: plain.slice(0, SELECTOR_LENGTH), secret: plain.slice(SELECTOR_LENGTH) };
}

const derive = (secret: string, salt: Buffer, params: { N: number; r: number; p: number }) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, salt, KEY_BYTES, { ...params, maxmem: MAX_MEM }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );

const b64 = (b: Buffer) => b.toString('base64url');

/** Reads `scrypt$N$r$p$salt$hash`; `undefined` when it is not one of ours. */
function parseHash(stored: string) {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] as string, 'base64url');
  const hash = Buffer.from(parts[5] as string, 'base64url');
  if (![N, r, p].every(Number.isSafeInteger) || salt.length === 0 || hash.length !== KEY_BYTES)
    return undefined;
  if (N !== SCRYPT_PARAMS.N || r !== SCRYPT_PARAMS.r || p !== SCRYPT_PARAMS.p) return undefined;
  return { params: { N, r, p }, salt, hash };
}

/**
 * A decoy with the shape of a stored hash: random salt and random output, of no secret at all, so nothing verifies
 * against it. Checked instead of a row that does not exist, at the same cost.
 */
export const DECOY_HASH = `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(KEY_BYTES))}`;

const DECOY = parseHash(DECOY_HASH) as NonNullable<ReturnType<typeof parseHash>>;

export const scryptHasher: CodeHasher = {
  async hash(secret) {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(secret, salt, SCRYPT_PARAMS);
    return `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${b64(salt)}$${b64(key)}`;
  },
  async verify(secret, stored) {
    const own = stored === DECOY_HASH ? undefined : parseHash(stored);
    const against = own ?? DECOY;
    const key = await derive(secret, against.salt, against.params);
    return timingSafeEqual(key, against.hash) && own !== undefined;
  },
};

/**
 * The lockout key of a user name as typed: trimmed, NFKC, lower case (sign-in is case-insensitive), SHA-256.
 * The attempts table holds this, never the name.
 */
export const loginKey = (username: string): string =>
  createHash('sha256').update(username.trim().normalize('NFKC').toLowerCase(), 'utf8').digest('hex');
