/**
 * Media types as the API accepts them. Browser-safe: no Node built-ins, so the Uppy helper can use it too.
 * The aliases browsers use (`application/x-zip-compressed` for a `.zip` on Windows, …) are mapped to the
 * names the API uses by the same table the API applies (`contract/media-types.ts`).
 */
import { canonicalMediaType } from '../contract/media-types';

export { MEDIA_TYPE_ALIASES } from '../contract/media-types';

/**
 * A media type the API accepts, or `undefined`: lower case, without parameters and with a well-known alias
 * replaced by the API's name (`Text/Plain; charset=x` → `text/plain`, `audio/mp3` → `audio/mpeg`); `''`,
 * `undefined` and anything malformed give `undefined`.
 */
export const normalizeMediaType = (type: string | undefined | null): string | undefined =>
  canonicalMediaType(type);
