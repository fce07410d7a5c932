/**
 * Uppy 6 and Citadel's helper in a real browser: Debian's Chromium (through `playwright-core`) loads a page on its
 * own origin that bundles `@uppy/core`, `@uppy/aws-s3` and `client/browser.ts` from npm, and uploads to the local
 * stack on other origins (the API with its CORS and its gateway's errors, the SigV4-checking S3 server with its
 * CORS, the simulated scan): a multipart upload, pause and resume (ListParts), removal (abort), single PUTs (one
 * typed with a Windows alias), a bad token, and another user's upload id. Every byte is checked after download.
 *
 * One Chromium for the file; without one, the suite reports itself skipped (a failure in CI).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { strToU8, zipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { CitadelClient } from '../../client/client';
import { downloadFile, waitForScan } from '../../client/upload';
import { MIN_PART_BYTES } from '../../contract/api/uploads';
import { sha256Of } from '../client/support';
import { describeInChromium } from '../support/browser';
import { startUploadEnvironment, type UploadEnvironment } from '../support/uploads';
import type { PageFile, UploadOptions, UploadRun } from './page';

const MiB = 1024 * 1024;

/** Serves the page and its bundle on 127.0.0.1: a page origin of its own, as a web app has. */
async function servePage(): Promise<{ server: Server; origin: string }> {
  const bundle = await build({
    entryPoints: [path.join(import.meta.dirname, 'page.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]?.text ?? '';
  const html =
    '<!doctype html><meta charset="utf-8"><title>Citadel upload</title><script src="/page.js"></script>';
  const server = createServer((req, res) => {
    const js = req.url === '/page.js';
    res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? script : html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describeInChromium('Uppy 6 in Chromium with citadelSignRequest', (browser) => {
  let env: UploadEnvironment;
  let page: Page;
  let pageServer: Server;
  let alice: { token: string; client: CitadelClient };
  let started: number;

  beforeAll(async () => {
    started = Date.now();
    const served = await servePage();
    pageServer = served.server;
    env = await startUploadEnvironment({ maxUploadBytes: 64 * MiB, corsOrigins: [served.origin] });
    const token = await env.token('user', 'alice');
    alice = { token, client: new CitadelClient({ baseUrl: env.url, token }) };
    page = await browser().newPage();
    await page.goto(served.origin);
    await page.waitForFunction(() => 'citadelPage' in window);
  }, 60_000);
  afterAll(async () => {
    await page?.close();
    await env?.stop();
    await new Promise((r) => pageServer?.close(r));
    process.stdout.write(
      `browser test: ${((Date.now() - started) / 1000).toFixed(1)} s including one Chromium page\n`,
    );
  });

  const upload = (options: Omit<UploadOptions, 'apiUrl' | 'token'>, token = alice.token) =>
    page.evaluate((o) => window.citadelPage.upload(o), {
      apiUrl: env.url,
      token,
      ...options,
    }) as Promise<UploadRun>;

  /** The file is clean and its bytes are the page's, downloaded and hashed here. */
  const expectStored = async (fileId: string | undefined, sha256: string, contentType?: string) => {
    const file = await waitForScan(alice.client, fileId as string, { timeoutMs: 20_000 });
    expect(file.state).toBe('clean');
    if (contentType) expect(file.contentType).toBe(contentType);
    const out = await downloadFile(
      alice.client,
      fileId as string,
      path.join(env.s3Server.dataDir, `${fileId}.out`),
    );
    expect(await sha256Of(out.path)).toBe(sha256);
  };

  it('uploads a multipart file and two single PUTs (one typed with a Windows alias), byte for byte', async () => {
    const zip = Buffer.from(zipSync({ 'a.txt': strToU8('hello from a browser') })).toString('base64');
    const files: PageFile[] = [
      { name: 'clip.bin', type: 'application/octet-stream', size: 2 * MIN_PART_BYTES + 3 * 1024 },
      { name: 'note.bin', type: '', size: MiB + 17 },
      { name: 'photos.zip', type: 'application/x-zip-compressed', base64: zip },
    ];

    const run = await upload({ files });

    expect(run.results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    const [clip, note, photos] = run.results;
    await expectStored(clip?.fileId, clip?.sha256 as string);
    await expectStored(note?.fileId, note?.sha256 as string);
    await expectStored(photos?.fileId, photos?.sha256 as string, 'application/zip');
    expect(run.signed.filter((op) => op === 'create')).toHaveLength(1);
    expect(run.signed.filter((op) => op === 'put')).toHaveLength(2);
    expect(run.asked).toContain('POST upload'); // Uppy completed at S3 itself
  });

  it('pauses and resumes a multipart upload: Uppy lists the parts S3 holds (ListParts) and sends the rest', async () => {
    const run = await upload({
      files: [{ name: 'paused.bin', type: 'application/octet-stream', size: 2 * MIN_PART_BYTES + 5 }],
      pauseAfterBytes: MIN_PART_BYTES,
    });

    const [result] = run.results;
    expect(result?.error).toBeUndefined();
    expect(run.signed).toContain('list');
    expect(run.asked).toContain('GET upload');
    await expectStored(result?.fileId, result?.sha256 as string);
  });

  it('removing a file mid-upload aborts it: the file is aborted and S3 keeps no part', async () => {
    const before = new Set((await alice.client.listFiles({ limit: 100 })).items.map((f) => f.id));
    const run = await upload({
      files: [{ name: 'removed.bin', type: 'application/octet-stream', size: 3 * MIN_PART_BYTES }],
      removeAfterBytes: 1,
    });

    expect(run.signed).toContain('abort');
    const created = (await alice.client.listFiles({ limit: 100 })).items.filter((f) => !before.has(f.id));
    expect(created.map((f) => [f.filename, f.state])).toEqual([['removed.bin', 'aborted']]);
    expect(env.s3Server.multipartUploads().filter((u) => u.key.endsWith(created[0]?.id as string))).toEqual(
      [],
    );
  });

  it("surfaces a bad token as the API's authentication error, with its status, readable across origins", async () => {
    const run = await upload(
      { files: [{ name: 'denied.bin', type: 'application/octet-stream', size: 1000 }] },
      'not-a-valid-token',
    );

    expect(run.results[0]?.error).toMatchObject({
      name: 'CitadelProblemError',
      status: 401,
      message: expect.stringContaining('Authentication required'),
    });
    expect(run.results[0]?.error?.message).not.toMatch(/Failed to fetch|outcome/i);
  });

  it("refuses, readably, to sign a part of one's own upload under another user's upload id", async () => {
    const bob = await env.token('user', 'bob');
    const mine = (await page.evaluate((o) => window.citadelPage.signDirect(o), {
      apiUrl: env.url,
      token: alice.token,
      create: { name: 'mine.bin', size: 2 * MIN_PART_BYTES, type: 'application/octet-stream' },
    })) as { key: string; uploadId: string };
    const theirs = (await page.evaluate((o) => window.citadelPage.signDirect(o), {
      apiUrl: env.url,
      token: bob,
      create: { name: 'theirs.bin', size: 2 * MIN_PART_BYTES, type: 'application/octet-stream' },
    })) as { key: string; uploadId: string };
    expect(mine.uploadId).toBeTruthy();
    expect(theirs.uploadId).toBeTruthy();

    const stolen = await page.evaluate((o) => window.citadelPage.signDirect(o), {
      apiUrl: env.url,
      token: alice.token,
      part: { key: mine.key, uploadId: theirs.uploadId },
    });
    const own = await page.evaluate((o) => window.citadelPage.signDirect(o), {
      apiUrl: env.url,
      token: alice.token,
      part: { key: mine.key, uploadId: mine.uploadId },
    });

    expect(stolen.error).toMatchObject({
      name: 'CitadelProblemError',
      status: 403,
      message: expect.stringContaining('S3 has no upload with this id for this file'),
    });
    expect(own.error).toBeUndefined();
  });
});
