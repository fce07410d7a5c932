/**
 * Content types every stage accepts by default: documents, images, archives and media whose real type
 * `file-type` can recognise from their first bytes (plain text cannot be verified that way, so it is not here).
 */
export const UPLOAD_TYPES = [
  'application/pdf',
  'application/zip',
  'application/gzip',
  'application/x-tar',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/tiff',
  'video/mp4',
  'video/quicktime',
  'audio/mpeg',
  'application/octet-stream',
];
