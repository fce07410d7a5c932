/**
 * Transfers at the edges: a low bandwidth cap over several parts in flight, and downloads that stall. Uploads run against the real local stack (API handlers, PostgreSQL, the
 * S3 server and the simulated scan); the stalled download against a local server that stops sending.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CitadelClient } from '../../client/client';
import { downloadToFile } from '../../client/transfer';
import { downloadFile, type UploadEvent, uploadFile } from '../../client/upload';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import { MiB, randomFile, sha256Of } from './support';

let env: UploadEnvironment;
let dir: string;
let client: CitadelClient;

beforeAll(async () => {
  env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB });
  dir = await mkdtemp(path.join(tmpdir(), 'citadel-transfer-'));
  client = new CitadelClient({ baseUrl: env.url, token: await env.token('user', 'dave') });
}, 60_000);
afterAll(async () => {
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('uploads', () => {
  it('under a bandwidth cap, parts waiting their turn do not time out as idle', async () => {
    // 3 parts in flight at 1.5 MiB/s: each waits ~500 ms between its 256 KiB chunks, longer than the idle
    // timeout. Before, those waits counted as a stalled network; one timeout fails the upload (no retries).
    // The timeout is still several times what a loaded CI machine takes to move a chunk to the local S3 server.
    const file = await randomFile(path.join(dir, 'capped.bin'), 17 * MiB);
    const events: UploadEvent[] = [];

    const result = await uploadFile(client, file, {
      concurrency: 3,
      rateLimitBytesPerSecond: 1.5 * MiB,
      idleTimeoutMs: 400,
      partRetries: 0,
      resume: false,
      waitForScan: true,
      onEvent: (e) => events.push(e),
    });

    expect(events.filter((e) => e.type === 'part-retry')).toEqual([]);
    expect(result.partsUploaded).toEqual([1, 2, 3]);
    expect((await downloadFile(client, result.id, path.join(dir, 'capped.out'))).sha256).toBe(
      await sha256Of(file),
    );
  });
});

describe('downloadToFile', () => {
  it('fails with ETIMEDOUT when the body stops arriving, and leaves no temporary file', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(MiB) });
      res.write(Buffer.alloc(1024)); // then nothing
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const target = path.join(dir, 'stalled.out');
    try {
      const run = downloadToFile(`http://127.0.0.1:${port}/x`, target, {
        expectedBytes: MiB,
        idleTimeoutMs: 200,
      });

      await expect(run).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect((await readdir(dir)).filter((f) => f.includes('stalled'))).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
