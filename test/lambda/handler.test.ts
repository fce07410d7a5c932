import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SECURITY_HEADERS } from '../../contract/http';
import { handler as health } from '../../lambda/health/get-health';
import { closePool } from '../../lambda/shared/db';
import { migratedDatabase } from '../support/database';
import { lambdaContext, proxyEvent } from '../support/lambda';
import { startPostgres, type TestPostgres } from '../support/postgres';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
  process.env.DATABASE_URL = (await migratedDatabase(server)).appUrl;
});
afterAll(async () => {
  await closePool();
  await server.destroy();
});

process.env.CITADEL_CORS_ORIGINS = 'https://app.example.com,https://admin.example.com';

const invoke = (init: Parameters<typeof proxyEvent>[0]) => health(proxyEvent(init), lambdaContext());

describe('GET /v1/health through the house handler', () => {
  it('answers 200 with the declared body, security headers and the request id', async () => {
    // Prepare
    const requestId = 'req-health-1';
    // Act
    const res = await invoke({ requestId });
    // Assess
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toEqual({
      status: 'ok',
      stage: expect.any(String),
      version: expect.any(String),
      time: expect.any(String),
      checks: { database: 'ok' },
    });
    expect(Number.isNaN(Date.parse(body.time))).toBe(false);
    expect(res.headers).toMatchObject({ ...SECURITY_HEADERS, 'x-request-id': requestId });
    expect(res.headers?.['Content-Type']).toMatch(/^application\/json/);
  });

  it('allows exactly the configured CORS origins and never echoes others', async () => {
    const allowed = await invoke({ headers: { Origin: 'https://admin.example.com' } });
    expect(allowed.headers?.['Access-Control-Allow-Origin']).toBe('https://admin.example.com');
    expect(allowed.headers?.Vary).toBe('Origin');
    const foreign = await invoke({ headers: { origin: 'https://evil.example.net' } });
    expect(foreign.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it.each([
    ['a query parameter', { query: { t: '1' } }, 400, 'urn:citadel:problem:bad-request'],
    ['a repeated query parameter', { query: { t: ['1', '2'] } }, 400, 'urn:citadel:problem:bad-request'],
    [
      'a body on GET',
      { body: '{"x":1}', headers: { 'content-type': 'application/json' } },
      400,
      'urn:citadel:problem:bad-request',
    ],
    [
      'an unacceptable Accept header',
      { headers: { Accept: 'text/html' } },
      406,
      'urn:citadel:problem:not-acceptable',
    ],
    ['an oversized body', { body: 'x'.repeat(70_000) }, 413, 'urn:citadel:problem:payload-too-large'],
  ])('refuses %s with problem+json', async (_name, init, status, type) => {
    const requestId = 'req-bad-1';
    const res = await invoke({ ...init, requestId });
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['Content-Type']).toBe('application/problem+json');
    expect(res.headers).toMatchObject(SECURITY_HEADERS);
    expect(JSON.parse(res.body)).toMatchObject({
      type,
      status,
      instance: requestId,
      title: expect.any(String),
    });
  });

  it('never answers generated garbage with a 5xx, a stack trace or without the request id', async () => {
    const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/);
    const anyText = fc.string({ unit: 'binary', maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(headerName, anyText, { maxKeys: 8 }),
        fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(anyText, fc.array(anyText, { maxLength: 3 })), {
          maxKeys: 4,
        }),
        fc.option(anyText, { nil: null }),
        fc.boolean(),
        fc.uuid(),
        async (headers, query, body, isBase64Encoded, requestId) => {
          const res = await invoke({ headers, query, body, isBase64Encoded, requestId });
          expect(res.statusCode).toBeLessThan(500);
          expect(res.headers?.['x-request-id']).toBe(requestId);
          if (res.statusCode >= 400) {
            expect(res.headers?.['Content-Type']).toBe('application/problem+json');
            const problem = JSON.parse(res.body);
            expect(problem.instance).toBe(requestId);
            expect(res.body).not.toMatch(/\n\s+at |Error:/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
