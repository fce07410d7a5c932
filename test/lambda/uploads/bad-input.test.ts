/**
 * Generated bad input on every upload and file route, over HTTP through the emulated gateway: always a
 * 4xx problem+json carrying the request id, never a 5xx or a stack trace, and never a partial write
 * (no row, no S3 multipart upload, no state change).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { startUploadEnvironment, type UploadEnvironment } from '../../support/uploads';
import { type Call, type Created, caller, pdfBytes } from './api';

let env: UploadEnvironment;
let token: string;
let alice: Call;
let pending: Created;

const MAX = 64 * 1024 * 1024;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: MAX });
  token = await env.token('user', 'alice');
  alice = caller(env, token);
  pending = (
    await alice<Created>('POST', '/v1/uploads', {
      filename: 'keep.pdf',
      size: 100,
      contentType: 'application/pdf',
    })
  ).body;
}, 60_000);
afterAll(async () => env?.stop());

interface Raw {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
}

async function send(raw: Raw) {
  const res = await fetch(`${env.url}${raw.path}`, {
    method: raw.method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(raw.body === undefined ? {} : { 'content-type': raw.contentType ?? 'application/json' }),
    },
    body: raw.body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function expectProblem(answer: Awaited<ReturnType<typeof send>>, raw: Raw) {
  const context = `${raw.method} ${raw.path} ${raw.body?.slice(0, 200)}`;
  expect([context, answer.status >= 400 && answer.status < 500]).toEqual([context, true]);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  const problem = JSON.parse(answer.text) as { status: number; instance: string; detail?: string };
  expect(problem.status).toBe(answer.status);
  expect(problem.instance).toBe(answer.headers.get('x-request-id'));
  expect(answer.text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+/);
}

const counts = async () => ({
  files: Number((await env.sql<{ n: string }>('SELECT count(*) AS n FROM citadel.files'))[0]?.n),
  multipart: env.s3Server.multipartUploads().length,
  pendingState: (
    await env.sql<{ state: string }>('SELECT state FROM citadel.files WHERE id = $1', [pending.id])
  )[0]?.state,
});

/** JSON that is not a valid declaration: wrong shapes, wrong types, out-of-range values, extra fields. */
const badDeclaration = fc.oneof(
  fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  fc.record(
    {
      filename: fc.oneof(
        fc.constant(''),
        fc.string({ minLength: 1025, maxLength: 1100 }),
        fc.integer(),
        fc.constant(null),
      ),
      size: fc.integer(),
      contentType: fc.constant('application/pdf'),
    },
    { requiredKeys: ['filename'] },
  ),
  fc.record({
    filename: fc.constant('ok.pdf'),
    size: fc.oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: MAX + 1 }),
      fc.double({ noInteger: true, noNaN: true }),
      fc.constant(1e300),
      fc.string(),
    ),
    contentType: fc.constant('application/pdf'),
  }),
  fc.record({
    filename: fc.constant('ok.pdf'),
    size: fc.integer({ min: 1, max: MAX }),
    contentType: fc.oneof(
      fc.string(),
      fc.constantFrom(
        'text/html',
        'application/x-msdownload',
        'image/svg+xml',
        'APPLICATION/PDF',
        'application/pdf; charset=utf-8',
      ),
    ),
  }),
  fc.record({
    filename: fc.constant('ok.pdf'),
    size: fc.integer({ min: 1, max: MAX }),
    contentType: fc.constant('application/pdf'),
    sha256: fc.oneof(fc.string(), fc.constant('A'.repeat(64))),
  }),
  fc
    .tuple(fc.constantFrom('owner', 'key', 'state', '__proto__', 'bucket', 'uploadId'), fc.jsonValue())
    .map(([field, value]) => ({
      filename: 'ok.pdf',
      size: 10,
      contentType: 'application/pdf',
      [field]: value,
    })),
  // Names that are nothing but control, bidi and separator characters.
  fc
    .array(fc.constantFrom('\u0000', '\u202e', '\u200b', '\u2028', '\t', '\n', '.', ' '), {
      minLength: 1,
      maxLength: 40,
    })
    .map((chars) => ({ filename: chars.join(''), size: 10, contentType: 'application/pdf' })),
);

/** Path segments that are not upload ids: anything, URL-encoded. */
const badId = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 80 }),
    fc.uuid().map((u) => `${u}x`),
    fc.constant('..'),
    fc.constant('%00'),
  )
  .filter((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s))
  .map((s) => encodeURIComponent(s));

describe('bad input on upload and file routes', () => {
  it('refuses generated declarations with a 4xx problem and writes nothing', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(badDeclaration, async (body) => {
        const raw = { method: 'POST', path: '/v1/uploads', body: JSON.stringify(body) };
        expectProblem(await send(raw), raw);
      }),
      { numRuns: 300 },
    );
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('refuses bodies that are not JSON, or not declared as JSON', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
        ),
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data',
        ),
        async (body, contentType) => {
          fc.pre(contentType !== 'application/json' || !isJson(body));
          const raw = { method: 'POST', path: '/v1/uploads', body, contentType };
          expectProblem(await send(raw), raw);
        },
      ),
      { numRuns: 200 },
    );
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('refuses ids that are not upload ids on every route that takes one', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(
        badId,
        fc.constantFrom(
          ['GET', '/v1/uploads/{id}'],
          ['DELETE', '/v1/uploads/{id}'],
          ['POST', '/v1/uploads/{id}/parts'],
          ['POST', '/v1/uploads/{id}/complete'],
          ['GET', '/v1/files/{id}'],
          ['GET', '/v1/files/{id}/download'],
          ['DELETE', '/v1/files/{id}'],
        ),
        async (id, [method, template]) => {
          const raw: Raw = {
            method: method as string,
            path: (template as string).replace('{id}', id),
            body:
              method === 'POST'
                ? JSON.stringify(template?.endsWith('parts') ? { partNumbers: [1] } : {})
                : undefined,
          };
          expectProblem(await send(raw), raw);
        },
      ),
      { numRuns: 300 },
    );
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('refuses generated part requests and completions without touching the upload', async () => {
    const before = await counts();
    const partNumbers = fc.oneof(
      fc.constant([]),
      fc.array(fc.integer({ max: 0 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.integer({ min: 10_001 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.integer({ min: 2, max: 10_000 }), { minLength: 1, maxLength: 3 }), // beyond this upload's 1 part
      fc.array(fc.constant(1), { minLength: 2, maxLength: 4 }),
      fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 501, maxLength: 520 }),
      fc.array(fc.oneof(fc.string(), fc.double({ noInteger: true })), { minLength: 1, maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          partNumbers.map((p) => ({ path: 'parts', body: { partNumbers: p } })),
          fc.jsonValue().map((v) => ({ path: 'parts', body: v })),
          fc
            .oneof(
              fc.record({ parts: fc.string() }),
              fc.record({
                parts: fc.array(
                  fc.record({ partNumber: fc.integer({ max: 0 }), etag: fc.string({ minLength: 1 }) }),
                  { minLength: 1 },
                ),
              }),
              fc.record({
                parts: fc.array(fc.record({ partNumber: fc.constant(1), etag: fc.constant('') }), {
                  minLength: 1,
                }),
              }),
              fc.record({ parts: fc.constant([]), extra: fc.jsonValue() }),
            )
            .map((b) => ({ path: 'complete', body: b })),
        ),
        async ({ path, body }) => {
          fc.pre(!(path === 'parts' && isValidParts(body)));
          const raw = {
            method: 'POST',
            path: `/v1/uploads/${pending.id}/${path}`,
            body: JSON.stringify(body),
          };
          expectProblem(await send(raw), raw);
        },
      ),
      { numRuns: 300 },
    );
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('refuses generated listing queries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 600 }).map((c) => `cursor=${encodeURIComponent(c)}`),
          fc
            .tuple(fc.date({ noInvalidDate: true }), fc.string({ maxLength: 70 }))
            .map(
              ([d, id]) =>
                `cursor=${Buffer.from(JSON.stringify([d.toISOString(), id])).toString('base64url')}`,
            ),
          fc
            .oneof(
              fc.integer({ max: 0 }),
              fc.integer({ min: 101 }),
              // Any text that does not read as a whole number from 1 to 100 (" 7", "1e1" and "0x10" do).
              fc.string({ minLength: 1 }).filter((text) => {
                const n = Number(text);
                return !(Number.isInteger(n) && n >= 1 && n <= 100);
              }),
            )
            .map((l) => `limit=${encodeURIComponent(String(l))}`),
          fc.string({ minLength: 1, maxLength: 20 }).map((k) => `${encodeURIComponent(`x${k}`)}=1`),
          fc
            .string({ minLength: 1, maxLength: 40 })
            .map((o) => `owner=${encodeURIComponent(`not-alice-${o}`)}`),
        ),
        async (query) => {
          fc.pre(!isUuidCursor(query));
          const raw = { method: 'GET', path: `/v1/files?${query}` };
          expectProblem(await send(raw), raw);
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);

  it('leaves a real upload completable after all of that', async () => {
    const bytes = pdfBytes(100, 99);
    const signed = await alice<{ parts: Array<{ url: string }> }>('POST', `/v1/uploads/${pending.id}/parts`, {
      partNumbers: [1],
    });
    expect(
      (await fetch(signed.body.parts[0]?.url as string, { method: 'PUT', body: Buffer.from(bytes) })).status,
    ).toBe(200);
    expect((await alice('POST', `/v1/uploads/${pending.id}/complete`, {})).status).toBe(200);
    await env.uploads.idle();
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A part request this upload (1 part) would accept. */
const isValidParts = (body: unknown): boolean =>
  typeof body === 'object' &&
  body !== null &&
  !Array.isArray(body) &&
  Object.keys(body).length === 1 &&
  JSON.stringify((body as { partNumbers?: unknown }).partNumbers) === '[1]';

/** A hand-made cursor that happens to be well-formed (a UUID id) is a valid, if useless, position. */
function isUuidCursor(query: string): boolean {
  if (!query.startsWith('cursor=')) return false;
  try {
    const [at, id] = JSON.parse(Buffer.from(decodeURIComponent(query.slice(7)), 'base64url').toString()) as [
      string,
      string,
    ];
    return /^[0-9a-f-]{36}$/i.test(id) && !Number.isNaN(Date.parse(at));
  } catch {
    return false;
  }
}
