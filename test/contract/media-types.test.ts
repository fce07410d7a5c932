/**
 * The one table of browser media-type aliases, shared by the API and the clients: its targets are the names the
 * scan's real-type check compares with (`file-type`'s), and the Uppy helper declares a browser's alias under the
 * same name the API stores.
 */
import { describe, expect, it } from '@jest/globals';
import { supportedMimeTypes } from 'file-type';
import type { CitadelClient, SignUploadRequestInput } from '../../client/client';
import { normalizeMediaType } from '../../client/media-type';
import { citadelUppyOptions } from '../../client/uppy';
import { canonicalMediaType, MEDIA_TYPE_ALIASES, MEDIA_TYPE_PATTERN } from '../../contract/media-types';

/** Targets `file-type` cannot report: formats without a signature, named all the same. */
const NO_SIGNATURE = new Set(['text/csv']);

describe('MEDIA_TYPE_ALIASES', () => {
  it('maps each alias to the name file-type gives the bytes (what the real-type check compares with)', () => {
    const known = new Set<string>(supportedMimeTypes);
    for (const [alias, target] of Object.entries(MEDIA_TYPE_ALIASES)) {
      expect({ alias, valid: MEDIA_TYPE_PATTERN.test(alias) }).toEqual({ alias, valid: true });
      expect({ alias, target, known: known.has(target) || NO_SIGNATURE.has(target) }).toEqual({
        alias,
        target,
        known: true,
      });
      // A target is never itself an alias: one step reaches the name Citadel uses.
      expect(MEDIA_TYPE_ALIASES[target]).toBeUndefined();
    }
  });

  it('names the formats the issue lists: zip, 7z, rar, gzip, csv, mp3', () => {
    expect(canonicalMediaType('application/x-zip-compressed')).toBe('application/zip');
    expect(canonicalMediaType('application/x-7z')).toBe('application/x-7z-compressed');
    expect(canonicalMediaType('application/vnd.rar')).toBe('application/x-rar-compressed');
    expect(canonicalMediaType('application/x-gzip')).toBe('application/gzip');
    expect(canonicalMediaType('text/comma-separated-values')).toBe('text/csv');
    expect(canonicalMediaType('Audio/MP3; foo=bar')).toBe('audio/mpeg');
    expect(canonicalMediaType('application/pdf')).toBe('application/pdf');
    expect(canonicalMediaType('not a type')).toBeUndefined();
    expect(normalizeMediaType('image/jpg')).toBe('image/jpeg');
  });

  it('is what the Uppy helper declares for a browser file typed with an alias', async () => {
    const declared: SignUploadRequestInput[] = [];
    const client = {
      signUploadRequest: async (body: SignUploadRequestInput) => {
        declared.push(body);
        return {
          method: 'PUT',
          url: 'https://s3.example/x',
          headers: {},
          key: 'uploads/u/00000000-0000-4000-8000-000000000000',
          fileId: '00000000-0000-4000-8000-000000000000',
          expiresAt: new Date(Date.now() + 900_000).toISOString(),
        };
      },
    } as unknown as CitadelClient;
    const uppy = citadelUppyOptions(client);

    const key = uppy.generateObjectKey({
      id: 'f1',
      name: 'photos.zip',
      size: 10,
      type: 'application/x-zip-compressed',
    });
    await uppy.signRequest({ method: 'PUT', key });

    expect(declared).toEqual([
      { operation: 'put', filename: 'photos.zip', size: 10, contentType: 'application/zip' },
    ]);
  });
});
