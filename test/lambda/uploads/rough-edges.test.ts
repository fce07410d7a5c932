/**
 * The API answers a new user meets first, over HTTP through the emulated gateway with the real handlers,
 * PostgreSQL and the S3 server: browser media-type aliases, refused types that say what was sent and what is
 * accepted, names over 255 characters, `limit=0`, and the Uppy signing route binding only an upload id S3 issued
 * for the file's own key. Bad input is generated (fast-check): always a 4xx naming the field, never a write.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MEDIA_TYPE_ALIASES } from '../../../contract/media-types';
import { UPLOAD_TYPES } from '../../../lib/config/upload-types';
import { startUploadEnvironment, type UploadEnvironment } from '../../support/uploads';
import { type Call, type Created, caller, upload } from './api';

let env: UploadEnvironment;
let alice: Call;
let bob: Call;

beforeAll(async () => {
  env = await startUploadEnvironment({ allowedContentTypes: UPLOAD_TYPES });
  alice = caller(env, await env.token('user', 'alice'));
  bob = caller(env, await env.token('user', 'bob'));
}, 60_000);
afterAll(async () => env?.stop());

interface Problem {
  status: number;
  detail: string;
  errors?: Array<{ in: string; path: string; message: string }>;
}

const fileRows = async () =>
  Number((await env.sql<{ n: string }>('SELECT count(*) AS n FROM citadel.files'))[0]?.n);

describe('declared media types', () => {
  it('stores a browser alias under the canonical name, through POST /v1/uploads and the signing route', async () => {
    // Chrome and Edge on Windows report a .zip as application/x-zip-compressed.
    const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200)]);
    const rest = await upload(alice, zip, {
      filename: 'photos.zip',
      contentType: 'application/x-zip-compressed',
    });
    const signed = await alice<Record<string, unknown>>('POST', '/v1/uploads/sign', {
      operation: 'put',
      filename: 'song.mp3',
      size: 100,
      contentType: 'audio/mp3',
    });

    const stored = await alice<{ contentType: string }>('GET', `/v1/files/${rest.created.id}`);
    expect(stored.body.contentType).toBe('application/zip');
    expect(signed.status).toBe(200);
    expect(signed.body.headers).toEqual({ 'content-type': 'audio/mpeg', 'if-none-match': '*' });
    const row = await env.sql<{ content_type: string }>(
      'SELECT content_type FROM citadel.files WHERE id = $1',
      [signed.body.fileId],
    );
    expect(row[0]?.content_type).toBe('audio/mpeg');
  });

  it('accepts every alias of an accepted type, and refuses the rest naming the field, the type sent and the accepted types', async () => {
    const before = await fileRows();
    for (const [alias, canonical] of Object.entries(MEDIA_TYPE_ALIASES)) {
      const answer = await alice<Created & Problem>('POST', '/v1/uploads', {
        filename: 'a.bin',
        size: 10,
        contentType: alias,
      });
      if (UPLOAD_TYPES.includes(canonical)) {
        expect({ alias, status: answer.status }).toEqual({ alias, status: 201 });
        await alice('DELETE', `/v1/uploads/${answer.body.id}`);
      } else {
        expect({ alias, status: answer.status }).toEqual({ alias, status: 400 });
        const [field] = answer.body.errors ?? [];
        expect(field?.path).toBe('contentType');
        expect(field?.message).toContain(`${alias} (the same as ${canonical}) was sent; accepted:`);
      }
    }
    const refused = await alice<Problem>('POST', '/v1/uploads', {
      filename: 'notes.txt',
      size: 10,
      contentType: 'text/plain',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      {
        in: 'body',
        path: 'contentType',
        message: `is not a content type this stage accepts: text/plain was sent; accepted: ${UPLOAD_TYPES.join(', ')}`,
      },
    ]);
    // A client that shows only the detail (Uppy shows the error's message) still says why.
    expect(refused.body.detail).toContain(
      'contentType is not a content type this stage accepts: text/plain was sent; accepted:',
    );
    expect(await fileRows()).toBe(
      before + Object.values(MEDIA_TYPE_ALIASES).filter((c) => UPLOAD_TYPES.includes(c)).length,
    );
  });
});

describe('file names', () => {
  it('refuses a name over 255 characters with a problem naming the field, and writes nothing (generated)', async () => {
    const before = await fileRows();
    const char = fc.oneof(
      fc.constantFrom('a', 'é', '日', '😀', '\u0301'),
      fc.string({ minLength: 1, maxLength: 1 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(char, { minLength: 256, maxLength: 400 }).map((cs) => `x${cs.join('')}`.normalize('NFC')),
        async (name) => {
          fc.pre(
            [
              ...name
                .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '')
                .replace(/\s+/g, ' ')
                .trim(),
            ].length > 255,
          );
          const answer = await alice<Problem>('POST', '/v1/uploads', {
            filename: name,
            size: 10,
            contentType: 'application/pdf',
          });
          expect(answer.status).toBe(400);
          expect(answer.body.errors?.[0]).toMatchObject({
            path: 'filename',
            message: expect.stringMatching(/is \d+ characters long; names of at most 255 are accepted/),
          });
        },
      ),
      { numRuns: 25 },
    );
    expect(await fileRows()).toBe(before);
  });

  it('stores a name of exactly 255 characters whole', async () => {
    const name = `${'名'.repeat(250)}.pdf1`;
    const created = await alice<Created>('POST', '/v1/uploads', {
      filename: name,
      size: 10,
      contentType: 'application/pdf',
    });
    expect(created.status).toBe(201);
    expect((await alice<{ filename: string }>('GET', `/v1/files/${created.body.id}`)).body.filename).toBe(
      name,
    );
  });
});

describe('listing', () => {
  it('says the range of limit for 0, 101, 2.5 and words (generated), not "must be a number"', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ max: 0 }).map(String),
          fc.integer({ min: 101 }).map(String),
          fc.double({ noInteger: true, noNaN: true, min: -1e6, max: 1e6 }).map(String),
          fc.stringMatching(/^[a-z]{1,8}$/),
        ),
        async (limit) => {
          const answer = await alice<Problem>('GET', `/v1/files?limit=${encodeURIComponent(limit)}`);
          expect(answer.status).toBe(400);
          expect(answer.body.errors).toEqual([
            { in: 'query', path: 'limit', message: 'must be a whole number from 1 to 100' },
          ]);
        },
      ),
      { numRuns: 30 },
    );
    expect((await alice('GET', '/v1/files?limit=1')).status).toBe(200);
  });
});

describe('the Uppy signing route binds only an upload id S3 issued for the file', () => {
  const xmlUploadId = (xml: string) => /<UploadId>([^<]+)<\/UploadId>/.exec(xml)?.[1] as string;
  const createAtS3 = async (call: Call, filename: string) => {
    const signed = await call<{ url: string; headers: Record<string, string>; key: string; fileId: string }>(
      'POST',
      '/v1/uploads/sign',
      { operation: 'create', filename, size: 9 * 1024 * 1024, contentType: 'application/pdf' },
    );
    const res = await fetch(signed.body.url, { method: 'POST', headers: signed.body.headers });
    return { ...signed.body, uploadId: xmlUploadId(await res.text()) };
  };

  it("refuses to tie another user's upload id (or a made-up one) to the caller's file, audited, and binds the caller's own", async () => {
    const mine = await createAtS3(alice, 'mine.pdf');
    const theirs = await createAtS3(bob, 'theirs.pdf');
    const denials = async () =>
      Number(
        (
          await env.sql<{ n: string }>(
            `SELECT count(*) AS n FROM citadel.audit_events WHERE target = $1 AND outcome = 'denied'`,
            [`file:${mine.fileId}`],
          )
        )[0]?.n,
      );

    const stolen = await alice<Problem>('POST', '/v1/uploads/sign', {
      operation: 'part',
      key: mine.key,
      uploadId: theirs.uploadId,
      partNumber: 1,
    });
    const madeUp = await alice<Problem>('POST', '/v1/uploads/sign', {
      operation: 'list',
      key: mine.key,
      uploadId: 'not-an-upload-S3-issued',
    });

    expect(stolen.status).toBe(403);
    expect(stolen.body.detail).toBe(
      'S3 has no upload with this id for this file: sign only the upload you created.',
    );
    expect(madeUp.status).toBe(403);
    expect(await denials()).toBe(2);
    const bound = async () =>
      (
        await env.sql<{ upload_id: string | null }>('SELECT upload_id FROM citadel.files WHERE id = $1', [
          mine.fileId,
        ])
      )[0]?.upload_id;
    expect(await bound()).toBeNull();
    // Bob's upload is untouched and still his to use.
    expect(
      (
        await bob('POST', '/v1/uploads/sign', {
          operation: 'part',
          key: theirs.key,
          uploadId: theirs.uploadId,
          partNumber: 1,
        })
      ).status,
    ).toBe(200);

    const own = await alice('POST', '/v1/uploads/sign', {
      operation: 'part',
      key: mine.key,
      uploadId: mine.uploadId,
      partNumber: 1,
    });
    expect(own.status).toBe(200);
    expect(await bound()).toBe(mine.uploadId);
  });
});
