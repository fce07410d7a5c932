/**
 * Logging hygiene: the handlers' code paths run with every log line captured at DEBUG, and no line may carry a
 * password, a token, a presigned signature, a client secret or an API key value. The paths are the handler
 * suites' own: an upload end to end through the local API (create, sign, PUT, complete, scan, download, delete,
 * a forged token), the admin API's client lifecycle and MFA reset against the in-memory AWS fake, account recovery
 * with a recovery code (codes issued, one used, a spent code and a wrong password refused) through the local API, and
 * a password rotation against a real PostgreSQL. Every value the run handed out (tokens, secrets, keys, presigned URLs,
 * passwords) is then looked for verbatim, besides the shapes of such values.
 *
 * The scanner is shown to catch each kind of leak on a handler that logs one.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { lambdaContext } from '../support/lambda';

// Set before any handler module loads its logger: the loudest level, so nothing is hidden by filtering.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
process.env.CITADEL_DB_TLS = 'disable';

const { startUploadEnvironment } = await import('../support/uploads');
const { caller, pdfBytes, upload, settled, download } = await import('./uploads/api');
const { FakeAdminAws, setAdminEnv } = await import('../support/admin-aws');
const { call, JSON_HEADERS, routeEvent } = await import('../support/admin-fixtures');
const { userClaims } = await import('../support/principals');
const admin = await import('../../contract/api/admin');
const { handler: createHandler } = await import('../../lambda/admin/create-api-client');
const { handler: rotateHandler } = await import('../../lambda/admin/rotate-api-key');
const { handler: revokeHandler } = await import('../../lambda/admin/revoke-api-client');
const { handler: mfaHandler } = await import('../../lambda/admin/reset-user-mfa');
const { createRotationHandler } = await import('../../lambda/rotation/handler');
const { correlationIdOf, observe } = await import('../../lambda/shared/observe');
const { logger } = await import('../../lambda/shared/powertools');
const { provision } = await import('./rotation/fixtures');
const { SecretsManagerDouble } = await import('./rotation/secrets-manager-double');
const { DEV_PASSWORD } = await import('../../local/aws-simulators');

/** What a log line may never contain, by shape (values the run did not hand out itself). */
const SHAPES: ReadonlyArray<readonly [kind: string, pattern: RegExp]> = [
  ['presigned signature', /X-Amz-Signature=(?!\[REDACTED\])[0-9a-f]{16,}/i],
  ['presigned credential', /X-Amz-Credential=(?!\[REDACTED\])[A-Z0-9]{8,}/],
  ['session token', /X-Amz-Security-Token=(?!\[REDACTED\])[^&\s"]{8,}/],
  ['JWT', /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/],
  ['bearer token', /bearer\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{12,}/i],
  [
    'secret-named field with a value',
    /"(password|passwd|clientSecret|client_secret|apiKey|api_key|x-api-key|secretString|SecretString|authorization|token)"\s*:\s*"(?!\[REDACTED\])[^"]{6,}"/i,
  ],
];

/** Every leak in `lines`: a forbidden shape, or one of `secrets` verbatim. */
function leaks(lines: readonly string[], secrets: Iterable<string>): string[] {
  const values = [...new Set(secrets)].filter((s) => s.length >= 8);
  const found: string[] = [];
  for (const line of lines) {
    for (const [kind, pattern] of SHAPES)
      if (pattern.test(line)) found.push(`${kind}: ${line.slice(0, 200)}`);
    for (const value of values) {
      if (line.includes(value))
        found.push(`a value handed out by the run (${value.slice(0, 4)}…): ${line.slice(0, 200)}`);
    }
  }
  return found;
}

// ------------------------------------------------------------------------------------------------ capture

const lines: string[] = [];
const secrets = new Set<string>();
const streams = [process.stdout, process.stderr] as const;
const originals = streams.map((s) => s.write.bind(s));

function startCapture(): void {
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      lines.push(
        ...text
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      return (originals[i] as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  });
}
function stopCapture(): void {
  streams.forEach((stream, i) => {
    stream.write = originals[i] as typeof stream.write;
  });
}

/** Collects every string value of an answer that is a credential of some kind. */
function collect(value: unknown): void {
  if (typeof value === 'string') {
    if (/X-Amz-Signature=/.test(value)) {
      secrets.add(value);
      const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(value)?.[1];
      if (signature) secrets.add(signature);
    }
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (/secret|apiKey|password|token/i.test(k) && typeof v === 'string') secrets.add(v);
      collect(v);
    }
  }
}

// ------------------------------------------------------------------------------------------------ the run

let stopUploads: (() => Promise<void>) | undefined;
const aws = new FakeAdminAws();
const sm = mockClient(SecretsManagerClient);

beforeAll(async () => {
  startCapture();
  try {
    // 1. An upload end to end, through the local API and the simulated GuardDuty scan.
    const env = await startUploadEnvironment({ maxUploadBytes: 64 * 1024 * 1024 });
    stopUploads = () => env.stop();
    const token = await env.token('user', 'hygiene-user');
    secrets.add(token);
    const alice = caller(env, token);
    const { created, done } = await upload(alice, pdfBytes(9 * 1024 * 1024, 3));
    expect(done.status).toBe(200);
    const signed = await alice('POST', `/v1/uploads/${created.id}/parts`, { partNumbers: [1] });
    collect(signed.body);
    expect((await settled(env, alice, created.id)).body.state).toBe('clean');
    const link = await alice<{ url: string }>('GET', `/v1/files/${created.id}/download`);
    collect(link.body);
    await download(alice, created.id);
    expect((await alice('DELETE', `/v1/files/${created.id}`)).status).toBe(204);
    // Refused requests log why: a file that is not downloadable yet, an upload completed with a part missing.
    const pending = await alice<{ id: string }>('POST', '/v1/uploads', {
      filename: 'half.pdf',
      size: 20 * 1024 * 1024,
      contentType: 'application/pdf',
    });
    collect(pending.body);
    expect((await alice('GET', `/v1/files/${pending.body.id}/download`)).status).toBeGreaterThanOrEqual(400);
    expect(
      (await alice('POST', `/v1/uploads/${pending.body.id}/complete`, {})).status,
    ).toBeGreaterThanOrEqual(400);
    const forged = `${token.slice(0, -6)}AAAAAA`;
    secrets.add(forged);
    expect((await caller(env, forged)('GET', '/v1/files')).status).toBe(401);

    // 2. The admin API: a machine client created, its key rotated, revoked; a user's MFA reset.
    setAdminEnv();
    const claims = userClaims('admin', 'hygiene-admin');
    const send = (handler: Parameters<typeof call>[0], route: Parameters<typeof routeEvent>[0], init = {}) =>
      call(handler, routeEvent(route, { claims, requestId: randomUUID(), ...init }));
    const made = await send(createHandler, admin.createApiClient, {
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: 'hygiene export', scopes: ['files.read'], tier: 'basic' }),
    });
    expect(made.status).toBe(201);
    collect(made.body);
    const id = (made.body as { client: { id: string } }).client.id;
    const rotated = await send(rotateHandler, admin.rotateApiKey, { pathParameters: { id } });
    expect(rotated.status).toBe(200);
    collect(rotated.body);
    expect((await send(revokeHandler, admin.revokeApiClient, { pathParameters: { id } })).status).toBe(204);
    aws.addUser('hygiene-user');
    expect(
      (await send(mfaHandler, admin.resetUserMfa, { pathParameters: { username: 'hygiene-user' } })).status,
    ).toBe(204);
    for (const client of aws.appClients.values()) secrets.add(client.clientSecret);
    for (const key of aws.keys.values()) secrets.add(key.value);

    // 4. Recovery codes issued, one used to recover an account (password and code in the body), a wrong password
    // and a spent code refused: through the local API, Cognito and SES simulated as `npm run dev` simulates them.
    process.env.CITADEL_ADAPTERS_MODULE = path.resolve(import.meta.dirname, '../../local/aws-simulators.ts');
    const person = caller(env, await env.token('user', 'dev-user-user'));
    const issued = await person<{ codes: string[] }>('POST', '/v1/me/recovery-codes');
    expect(issued.status).toBe(201);
    for (const code of issued.body.codes) secrets.add(code);
    const recover = (code: string, password: string) =>
      fetch(`${env.url}/v1/auth/recover`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dev-user@citadel.local', password, code }),
      });
    const wrongPassword = `not-the-password-${randomUUID()}`;
    secrets.add(DEV_PASSWORD).add(wrongPassword);
    const [first, second] = issued.body.codes as [string, string];
    expect((await recover(first, DEV_PASSWORD)).status).toBe(200);
    expect((await recover(first, DEV_PASSWORD)).status).toBe(403);
    expect((await recover(second, wrongPassword)).status).toBe(403);
    delete process.env.CITADEL_ADAPTERS_MODULE;

    // 3. A single-user rotation of a master password, against a real PostgreSQL.
    // In the upload environment's cluster, beside its database.
    const server = env.postgres;
    const database = await server.createDatabase('hygiene');
    const double = new SecretsManagerDouble().attach(sm);
    const roles = await provision(server, database, double, 'hygiene');
    await double.rotate(roles.masterArn, (event) =>
      createRotationHandler({ strategy: 'single-user' })(event, lambdaContext()),
    );
    // …and a step that fails, whose error is logged with the rotation token the event carried.
    const rotationToken = `rotation-token-${randomUUID()}`;
    secrets.add(rotationToken);
    await expect(
      createRotationHandler({ strategy: 'single-user' })(
        {
          SecretId: roles.masterArn,
          ClientRequestToken: randomUUID(),
          Step: 'setSecret',
          RotationToken: rotationToken,
        },
        lambdaContext(),
      ),
    ).rejects.toThrow();
    for (const value of double.allValues()) {
      const password = (JSON.parse(value) as { password?: string }).password;
      if (password) secrets.add(password);
    }
  } finally {
    stopCapture();
  }
}, 240_000);

afterAll(async () => {
  aws.restore();
  sm.restore();
  await stopUploads?.();
});

describe('log hygiene of the handlers (DEBUG)', () => {
  it('ran the paths: the logs are JSON from the shared logger, with the correlation id on API requests', () => {
    expect(logger.getLevelName()).toBe('DEBUG');
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.length).toBeGreaterThanOrEqual(10);
    // Every line logged inside a handler invocation carries a correlation id: the API request id for API
    // requests (the local server names functions citadel-local-<operation>), the rotation's token for rotations.
    // (The local GuardDuty simulator calls the scan pipeline outside an invocation: its line is left out.)
    const invoked = json.filter((l) => l.message !== 'scan verdict');
    expect(
      invoked.filter((l) => String(l.function_name).startsWith('citadel-local-')).length,
    ).toBeGreaterThanOrEqual(3);
    expect(invoked.filter((l) => typeof l.correlation_id !== 'string' || l.correlation_id === '')).toEqual(
      [],
    );
    const failed = json.filter((l) => l.message === 'rotation step failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.correlation_id).toBe(failed[0]?.versionId);
    expect(secrets.size).toBeGreaterThan(8);
  });

  it('no line carries a password, token, presigned signature, client secret or API key value', () => {
    expect(leaks(lines, secrets)).toEqual([]);
  });
});

describe('the scanner', () => {
  it('catches a handler that logs a presigned URL, a key value, a token or a password', async () => {
    const url =
      'https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE123%2F20260101&X-Amz-Signature=0123456789abcdef0123456789abcdef';
    const apiKey = 'Zq3xYk8PfR2mW7tN1vB5cD9hJ4sL6gE0aQ';
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
    const captured: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      captured.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l.trim()),
      );
      return true;
    }) as typeof process.stdout.write;
    try {
      const careless = observe(async () => {
        process.stdout.write(`download link: ${url}\n`); // bypasses the shared logger and its redaction
        logger.info(`issued key ${apiKey}`); // a value in free text is not a field the logger can redact
        logger.info('token', { note: `Bearer ${jwt}` }); // redacted by the logger: must not be reported
        logger.info('login', { password: 'hunter2-hunter2' }); // redacted field: must not be reported
        return 'ok';
      });
      await careless({}, lambdaContext());
    } finally {
      process.stdout.write = write;
    }
    const found = leaks(captured, [apiKey, 'hunter2-hunter2']);
    expect(found).toEqual([
      expect.stringMatching(/^presigned signature: download link/),
      expect.stringMatching(/^presigned credential: download link/),
      expect.stringMatching(/^a value handed out by the run \(Zq3x…\): .*issued key/),
    ]);
    expect(leaks(['{"message":"x","password":"hunter2-hunter2"}'], [])).toEqual([
      expect.stringMatching(/^secret-named field with a value/),
    ]);
    expect(leaks([`{"message":"Bearer ${jwt}"}`], [])).toHaveLength(2);
  });
});

/** Lines of `source` that write to the console instead of the shared logger. */
function consoleWrites(source: string): string[] {
  return source.split('\n').filter((line) => /\bconsole\.(log|info|warn|error|debug|trace)\s*\(/.test(line));
}

describe('every function logs through the shared logger', () => {
  const LAMBDA = path.resolve(import.meta.dirname, '../../lambda');
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? sources(path.join(dir, e.name))
        : e.name.endsWith('.ts')
          ? [path.join(dir, e.name)]
          : [],
    );

  it('no handler module writes to the console', () => {
    const files = sources(LAMBDA);
    expect(files.length).toBeGreaterThan(40);
    const found = files.flatMap((f) =>
      consoleWrites(readFileSync(f, 'utf8')).map((l) => `${f}: ${l.trim()}`),
    );
    expect(found).toEqual([]);
    expect(consoleWrites("  console.log('presigned', url);\n  logger.info('ok');")).toHaveLength(1);
  });

  it('gives every invocation a correlation id: request id, event id, rotation token, or the Lambda request id', () => {
    const context = { awsRequestId: 'lambda-request' };
    expect(correlationIdOf({ requestContext: { requestId: 'api-request' } }, context)).toBe('api-request');
    expect(correlationIdOf({ id: 'event-1', 'detail-type': 'Object Created' }, context)).toBe('event-1');
    expect(correlationIdOf({ ClientRequestToken: 'version-1', Step: 'createSecret' }, context)).toBe(
      'version-1',
    );
    expect(correlationIdOf({ RequestId: 'cfn-1', RequestType: 'Create' }, context)).toBe('cfn-1');
    expect(correlationIdOf({ id: 'not-an-event' }, context)).toBe('lambda-request');
    expect(correlationIdOf(undefined, context)).toBe('lambda-request');
  });
});
