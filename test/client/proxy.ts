/**
 * Test helpers between the client and the local stack: a client whose signed part URLs go through a proxy,
 * and a proxy in front of S3 that can cut chosen requests short (as a flaky network would).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CitadelClient, type SignedParts } from '../../client/client';

export interface PartProxy {
  /** `url` (a presigned part URL) through this proxy. */
  readonly via: (url: string) => string;
  /** Requests seen per part number (cut ones included). */
  readonly requests: Map<number, number>;
  close(): Promise<void>;
}

/**
 * A proxy in front of the S3 server the URLs given to `via` point at: forwards every request as is (with
 * the Host header the URL was signed for), except that `cut(partNumber, attempt)` true resets the
 * connection instead.
 */
export async function startPartProxy(
  cut: (partNumber: number, attempt: number) => boolean,
): Promise<PartProxy> {
  let to = new URL('http://127.0.0.1');
  const requests = new Map<number, number>();
  const server = http.createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('partNumber'));
    const attempt = (requests.get(n) ?? 0) + 1;
    requests.set(n, attempt);
    if (cut(n, attempt)) {
      req.socket.destroy();
      return;
    }
    const upstream = http.request(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: to.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    via: (url) => {
      const u = new URL(url);
      to = new URL(u.origin);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A client whose signed part URLs all go through `rewrite`. */
export function rewritingClient(
  baseUrl: string,
  token: string,
  rewrite: (url: string) => string,
): CitadelClient {
  const through: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(String(input));
    if (init?.method !== 'POST' || !url.pathname.endsWith('/parts') || !res.ok) return res;
    const body = (await res.json()) as SignedParts;
    const parts = body.parts.map((p) => ({ ...p, url: rewrite(p.url) }));
    return new Response(JSON.stringify({ ...body, parts }), {
      status: res.status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return new CitadelClient({ baseUrl, token, fetch: through });
}
