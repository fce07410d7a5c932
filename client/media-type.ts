/**
 * Media types as the API accepts them. Browser-safe: no Node built-ins, so the Uppy helper can use it too.
 */

/** `type/subtype`, lower case, no parameters: what the API's `contentType` field accepts. */
const MEDIA_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/;

/**
 * A media type the API accepts, or `undefined`: lower case and without parameters
 * (`Text/Plain; charset=x` → `text/plain`); `''`, `undefined` and anything malformed give `undefined`.
 */
export function normalizeMediaType(type: string | undefined | null): string | undefined {
  const bare = (type ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return MEDIA_TYPE.test(bare) ? bare : undefined;
}
