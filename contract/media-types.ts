/**
 * Media types as Citadel declares them, shared by the API (which checks and stores the declared type) and the
 * clients (the Uppy helper types a browser's `File` with it). Browser-safe: no Node built-ins.
 *
 * Browsers and operating systems name some formats their own way: Chrome and Edge on Windows report a `.zip` as
 * `application/x-zip-compressed`, others an `.mp3` as `audio/mp3`. Each such alias is mapped to the one name
 * Citadel uses, which is the name `file-type` gives the bytes (what the scan's real-type check compares with), so
 * a stage's allowlist needs one entry per format.
 */

/** `type/subtype`, lower case, no parameters: what the API's `contentType` field accepts. */
export const MEDIA_TYPE_PATTERN = /^[a-z]+\/[a-z0-9.+-]+$/;

/** Well-known aliases → the name Citadel uses. Every target is what `file-type` reports for that format. */
export const MEDIA_TYPE_ALIASES: Readonly<Record<string, string>> = {
  // ZIP: Windows (Chrome, Edge) and older tools.
  'application/x-zip-compressed': 'application/zip',
  'application/x-zip': 'application/zip',
  'multipart/x-zip': 'application/zip',
  // 7-Zip, RAR
  'application/x-7z': 'application/x-7z-compressed',
  'application/vnd.rar': 'application/x-rar-compressed',
  'application/x-rar': 'application/x-rar-compressed',
  // gzip (`application/x-compressed` is what Windows reports for `.tgz`), bzip2, tar
  'application/x-gzip': 'application/gzip',
  'application/x-gzip-compressed': 'application/gzip',
  'application/gzip-compressed': 'application/gzip',
  'application/x-compressed': 'application/gzip',
  'application/x-bzip': 'application/x-bzip2',
  'application/x-gtar': 'application/x-tar',
  'application/tar': 'application/x-tar',
  // CSV (text: no signature, so not on the default allowlist; named the same way all the same)
  'text/comma-separated-values': 'text/csv',
  'text/x-csv': 'text/csv',
  'application/csv': 'text/csv',
  'application/x-csv': 'text/csv',
  // Audio
  'audio/mp3': 'audio/mpeg',
  'audio/x-mp3': 'audio/mpeg',
  'audio/mpeg3': 'audio/mpeg',
  'audio/x-mpeg': 'audio/mpeg',
  'audio/x-mpeg-3': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/x-flac': 'audio/flac',
  // Images, video, documents
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'image/tif': 'image/tiff',
  'image/x-tiff': 'image/tiff',
  'video/x-quicktime': 'video/quicktime',
  'application/x-pdf': 'application/pdf',
  'text/rtf': 'application/rtf',
};

/**
 * The name Citadel uses for `type`: lower case, without parameters (`Text/Plain; charset=x` → `text/plain`),
 * and an alias replaced by its canonical name (`application/x-zip-compressed` → `application/zip`). `''`,
 * `undefined` and anything malformed give `undefined`.
 */
export function canonicalMediaType(type: string | undefined | null): string | undefined {
  const bare = (type ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!MEDIA_TYPE_PATTERN.test(bare)) return undefined;
  return MEDIA_TYPE_ALIASES[bare] ?? bare;
}
