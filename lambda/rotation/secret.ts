/** The alternating-users strategy's naming: `<base>` and `<base>_clone` take turns. */
import { SecretFormatError } from '../shared/db/secret';

/** PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

/** Suffix of the second user of the alternating-users strategy. */
export const CLONE_SUFFIX = '_clone';

/**
 * The other user of the alternating-users strategy: `<base>` becomes `<base>_clone` and back.
 * Refuses a name PostgreSQL would truncate, which would silently alias two users.
 */
export function alternateUsername(username: string): string {
  const next = username.endsWith(CLONE_SUFFIX)
    ? username.slice(0, -CLONE_SUFFIX.length)
    : username + CLONE_SUFFIX;
  if (next.length === 0 || Buffer.byteLength(next, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new SecretFormatError(
      `user name ${username} cannot alternate: ${next || '(empty)'} is not a valid PostgreSQL user name ` +
        `(1 to ${MAX_IDENTIFIER_BYTES} bytes)`,
    );
  }
  return next;
}
