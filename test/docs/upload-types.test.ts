/**
 * The README's stage-config table says which upload types are accepted by default and why plain text is not; this
 * keeps that sentence and `lib/config/upload-types.ts` the same list, so a type added or dropped there without
 * the docs (or the reverse) fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { UPLOAD_TYPES } from '../../lib/config/upload-types';

const README = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

/** How the README names each type: its usual name, or the media type itself in backticks. */
const LABELS: Readonly<Record<string, string>> = {
  PDF: 'application/pdf',
  ZIP: 'application/zip',
  gzip: 'application/gzip',
  tar: 'application/x-tar',
  PNG: 'image/png',
  JPEG: 'image/jpeg',
  GIF: 'image/gif',
  WebP: 'image/webp',
  TIFF: 'image/tiff',
  MP4: 'video/mp4',
  QuickTime: 'video/quicktime',
  MP3: 'audio/mpeg',
  '`application/octet-stream`': 'application/octet-stream',
};

/** The types the README's `uploads.allowedContentTypes` row lists, as media types. */
function documentedTypes(readme: string): string[] {
  const row = readme.split('\n').find((line) => line.startsWith('| `uploads.allowedContentTypes`'));
  const list = /checked from the bytes: (.*?) \(`lib\/config\/upload-types\.ts`\)/.exec(row ?? '')?.[1];
  if (!list) throw new Error('the README no longer lists the accepted upload types');
  return list.split(/, | and /).map((label) => LABELS[label.trim()] ?? `unknown label "${label.trim()}"`);
}

describe('the README on accepted upload types', () => {
  it('lists exactly the types every stage accepts by default, and says why plain text is not one', () => {
    expect(documentedTypes(README).sort()).toEqual([...UPLOAD_TYPES].sort());
    expect(UPLOAD_TYPES).not.toContain('text/plain');
    expect(README).toMatch(
      /Plain text \(`text\/plain`, CSV\) is not among them: no signature can confirm it/,
    );
  });

  it('notices a type the code accepts but the README does not list', () => {
    const stale = README.replace('MP4, QuickTime, MP3', 'MP4, QuickTime');
    expect(documentedTypes(stale).sort()).not.toEqual([...UPLOAD_TYPES].sort());
  });
});
