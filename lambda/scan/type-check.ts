/**
 * The real-type check every object passes after its malware scan: the bytes, not the declared
 * `Content-Type` or the filename, decide what a file is.
 */
import { FileTypeParser, type FileTypeResult } from 'file-type';

/** Detected types that run as code somewhere; never accepted, whatever was declared. */
export const EXECUTABLE_TYPES: ReadonlySet<string> = new Set([
  'application/x-msdownload',
  'application/x-elf',
  'application/x-mach-binary',
  'application/wasm',
  'application/java-vm',
  'application/java-archive',
  'application/vnd.android.package-archive',
  'application/x-google-chrome-extension',
  'application/x-shockwave-flash',
  'application/x.ms.shortcut',
  'application/x-ms-regedit',
  'application/x-deb',
  'application/x-rpm',
  'application/vnd.ms-cab-compressed',
  'application/vnd.ms-htmlhelp',
  'application/vnd.ms-excel.sheet.macroenabled.12',
  'application/vnd.ms-excel.template.macroenabled.12',
  'application/vnd.ms-word.document.macroenabled.12',
  'application/vnd.ms-word.template.macroenabled.12',
  'application/vnd.ms-powerpoint.presentation.macroenabled.12',
  'application/vnd.ms-powerpoint.template.macroenabled.12',
]);

/** Declared types whose content may legitimately be detected as a more specific type. */
const FAMILIES: Readonly<Record<string, (detected: string) => boolean>> = {
  // Office Open XML, OpenDocument and EPUB are ZIP containers.
  'application/zip': (d) =>
    d === 'application/zip' ||
    d === 'application/epub+zip' ||
    d.startsWith('application/vnd.openxmlformats-officedocument.') ||
    d.startsWith('application/vnd.oasis.opendocument.'),
  // An MP4 file may carry the QuickTime brand and an M4V one the Apple variant.
  'video/mp4': (d) => d === 'video/mp4' || d === 'video/x-m4v',
};

/** How many leading bytes the check reads: enough for every container `file-type` walks (ZIP, ISO BMFF, TIFF). */
export const HEAD_BYTES = 16 * 1024 * 1024;

export type TypeVerdict =
  | { readonly ok: true; readonly detected: string | null }
  | { readonly ok: false; readonly detected: string | null; readonly reason: string };

const parser = new FileTypeParser();

/** Detects the type of `head` (the object's first bytes; the whole object when it is shorter). */
export const detectType = (head: Uint8Array): Promise<FileTypeResult | undefined> => parser.fromBuffer(head);

/**
 * Whether content detected as `detected` may be stored under `declared`:
 * - executables and macro-enabled documents never pass;
 * - `application/octet-stream` accepts any other binary, and content no signature matches;
 * - every other declared type needs its signature, exactly or within its family.
 */
export function checkType(declared: string, detected: FileTypeResult | undefined): TypeVerdict {
  const mime = detected?.mime ?? null;
  if (mime && EXECUTABLE_TYPES.has(mime)) {
    return { ok: false, detected: mime, reason: `executable content (${mime}) is never accepted` };
  }
  if (declared === 'application/octet-stream') return { ok: true, detected: mime };
  if (!mime)
    return {
      ok: false,
      detected: null,
      reason: `declared ${declared}, but the content has no recognisable signature`,
    };
  const matches = FAMILIES[declared] ?? ((d: string) => d === declared);
  return matches(mime)
    ? { ok: true, detected: mime }
    : { ok: false, detected: mime, reason: `declared ${declared}, but the content is ${mime}` };
}
