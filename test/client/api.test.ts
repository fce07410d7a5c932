/**
 * CitadelClient's HTTP behaviour against a scripted server: what it retries (network errors, 429 with
 * Retry-After, 502/503/504) and what it never retries (other 4xx), which calls are not safe to repeat
 * (createUpload, the signing route's create/put), the problem documents it raises, the headers it sends
 * and how it validates responses with the contract.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CitadelClient, CitadelRequestOutcomeUnknownError, neverSent } from '../../client/client';
import { CitadelProblemError, CitadelResponseError } from '../../client/errors';
import { backoffDelay, parseRetryAfter } from '../../client/retry';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let url: string;
let script: Handler[] = [];
const seen: Array<{
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}> = [];

const file = {
  id: randomUUID(),
  ownerId: 'alice',
  filename: 'a.pdf',
  contentType: 'application/pdf',
  size: 10,
  sha256: null,
  state: 'clean',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  completedAt: '2026-01-01T00:00:00.000Z',
  scannedAt: '2026-01-01T00:00:01.000Z',
  failureReason: null,
};

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const problem = (
  status: number,
  kind: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Handler => {
  const requestId = randomUUID();
  return (_, res) => {
    res.writeHead(status, {
      'content-type': 'application/problem+json',
      'x-request-id': requestId,
      ...headers,
    });
    res.end(
      JSON.stringify({
        type: `urn:citadel:problem:${kind}`,
        title: kind,
        status,
        detail,
        instance: requestId,
        ...extra,
      }),
    );
  };
};
const hangUp: Handler = (req) => req.socket.destroy();
/** Answers only after `ms` (longer than the client's timeout in the tests that use it). */
const slow =
  (ms: number, handler: Handler): Handler =>
  (req, res, body) => {
    setTimeout(() => {
      if (!res.destroyed) handler(req, res, body);
    }, ms);
  };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const next = script.shift();
      if (next) next(req, res, body);
      else json(500, { error: 'unscripted request' })(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  script = [];
  seen.length = 0;
});

const fastClient = (extra: Partial<ConstructorParameters<typeof CitadelClient>[0]> = {}) =>
  new CitadelClient({
    baseUrl: `${url}/`,
    token: 'tok',
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 50 },
    ...extra,
  });

describe('retries', () => {
  it('retries 502, 503 and 504 with backoff, then returns the validated body', async () => {
    script = [
      problem(502, 'bad-gateway', 'x'),
      problem(503, 'service-unavailable', 'db'),
      problem(504, 'gateway-timeout', 'slow'),
      json(200, file),
    ];

    const got = await fastClient().getFile(file.id);

    expect(got).toEqual(file);
    expect(seen).toHaveLength(4);
  });

  it('honours Retry-After on 429', async () => {
    script = [problem(429, 'too-many-requests', 'slow down', {}, { 'Retry-After': '1' }), json(200, file)];

    await fastClient({ retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 5000 } }).getFile(file.id);

    expect(seen).toHaveLength(2);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(990);
  });

  it('retries network errors (connection dropped)', async () => {
    script = [hangUp, hangUp, json(200, file)];

    await expect(fastClient().getFile(file.id)).resolves.toEqual(file);
    expect(seen).toHaveLength(3);
  });

  it.each([400, 401, 403, 404, 409, 413])('never retries %i', async (status) => {
    script = [problem(status, 'x', 'no'), json(200, file)];

    await expect(fastClient().getFile(file.id)).rejects.toMatchObject({ status });
    expect(seen).toHaveLength(1);
  });

  it('gives up after the configured retries with the last problem', async () => {
    script = Array.from({ length: 5 }, () => problem(503, 'service-unavailable', 'still down'));

    await expect(fastClient().getFile(file.id)).rejects.toMatchObject({ status: 503, detail: 'still down' });
    expect(seen).toHaveLength(4);
  });

  it('stops when the caller aborts, even between retries', async () => {
    script = Array.from({ length: 5 }, () =>
      problem(503, 'service-unavailable', 'down', {}, { 'Retry-After': '30' }),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    await expect(
      fastClient({ retry: { retries: 3, maxDelayMs: 60_000 } }).getFile(file.id, {
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(1);
  });

  it('jitters the backoff between half and all of a doubling ceiling, capped', () => {
    expect(backoffDelay(0, { baseDelayMs: 100 }, () => 0)).toBe(50);
    expect(backoffDelay(0, { baseDelayMs: 100 }, () => 1)).toBe(100);
    expect(backoffDelay(3, { baseDelayMs: 100 }, () => 1)).toBe(800);
    expect(backoffDelay(20, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 1)).toBe(1000);
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(new Date(Date.now() + 3000).toUTCString())).toBeGreaterThanOrEqual(2);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('problems and responses', () => {
  it('raises CitadelProblemError carrying the whole problem document', async () => {
    const errors = [{ in: 'body', path: 'size', message: 'must be at most 10 bytes' }];
    script = [problem(400, 'validation', '1 field failed validation; see errors.', { errors })];

    const error = (await fastClient()
      .createUpload({ filename: 'a', size: 11, contentType: 'application/pdf' })
      .catch((e) => e)) as CitadelProblemError;

    expect(error).toBeInstanceOf(CitadelProblemError);
    expect(error).toMatchObject({
      status: 400,
      type: 'urn:citadel:problem:validation',
      title: 'validation',
      detail: '1 field failed validation; see errors.',
      errors,
    });
    expect(error.instance).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.requestId).toBe(error.instance);
    expect(seen).toHaveLength(1);
  });

  it('makes a problem out of a non-problem error body (an HTML 502 from a proxy)', async () => {
    script = [
      (_, res) => {
        res.writeHead(400, { 'content-type': 'text/html' });
        res.end('<html>bad</html>');
      },
    ];

    await expect(fastClient().getFile(file.id)).rejects.toMatchObject({
      status: 400,
      type: 'about:blank',
      detail: '<html>bad</html>',
    });
  });

  it('refuses a success body the contract does not allow', async () => {
    script = [json(200, { ...file, state: 'teleported' })];

    const error = await fastClient()
      .getFile(file.id)
      .catch((e) => e);

    expect(error).toBeInstanceOf(CitadelResponseError);
    expect(error.message).toMatch(/getFile: the response does not match the contract \(state:/);
  });

  it('drops fields the contract does not know (a newer API), unless strictResponses; other mismatches still fail', async () => {
    const newer = { ...file, retentionClass: 'gold', nested: { x: 1 } };
    script = [json(200, newer), json(200, newer), json(200, { ...newer, size: 'ten' })];

    const tolerant = await fastClient().getFile(file.id);
    const strict = await fastClient({ strictResponses: true })
      .getFile(file.id)
      .catch((e) => e);
    const wrong = await fastClient()
      .getFile(file.id)
      .catch((e) => e);

    expect(tolerant).toEqual(file);
    expect(strict).toBeInstanceOf(CitadelResponseError);
    expect(strict.message).toMatch(/retentionClass/);
    expect(wrong).toBeInstanceOf(CitadelResponseError);
    expect(wrong.message).toMatch(/size/);
  });

  it('sends the bearer token (from a function, per request), x-api-key, JSON, and encodes path parameters', async () => {
    let calls = 0;
    const client = fastClient({ token: async () => `t${++calls}`, apiKey: 'key-123' });
    script = [
      json(200, { parts: [], expiresAt: '2026-01-01T00:15:00.000Z' }),
      (_, res) => {
        res.writeHead(204);
        res.end();
      },
    ];

    await client.signParts('a/b', [1, 2]);
    await client.abortUpload(file.id);

    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/v1/uploads/a%2Fb/parts',
      body: '{"partNumbers":[1,2]}',
      headers: { authorization: 'Bearer t1', 'x-api-key': 'key-123', 'content-type': 'application/json' },
    });
    expect(seen[1]).toMatchObject({
      method: 'DELETE',
      url: `/v1/uploads/${file.id}`,
      headers: { authorization: 'Bearer t2' },
    });
  });

  it('lists with query parameters and iterates every page', async () => {
    const second = { ...file, id: randomUUID() };
    script = [
      json(200, { items: [file], nextCursor: 'abc' }),
      json(200, { items: [second], nextCursor: null }),
    ];

    const all = [];
    for await (const f of fastClient().iterateFiles({ limit: 1 })) all.push(f.id);

    expect(all).toEqual([file.id, second.id]);
    expect(seen.map((s) => s.url)).toEqual(['/v1/files?limit=1', '/v1/files?limit=1&cursor=abc']);
  });
});

const created = {
  id: randomUUID(),
  uploadId: 'mpu-1',
  key: 'uploads/alice/x',
  partSize: 8 * 1024 * 1024,
  partCount: 1,
  expiresAt: '2026-01-08T00:00:00.000Z',
};
const declaration = { filename: 'a.pdf', size: 10, contentType: 'application/pdf' };
const signedCreate = {
  method: 'POST',
  url: 'https://s3.example/x?uploads',
  headers: {},
  key: `uploads/alice/${file.id}`,
  fileId: file.id,
  expiresAt: '2026-01-01T00:15:00.000Z',
};

/** A port nothing listens on: connecting is refused before any byte of the request is written. */
async function closedPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

describe('calls that are not safe to repeat', () => {
  it('does not retry createUpload after a 504: the upload may exist; the 504 surfaces', async () => {
    script = [problem(504, 'gateway-timeout', 'Endpoint request timed out'), json(201, created)];

    const error = await fastClient()
      .createUpload(declaration)
      .catch((e) => e);

    expect(error).toBeInstanceOf(CitadelProblemError);
    expect(error).toMatchObject({ status: 504 });
    expect(seen).toHaveLength(1);
  });

  it.each([
    [502, {}],
    [503, {}],
  ])('does not retry createUpload after %i without Retry-After', async (status, headers) => {
    script = [problem(status, 'x', 'gateway', {}, headers), json(201, created)];

    await expect(fastClient().createUpload(declaration)).rejects.toMatchObject({ status });
    expect(seen).toHaveLength(1);
  });

  it('does not retry createUpload after the connection dropped once the request was received', async () => {
    script = [hangUp, json(201, created)];

    const error = await fastClient()
      .createUpload(declaration)
      .catch((e) => e);

    expect(error).toBeInstanceOf(CitadelRequestOutcomeUnknownError);
    expect(error.operationId).toBe('createUpload');
    expect(error.message).toMatch(
      /^createUpload \(POST \/v1\/uploads\) failed after the request may have reached the API \(other side closed\); it was not retried/,
    );
    expect(error.cause).toMatchObject({ name: 'TypeError', message: 'fetch failed' }); // fetch's own realm
    expect(seen).toHaveLength(1);
  });

  it('does not retry createUpload after a timeout', async () => {
    script = [slow(1000, json(201, created)), json(201, created)];

    const error = await fastClient({ timeoutMs: 100 })
      .createUpload(declaration)
      .catch((e) => e);

    expect(error).toBeInstanceOf(CitadelRequestOutcomeUnknownError);
    expect(error.message).toMatch(/no answer within 100 ms/);
    expect(seen).toHaveLength(1);
  });

  it('retries createUpload after 503 with Retry-After and after 429: refused before any work', async () => {
    script = [
      problem(503, 'service-unavailable', 'The database is unavailable.', {}, { 'Retry-After': '0' }),
      problem(429, 'too-many-requests', 'slow down'),
      json(201, created),
    ];

    await expect(fastClient().createUpload(declaration)).resolves.toEqual(created);
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s.method === 'POST' && s.url === '/v1/uploads')).toBe(true);
  });

  it('retries createUpload when the connection was refused (the request never left)', async () => {
    const dead = await closedPort();
    let calls = 0;
    const refusedFirst: typeof fetch = (input, init) => {
      const target = new URL(String(input));
      if (++calls === 1) target.port = String(dead);
      return fetch(target, init);
    };
    script = [json(201, created)];

    await expect(fastClient({ fetch: refusedFirst }).createUpload(declaration)).resolves.toEqual(created);
    expect(calls).toBe(2);
    expect(seen).toHaveLength(1);
  });

  it("does not retry the signing route's create and put after a 504 or a dropped connection", async () => {
    script = [problem(504, 'gateway-timeout', 'slow'), hangUp, json(200, signedCreate)];
    const client = fastClient();

    await expect(client.signUploadRequest({ operation: 'create', ...declaration })).rejects.toMatchObject({
      status: 504,
    });
    await expect(client.signUploadRequest({ operation: 'put', ...declaration })).rejects.toBeInstanceOf(
      CitadelRequestOutcomeUnknownError,
    );
    expect(seen).toHaveLength(2);
  });

  it('names every part on complete while the body fits the API limit, and none once it would not', async () => {
    // 32-hex ETags in quotes, as S3 returns them: 1,009 parts fit 64 KiB, 1,010 would not.
    const partsOf = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ partNumber: i + 1, etag: `"${'0123456789abcdef'.repeat(2)}"` }));
    script = [json(200, file), json(200, file)];
    const client = fastClient();
    await client.completeUpload(file.id, partsOf(1009));
    await client.completeUpload(file.id, partsOf(1010));
    const [fits, over] = seen.map((s) => JSON.parse(s.body) as { parts?: unknown[] });
    expect(fits?.parts).toHaveLength(1009);
    expect(seen[0]?.body.length).toBeLessThanOrEqual(64 * 1024);
    expect(over).toEqual({});
  });

  it('still retries idempotent calls after 502/504 and dropped connections: sign parts, complete, the other sign operations', async () => {
    const parts = { parts: [], expiresAt: '2026-01-01T00:15:00.000Z' };
    const signedParts = { ...signedCreate, method: 'PUT', parts: [] };
    script = [
      problem(502, 'bad-gateway', 'x'),
      problem(504, 'gateway-timeout', 'x'),
      hangUp,
      json(200, parts),
      problem(504, 'gateway-timeout', 'x'),
      hangUp,
      json(200, file),
      problem(504, 'gateway-timeout', 'x'),
      json(200, signedParts),
    ];
    const client = fastClient();

    await expect(client.signParts(file.id, [1])).resolves.toEqual(parts);
    await expect(client.completeUpload(file.id)).resolves.toEqual(file);
    await expect(
      client.signUploadRequest({
        operation: 'parts',
        key: signedCreate.key,
        uploadId: 'u',
        partNumbers: [1],
      }),
    ).resolves.toEqual(signedParts);
    expect(seen.map((s) => s.url)).toEqual([
      ...Array(4).fill(`/v1/uploads/${file.id}/parts`),
      ...Array(3).fill(`/v1/uploads/${file.id}/complete`),
      ...Array(2).fill('/v1/uploads/sign'),
    ]);
  });

  it('tells a failure before any connection (refused, no such host) from one that may have reached the server', () => {
    const failed = (cause: unknown) => new TypeError('fetch failed', { cause });
    const coded = (code: string) => Object.assign(new Error(code), { code });

    expect(neverSent(failed(coded('ECONNREFUSED')))).toBe(true);
    expect(neverSent(failed(coded('ENOTFOUND')))).toBe(true);
    expect(neverSent(failed(coded('EAI_AGAIN')))).toBe(true);
    expect(neverSent(failed(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])))).toBe(true);
    expect(neverSent(failed(new AggregateError([coded('ECONNREFUSED'), coded('ECONNRESET')])))).toBe(false);
    expect(neverSent(failed(coded('ECONNRESET')))).toBe(false);
    expect(neverSent(failed(coded('UND_ERR_SOCKET')))).toBe(false);
    expect(neverSent(failed(undefined))).toBe(false); // a browser's TypeError carries no cause
    expect(neverSent(new DOMException('timed out', 'TimeoutError'))).toBe(false);
  });
});
