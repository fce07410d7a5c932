/**
 * The minimal `XMLHttpRequest` Uppy needs, for driving real Uppy in Node (there is no jsdom here, and Uppy
 * needs nothing else from the DOM). http(s) requests go through node:http with the body streamed from the
 * Blob (a file-backed Blob from `fs.openAsBlob` never sits in memory).
 */
import http, { type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';

type Listener = ((event: { lengthComputable: boolean; loaded: number; total: number }) => void) | null;

export class NodeXMLHttpRequest {
  static readonly UNSENT = 0;
  static readonly OPENED = 1;
  static readonly DONE = 4;
  readyState = 0;
  status = 0;
  statusText = '';
  responseText = '';
  responseType = '';
  withCredentials = false;
  timeout = 0;
  readonly upload: { onprogress: Listener } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  private method = 'GET';
  private url = '';
  private readonly headers: Record<string, string> = {};
  private responseHeaders: IncomingHttpHeaders = {};
  private request: ClientRequest | undefined;
  private source: Readable | undefined;
  private aborted = false;

  get response(): string {
    return this.responseText;
  }

  open(method: string, url: string): void {
    this.method = method.toUpperCase();
    this.url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }

  getResponseHeader(name: string): string | null {
    const value = this.responseHeaders[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }

  getAllResponseHeaders(): string {
    return Object.entries(this.responseHeaders)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
      .join('\r\n');
  }

  abort(): void {
    this.aborted = true;
    this.source?.destroy();
    this.request?.destroy();
    this.readyState = 4;
    this.onabort?.();
  }

  send(body?: Blob | string | ArrayBuffer | ArrayBufferView | null): void {
    const url = new URL(this.url);
    const transport = url.protocol === 'https:' ? https : http;
    const size =
      body == null
        ? 0
        : typeof body === 'string'
          ? Buffer.byteLength(body)
          : body instanceof Blob
            ? body.size
            : body.byteLength;
    const headers: Record<string, string> = { ...this.headers };
    if (!['GET', 'HEAD'].includes(this.method)) headers['content-length'] = String(size);
    const req = transport.request(url, { method: this.method, headers });
    this.request = req;
    req.on('response', (res) => {
      // The answer is in (S3 may answer a refused part before reading all of it): stop sending.
      const cutShort = this.source !== undefined && !this.source.readableEnded;
      if (cutShort) {
        this.source?.unpipe();
        this.source?.destroy();
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (cutShort) req.destroy();
        if (this.aborted) return;
        this.status = res.statusCode ?? 0;
        this.statusText = res.statusMessage ?? '';
        this.responseHeaders = res.headers;
        this.responseText = Buffer.concat(chunks).toString('utf8');
        this.readyState = 4;
        this.onload?.();
      });
    });
    req.on('error', () => {
      this.source?.destroy();
      if (this.aborted || this.readyState === 4) return;
      this.status = 0;
      this.readyState = 4;
      this.onerror?.();
    });
    if (body == null || ['GET', 'HEAD'].includes(this.method)) {
      req.end();
      return;
    }
    const source =
      body instanceof Blob
        ? Readable.fromWeb(body.stream() as unknown as NodeWebStream<Uint8Array>)
        : Readable.from([typeof body === 'string' ? Buffer.from(body) : Buffer.from(body as ArrayBuffer)]);
    let loaded = 0;
    const progress = new Transform({
      transform: (chunk: Buffer, _e, done) => {
        loaded += chunk.length;
        this.upload.onprogress?.({ lengthComputable: true, loaded, total: size });
        done(null, chunk);
      },
    });
    this.source = source;
    source.pipe(progress).pipe(req);
  }
}
