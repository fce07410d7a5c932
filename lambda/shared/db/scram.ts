/**
 * SCRAM-SHA-256 verifiers, so that no password Citadel sets ever reaches PostgreSQL (or its statement log) in clear:
 * the rotation sets passwords with them, and the migration trigger creates the reporting login with one.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's default `scram_iterations`. */
const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, PostgreSQL's
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`). `ALTER ROLE ... PASSWORD '<verifier>'`
 * stores it as is, so the plain password never reaches the server, its statement log or pgaudit.
 * Only printable ASCII is accepted: SASLprep leaves it unchanged, so every client computes the same key.
 */
export async function scramVerifier(password: string): Promise<string> {
  if (!/^[\x21-\x7e]+$/.test(password)) {
    throw new Error('the new password must be printable ASCII without spaces');
  }
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
