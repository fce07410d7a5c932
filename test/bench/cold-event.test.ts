/**
 * bench:cold's inputs and outputs (bench/cold-event.ts): the events it sends are ones the handlers accept as
 * the right caller and request, and the child process reports a result only for the expected status.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  authorizerClaimsFor,
  CHILD_SCRIPT,
  lambdaContext,
  parseChildOutput,
  proxyEvent,
  RESULT_MARKER,
} from '../../bench/cold-event';
import { getFile } from '../../contract/api/files';
import { createUpload } from '../../contract/api/uploads';
import { assertRouteAccess, claimsOf, principalFromClaims } from '../../lambda/shared/auth';
import { parseRequest } from '../../lambda/shared/request';
import { createDevTokenIssuer } from '../../local/dev-tokens';

let claims: Record<string, string>;
let dir: string;

beforeAll(async () => {
  process.env.NODE_ENV = 'development';
  claims = await authorizerClaimsFor(await createDevTokenIssuer(), 'user');
  process.env.NODE_ENV = 'test';
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-cold-event-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('proxyEvent', () => {
  it('is a GET /v1/files/{id} the handler reads as that file, from a user holding files.read', () => {
    const id = randomUUID();
    const event = proxyEvent(getFile, { path: `/v1/files/${id}`, claims, requestId: 'r-1' });
    expect(event).toMatchObject({
      resource: '/v1/files/{id}',
      httpMethod: 'GET',
      pathParameters: { id },
      body: null,
      requestContext: { requestId: 'r-1', resourcePath: '/v1/files/{id}' },
    });
    // As API Gateway's Cognito authorizer passes them: every claim a string.
    for (const value of Object.values(claimsOf(event) ?? {})) expect(typeof value).toBe('string');
    const principal = principalFromClaims(claimsOf(event));
    expect(principal).toMatchObject({ kind: 'user', id: 'dev-user-user', role: 'user' });
    expect(() => assertRouteAccess(getFile.auth, principal)).not.toThrow();
    expect(parseRequest(getFile, event).params).toEqual({ id });
  });

  it('is a POST /v1/uploads whose JSON body the handler reads as declared', () => {
    const declared = { filename: 'report.pdf', size: 20 * 1024 * 1024, contentType: 'application/pdf' };
    const event = proxyEvent(createUpload, { path: '/v1/uploads', body: declared, claims, requestId: 'r-2' });
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.isBase64Encoded).toBe(false);
    expect(() => assertRouteAccess(createUpload.auth, principalFromClaims(claimsOf(event)))).not.toThrow();
    expect(parseRequest(createUpload, event).body).toEqual(declared);
  });

  it("refuses a path that is not the route's", () => {
    expect(() => proxyEvent(getFile, { path: '/v1/uploads', claims, requestId: 'r-3' })).toThrow(
      /is not GET \/v1\/files\/\{id\}/,
    );
  });

  it('carries the claims as given: a token without the subject is refused by the handler', () => {
    const { sub: _sub, ...withoutSub } = claims;
    const event = proxyEvent(getFile, {
      path: `/v1/files/${randomUUID()}`,
      claims: withoutSub,
      requestId: 'r-4',
    });
    expect(() => principalFromClaims(claimsOf(event))).toThrow(/lacks its subject/);
  });
});

describe('parseChildOutput', () => {
  const line = `${RESULT_MARKER}${JSON.stringify({ loadedMs: 120.5, firstMs: 150.25, statusCode: 200, body: '{}' })}`;

  it('finds the result line among the handler’s log lines and metrics', () => {
    const stdout = `{"level":"INFO","message":"x"}\n{"_aws":{}}\n${line}\n{"level":"INFO"}\n`;
    expect(parseChildOutput(stdout)).toEqual({
      loadedMs: 120.5,
      firstMs: 150.25,
      statusCode: 200,
      body: '{}',
    });
  });

  it('throws when there is no result line, or a malformed one', () => {
    expect(() => parseChildOutput('{"level":"ERROR"}\n')).toThrow(/no BENCH_COLD_RESULT line/);
    const backwards = `${RESULT_MARKER}${JSON.stringify({ loadedMs: 150, firstMs: 120, statusCode: 200, body: '{}' })}`;
    expect(() => parseChildOutput(backwards)).toThrow(/malformed/);
    const noBody = `${RESULT_MARKER}${JSON.stringify({ loadedMs: 1, firstMs: 2, statusCode: 200 })}`;
    expect(() => parseChildOutput(noBody)).toThrow(/malformed/);
  });
});

describe('CHILD_SCRIPT', () => {
  /** Runs the child script on a handler module that answers `status`, expecting `expected`. */
  const runChild = async (status: number, expected: number) => {
    const file = path.join(dir, `handler-${status}.mjs`);
    await writeFile(
      file,
      `console.log('{"level":"INFO","message":"log line"}');
       export const handler = async (event, context) => ({ statusCode: ${status},
         body: JSON.stringify({ path: event.path, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 }) });`,
    );
    const event = proxyEvent(getFile, { path: `/v1/files/${randomUUID()}`, claims, requestId: 'r-5' });
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          CHILD_SCRIPT,
          file,
          JSON.stringify(event),
          JSON.stringify(lambdaContext(getFile, 'r-5')),
          String(expected),
        ],
        { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } },
        (error, stdout, stderr) =>
          resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout, stderr }),
      ),
    );
  };

  it('reports load and first-response times since process start, and the response', async () => {
    const { code, stdout } = await runChild(200, 200);
    expect(code).toBe(0);
    const result = parseChildOutput(stdout);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({
      path: expect.stringMatching(/^\/v1\/files\//),
      fn: 'citadel-bench-getFile',
      left: true,
    });
    expect(result.loadedMs).toBeGreaterThan(0);
    expect(result.firstMs).toBeGreaterThanOrEqual(result.loadedMs);
  });

  it('fails, printing the response, when the status is not the expected one', async () => {
    const { code, stdout, stderr } = await runChild(500, 200);
    expect(code).toBe(1);
    expect(stderr).toMatch(/expected 200, got \{"statusCode":500/);
    expect(() => parseChildOutput(stdout)).toThrow(/no BENCH_COLD_RESULT line/);
  });
});
