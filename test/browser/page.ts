/**
 * The page the browser test loads: Uppy 6 (`@uppy/core`, `@uppy/aws-s3`) with Citadel's helper, bundled by
 * esbuild from npm as a web app would bundle them. The test drives it through `window.citadelPage`; everything
 * here runs in Chromium, talking to the API and to S3 across origins as a deployed page does.
 */
import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import { citadelSignRequest, fileIdFromKey, type UppySigningRequest } from '../../client/browser';

/** A file the page makes: random bytes of `size`, or the given bytes (base64). */
export interface PageFile {
  readonly name: string;
  readonly type: string;
  readonly size?: number;
  readonly base64?: string;
}

/** What happened to one file, as the page saw it. */
export interface PageResult {
  readonly name: string;
  readonly sha256: string;
  readonly key?: string;
  readonly fileId?: string;
  /** An error Uppy reported: its class name, HTTP status (Citadel's problem), and message. */
  readonly error?: { readonly name: string; readonly status?: number; readonly message: string };
}

export interface UploadRun {
  readonly results: PageResult[];
  /** The signing route's operations, in order (`create`, `parts`, `list`, `complete`, `abort`, `put`). */
  readonly signed: string[];
  /** Uppy's own requests to sign, `METHOD[ upload][ part n]`. */
  readonly asked: string[];
}

export interface UploadOptions {
  readonly apiUrl: string;
  readonly token: string;
  readonly files: readonly PageFile[];
  /** Pause the (first) file once this many bytes are uploaded, wait, then resume it. */
  readonly pauseAfterBytes?: number;
  /** Remove the (first) file from Uppy once this many bytes are uploaded (Uppy aborts its upload). */
  readonly removeAfterBytes?: number;
}

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65_536)
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65_536)));
  return bytes;
}

const fromBase64 = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function sha256(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const describeError = (error: unknown): PageResult['error'] => {
  const e = error as { name?: string; status?: number; message?: string };
  return { name: e.name ?? 'Error', status: e.status, message: e.message ?? String(error) };
};

/** Uploads `files` with Uppy and the Citadel helper; resolves when every file succeeded, failed or was removed. */
async function upload(options: UploadOptions): Promise<UploadRun> {
  const signed: string[] = [];
  const asked: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/v1/uploads/sign') && typeof init?.body === 'string')
      signed.push((JSON.parse(init.body) as { operation: string }).operation);
    return fetch(input, init);
  };
  const helper = citadelSignRequest({ apiUrl: options.apiUrl, token: options.token, fetch: recording });
  const uppy = new Uppy({ autoProceed: false }).use(AwsS3, {
    ...helper,
    signRequest: (request: UppySigningRequest) => {
      asked.push(
        `${request.method}${request.uploadId ? ' upload' : ''}${request.partNumber ? ` part ${request.partNumber}` : ''}`,
      );
      return helper.signRequest(request);
    },
  });
  const sums = new Map<string, string>();
  const ids: string[] = [];
  for (const f of options.files) {
    const data = new File([f.base64 ? fromBase64(f.base64) : randomBytes(f.size ?? 0)], f.name, {
      type: f.type,
    });
    sums.set(f.name, await sha256(data));
    ids.push(uppy.addFile({ name: f.name, type: f.type, data }));
  }
  const first = ids[0] as string;
  const settled = new Map<string, PageResult>();
  const done = new Promise<void>((resolve) => {
    const settle = (id: string, result: PageResult) => {
      settled.set(id, result);
      if (settled.size === ids.length) resolve();
    };
    uppy.on('upload-success', (file, response) => {
      if (!file) return;
      const key = String((response.body as { key?: string } | undefined)?.key);
      settle(file.id, {
        name: file.name ?? '',
        sha256: sums.get(file.name ?? '') ?? '',
        key,
        fileId: fileIdFromKey(key),
      });
    });
    uppy.on('upload-error', (file, error) => {
      if (file) settle(file.id, { name: file.name ?? '', sha256: '', error: describeError(error) });
    });
    let paused = false;
    uppy.on('upload-progress', (file, progress) => {
      if (!file || file.id !== first) return;
      const sent = progress.bytesUploaded ?? 0;
      if (options.pauseAfterBytes !== undefined && !paused && sent >= options.pauseAfterBytes) {
        paused = true;
        uppy.pauseResume(first);
        setTimeout(() => uppy.pauseResume(first), 300);
      }
      if (options.removeAfterBytes !== undefined && sent >= options.removeAfterBytes && !settled.has(first)) {
        uppy.removeFile(first);
        // Uppy's own DELETE goes out as the file is removed; give it a moment to be signed.
        setTimeout(
          () =>
            settle(first, {
              name: options.files[0]?.name ?? '',
              sha256: '',
              error: { name: 'Removed', message: 'removed' },
            }),
          500,
        );
      }
    });
  });
  uppy.upload().catch(() => undefined);
  await done;
  return { results: ids.map((id) => settled.get(id) as PageResult), signed, asked };
}

/**
 * One signing call made straight through the helper (no Uppy): `create` for a new placeholder, or a part of
 * `key` under `uploadId`. Returns the S3 upload id a `create` URL yields, or the refusal as the page sees it.
 */
async function signDirect(options: {
  apiUrl: string;
  token: string;
  create?: { name: string; size: number; type: string };
  part?: { key: string; uploadId: string };
}): Promise<{ key?: string; uploadId?: string; error?: PageResult['error'] }> {
  const helper = citadelSignRequest({ apiUrl: options.apiUrl, token: options.token, retry: { retries: 0 } });
  try {
    if (options.create) {
      const key = helper.generateObjectKey({ id: options.create.name, ...options.create });
      const signed = await helper.signRequest({ method: 'POST', key });
      const res = await fetch(signed.url, { method: 'POST', headers: signed.headers });
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await res.text())?.[1];
      return { key: signed.key, uploadId };
    }
    const part = options.part as { key: string; uploadId: string };
    await helper.signRequest({ method: 'PUT', key: part.key, uploadId: part.uploadId, partNumber: 1 });
    return {};
  } catch (error) {
    return { error: describeError(error) };
  }
}

declare global {
  interface Window {
    citadelPage: { upload: typeof upload; signDirect: typeof signDirect };
  }
}
window.citadelPage = { upload, signDirect };
