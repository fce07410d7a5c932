/**
 * The health canary's checks (`lambda/canary/health-canary.ts`) against a local HTTP server standing in for each
 * API: a healthy answer passes; a wrong status, body, stage or missing/changed security header fails the run with
 * every problem named; the machine API gets its key from the secret.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SECURITY_HEADERS } from '../../../contract/http';
import { type CanaryDeps, checkApi, runCanary } from '../../../lambda/canary/health-canary';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}
const healthy = (stage = 'prod'): Answer => ({
  status: 200,
  headers: { ...SECURITY_HEADERS, 'content-type': 'application/json' },
  body: JSON.stringify({
    status: 'ok',
    stage,
    version: '1.2.3',
    time: new Date().toISOString(),
    checks: { database: 'ok' },
  }),
});

let server: Server;
let base: string;
let answer: Answer = healthy();
const seen: IncomingMessage[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const deps: CanaryDeps = {
  fetch,
  secretValue: async (arn) => (arn === 'arn:key' ? 'canary-key-value-0123456789' : 'wrong'),
};
const api = (apiKeySecretArn?: string) => ({ name: 'machine', url: base, apiKeySecretArn });

describe('health canary', () => {
  it('passes a healthy API and sends the key read from the secret', async () => {
    answer = healthy();
    seen.length = 0;
    expect(await checkApi(api('arn:key'), 'prod', deps)).toEqual([]);
    expect(seen[0]?.url).toBe('/prod/v1/health');
    expect(seen[0]?.headers['x-api-key']).toBe('canary-key-value-0123456789');
  });

  it('names every problem: status, headers, body, stage', async () => {
    const { 'X-Frame-Options': _, ...headers } = SECURITY_HEADERS;
    answer = {
      status: 503,
      headers: { ...headers, 'Cache-Control': 'max-age=60' },
      body: JSON.stringify({ status: 'degraded', stage: 'staging', version: '1', time: 'x', checks: {} }),
    };
    const problems = await checkApi(api(), 'prod', deps);
    expect(problems).toEqual([
      'status 503, expected 200',
      'header X-Frame-Options is missing',
      'header Cache-Control is "max-age=60"',
      expect.stringMatching(/^body does not match the contract: /),
    ]);
    answer = { ...healthy('staging') };
    expect(await checkApi(api(), 'prod', deps)).toEqual(['stage is staging, expected prod']);
    answer = { ...healthy(), body: '<html>' };
    expect(await checkApi(api(), 'prod', deps)).toEqual(['body is not JSON']);
  });

  it('fails the run with every API’s problems, and refuses https-less targets', async () => {
    answer = { ...healthy(), status: 500 };
    const env = {
      CITADEL_STAGE: 'prod',
      CITADEL_CANARY_TARGETS: JSON.stringify([{ name: 'public', url: base.replace('http:', 'https:') }]),
    };
    await expect(
      runCanary(env, {
        ...deps,
        fetch: (input, init) => fetch(String(input).replace('https:', 'http:'), init),
      }),
    ).rejects.toThrow(/health check failed: public: status 500, expected 200/);
    await expect(
      runCanary({ ...env, CITADEL_CANARY_TARGETS: JSON.stringify([{ name: 'public', url: base }]) }, deps),
    ).rejects.toThrow(/https URL/);
    answer = healthy();
    await expect(
      runCanary(env, {
        ...deps,
        fetch: (input, init) => fetch(String(input).replace('https:', 'http:'), init),
      }),
    ).resolves.toBeUndefined();
  });
});
