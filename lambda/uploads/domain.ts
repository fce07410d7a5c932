/** Upload rules that do not depend on AWS: names, keys, sizes, types. */
import { createHash } from 'node:crypto';
import { MAX_HASHED_BYTES } from '../../contract/api/uploads';
import { canonicalMediaType } from '../../contract/media-types';
import type { FieldError } from '../../contract/problems';
import { ValidationError } from '../shared/errors';
import { allowedContentTypes, maxUploadBytes } from './s3';

const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu; // controls, bidi overrides, zero-width marks, separators
const SEPARATORS = /[/\\]/g;

/** The longest display name, in characters (Unicode code points, after NFC). */
export const MAX_FILENAME_CHARS = 255;

/**
 * A filename safe to show and to put in Content-Disposition: NFC, no control or bidi characters, no path,
 * no leading dots, at most 255 characters. A longer name is refused, never cut (the contract refuses one
 * over 255 UTF-16 units first). It is for display only — keys are never derived from it.
 */
export function sanitizeFilename(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(SEPARATORS, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.\s]+/, '');
  const length = [...cleaned].length;
  if (length > MAX_FILENAME_CHARS) {
    throw new ValidationError([
      {
        in: 'body',
        path: 'filename',
        message: `is ${length} characters long; names of at most ${MAX_FILENAME_CHARS} are accepted (a longer name is refused, not cut)`,
      },
    ]);
  }
  if (cleaned === '' || cleaned === '..') {
    throw new ValidationError([
      { in: 'body', path: 'filename', message: 'has no printable characters left' },
    ]);
  }
  return cleaned;
}

/** The owner's key segment: the principal id when it is key-safe, otherwise a stable hash of it. */
const ownerSegment = (ownerId: string): string =>
  /^[A-Za-z0-9._-]{1,128}$/.test(ownerId)
    ? ownerId
    : createHash('sha256').update(ownerId).digest('hex').slice(0, 40);

/** Server-generated object key: `uploads/<owner>/<file id>`. */
export const objectKey = (ownerId: string, fileId: string): string =>
  `uploads/${ownerSegment(ownerId)}/${fileId}`;

/**
 * Declared size and type against the stage's limits; every failure is a 400 naming the field. Returns the
 * type under the name Citadel stores it by (a well-known alias, e.g. `application/x-zip-compressed`, becomes
 * `application/zip`); a refused type is named as sent, with its canonical name and the types the stage accepts.
 */
export function checkDeclared(
  size: number,
  contentType: string,
  sha256?: string,
  where: FieldError['in'] = 'body',
): string {
  const canonical = canonicalMediaType(contentType) ?? contentType;
  const errors: FieldError[] = [];
  const max = maxUploadBytes();
  if (size > max) errors.push({ in: where, path: 'size', message: `must be at most ${max} bytes` });
  if (sha256 !== undefined && size > MAX_HASHED_BYTES) {
    errors.push({
      in: where,
      path: 'sha256',
      message: `can be declared for files up to ${MAX_HASHED_BYTES} bytes (the scan verifies it within 15 minutes)`,
    });
  }
  const allowed = allowedContentTypes();
  if (!allowed.has(canonical)) {
    const sent = canonical === contentType ? contentType : `${contentType} (the same as ${canonical})`;
    errors.push({
      in: where,
      path: 'contentType',
      message: `is not a content type this stage accepts: ${sent} was sent; accepted: ${[...allowed].join(', ')}`,
    });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return canonical;
}

/** ETags compare without their quotes (clients and S3 differ on them). */
export const sameEtag = (a: string, b: string): boolean => a.replace(/"/g, '') === b.replace(/"/g, '');

/** `Content-Disposition` for a download: always an attachment, with an ASCII fallback and the UTF-8 name. */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\;]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
