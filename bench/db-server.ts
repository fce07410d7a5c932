/**
 * Child process of bench:db. `citadel` serves the route table through the local server (the code of
 * `npm run dev`); `bare` is a plain node:http server that runs the same query with `pg` and returns the
 * same JSON with the same response headers (the security set and a request id). Both print `READY <url>`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { SECURITY_HEADERS } from '../contract/http';
import { type FileRow, toApiFile } from '../lambda/files/repository';
import { devTokenEndpoint } from '../local/dev-endpoints';
import { createDevTokenIssuer } from '../local/dev-tokens';
import { startLocalServer } from '../local/server';

const mode = process.argv[2];

if (mode === 'citadel') {
  const tokens = await createDevTokenIssuer();
  const server = await startLocalServer({ tokens, devEndpoints: devTokenEndpoint(tokens) });
  console.log(`READY ${server.url}`);
} else if (mode === 'bare') {
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.CITADEL_DB_POOL_MAX),
  });
  pool.on('error', () => undefined); // idle clients dropped at shutdown
  const route = /^\/v1\/files\/([0-9a-f-]{36})$/;
  const server = createServer(async (req, res) => {
    const id = route.exec(req.url ?? '')?.[1];
    if (!id) {
      res.writeHead(404).end();
      return;
    }
    const { rows } = await pool.query<FileRow>(
      "SELECT * FROM citadel.files WHERE id = $1 AND state <> 'deleted'",
      [id],
    );
    const row = rows[0];
    if (!row) {
      res.writeHead(404).end();
      return;
    }
    // The same response as Citadel's: the JSON plus the headers every Citadel response must carry.
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'x-request-id': randomUUID(),
      'Content-Type': 'application/json; charset=utf-8',
    });
    res.end(JSON.stringify(toApiFile(row)));
  });
  server.listen(0, '127.0.0.1', () =>
    console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}`),
  );
} else {
  console.error('usage: db-server.ts citadel|bare');
  process.exit(2);
}

// Exit through process.exit so diagnostics (e.g. --cpu-prof) are written.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
