/**
 * The authorization matrix: every kind of caller against every route of the route table, on their own and on
 * others' resources, through the REAL handler of each route (imported from `route.entry`) with real PostgreSQL.
 * AWS (Cognito, the API-key control function) is the in-memory fake of `test/support/admin-aws.ts`.
 *
 * The expected outcome is written down below by hand from DESIGN.md's "Identity and access" (role hierarchy,
 * permission matrix, scopes) — not derived from the handlers or from `route.auth` — and a separate test checks
 * that the route table declares the same thing.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Role, Scope } from '../../../contract/roles';
import type { RouteDefinition } from '../../../contract/route';
import { type RouteId, routeList } from '../../../contract/routes';
import { closePool } from '../../../lambda/shared/db';
import {
  LOCAL_UPLOADS_BUCKET,
  type LocalUploads,
  startLocalS3Server,
  startLocalUploads,
} from '../../../local/uploads';
import { FakeAdminAws, setAdminEnv } from '../../support/admin-aws';
import { AdminTables, call, JSON_HEADERS, type ProxyHandler, routeEvent } from '../../support/admin-fixtures';
import { migratedDatabase } from '../../support/database';
import type { EventInit } from '../../support/lambda';
import { startPostgres, type TestPostgres } from '../../support/postgres';
import { machineClaims, userClaims } from '../../support/principals';
import { type PreparedCodes, prepareCodes, seedRecoverableUser } from '../../support/recovery-fixtures';
import type { S3Server } from '../../support/s3-server';

// ---- DESIGN.md, "Identity and access", as data ------------------------------------------------------------

/** "Groups form a hierarchy, admin > manager > user > guest; a higher role holds every right of a lower one." */
const HIERARCHY: readonly Role[] = ['guest', 'user', 'manager', 'admin'];
const holds = (held: Role, needed: Role): boolean => HIERARCHY.indexOf(held) >= HIERARCHY.indexOf(needed);

/**
 * What a route acts on: someone's file, someone's upload in progress, an API client, a Cognito user, or
 * nothing in particular.
 */
type Resource = 'none' | 'file' | 'upload' | 'api-client' | 'user';
/** Whose resource the call is about. API clients and users are never the caller's own. */
type Ownership = 'none' | 'own' | 'others';
type Decision = 'allow' | 'deny';

type Rule =
  | {
      readonly public: true;
      readonly resource: 'none';
      /** `false`: for people only, off the machine API (account recovery). @default served to machines too */
      readonly machines?: false;
    }
  | {
      readonly public: false;
      readonly resource: Resource;
      /** Lowest role for a person acting on their own resource (or where there is none). */
      readonly role: Role;
      /** Lowest role for a person acting on someone else's resource; 'nobody' for the owner only. @default role */
      readonly othersRole?: Role | 'nobody';
      /** The audit action of a refusal hidden as a 404 (someone else's file or upload). */
      readonly hiddenAction?: string;
      /**
       * Lowest role that may see someone else's resource without being allowed this action on it: told so with a
       * 403 (audited under `hiddenAction`), not the 404 that hides the resource from everyone else.
       */
      readonly visibleRole?: Role;
      /** OAuth scopes, any one of which the token must carry. */
      readonly scopes: readonly Scope[];
      /** Machine clients act as a `user` would, on their own resources only; never on manager/admin rights. */
      readonly machines: boolean;
    };

const ANY_SCOPE: readonly Scope[] = ['files.read', 'files.write', 'admin'];

const POLICY: Record<RouteId, Rule> = {
  // guest: health …
  getHealth: { public: true, resource: 'none' },
  // … own profile (every signed-in caller, whatever their scope)
  getMe: { public: false, resource: 'none', role: 'guest', scopes: ANY_SCOPE, machines: true },
  // … own profile: a person's MFA recovery codes (machines have no MFA to recover)
  createRecoveryCodes: {
    public: false,
    resource: 'none',
    role: 'guest',
    scopes: ANY_SCOPE,
    machines: false,
  },
  // Anyone may try to recover an account: the password and a code are the credentials (people only).
  recoverAccount: { public: true, resource: 'none', machines: false },
  // user: get own files (a read: files.read); manager: anyone's
  getFile: {
    public: false,
    resource: 'file',
    role: 'user',
    othersRole: 'manager',
    hiddenAction: 'file.read',
    scopes: ['files.read'],
    machines: true,
  },
  // user: upload (a write: files.write) — an upload in progress is its owner's alone, whatever the role
  createUpload: { public: false, resource: 'none', role: 'user', scopes: ['files.write'], machines: true },
  signUploadRequest: {
    public: false,
    resource: 'none',
    role: 'user',
    scopes: ['files.write'],
    machines: true,
  },
  signUploadParts: {
    public: false,
    resource: 'upload',
    role: 'user',
    othersRole: 'nobody',
    hiddenAction: 'upload.access',
    scopes: ['files.write'],
    machines: true,
  },
  getUpload: {
    public: false,
    resource: 'upload',
    role: 'user',
    othersRole: 'nobody',
    hiddenAction: 'upload.access',
    scopes: ['files.write'],
    machines: true,
  },
  completeUpload: {
    public: false,
    resource: 'upload',
    role: 'user',
    othersRole: 'nobody',
    hiddenAction: 'upload.access',
    scopes: ['files.write'],
    machines: true,
  },
  abortUpload: {
    public: false,
    resource: 'upload',
    role: 'user',
    othersRole: 'nobody',
    hiddenAction: 'upload.access',
    scopes: ['files.write'],
    machines: true,
  },
  // user: list own files (manager: anyone's, exercised in the upload tests)
  listFiles: { public: false, resource: 'none', role: 'user', scopes: ['files.read'], machines: true },
  // user: download own files; manager: anyone's
  downloadFile: {
    public: false,
    resource: 'file',
    role: 'user',
    othersRole: 'manager',
    hiddenAction: 'file.download',
    scopes: ['files.read'],
    machines: true,
  },
  // user: delete own files; admin: anyone's. A manager reads anyone's files, so is told 403, not 404.
  deleteFile: {
    public: false,
    resource: 'file',
    role: 'user',
    othersRole: 'admin',
    hiddenAction: 'file.delete',
    visibleRole: 'manager',
    scopes: ['files.write'],
    machines: true,
  },
  // admin: manage API clients (create; rotate the key; revoke) — and list them
  createApiClient: { public: false, resource: 'none', role: 'admin', scopes: ['admin'], machines: false },
  listApiClients: { public: false, resource: 'none', role: 'admin', scopes: ['admin'], machines: false },
  rotateApiKey: { public: false, resource: 'api-client', role: 'admin', scopes: ['admin'], machines: false },
  revokeApiClient: {
    public: false,
    resource: 'api-client',
    role: 'admin',
    scopes: ['admin'],
    machines: false,
  },
  // admin: reset a user's MFA
  resetUserMfa: { public: false, resource: 'user', role: 'admin', scopes: ['admin'], machines: false },
  // manager: read the audit log
  listAuditEvents: { public: false, resource: 'none', role: 'manager', scopes: ['admin'], machines: false },
};

interface Caller {
  readonly label: string;
  readonly kind: 'anonymous' | 'person' | 'machine';
  readonly id: string;
  readonly role?: Role;
  readonly scopes: readonly Scope[];
  readonly claims: Record<string, string> | undefined;
}

/** The expected outcome of `caller` calling a route under `rule` on a resource of `ownership`. */
function expected(caller: Caller, rule: Rule, ownership: Ownership): Decision {
  if (rule.public) return 'allow';
  if (caller.kind === 'anonymous') return 'deny';
  if (!rule.scopes.some((s) => caller.scopes.includes(s))) return 'deny';
  if (caller.kind === 'machine') return rule.machines && ownership !== 'others' ? 'allow' : 'deny';
  const needed = ownership === 'others' ? (rule.othersRole ?? rule.role) : rule.role;
  if (needed === 'nobody') return 'deny';
  return holds(caller.role as Role, needed) ? 'allow' : 'deny';
}

/** A refusal on someone else's resource that the caller can see: a 403 saying why, not a hiding 404. */
function seesButMayNotAct(caller: Caller, rule: Rule, ownership: Ownership): boolean {
  if (rule.public || ownership !== 'others' || caller.kind !== 'person' || rule.visibleRole === undefined)
    return false;
  if (!rule.scopes.some((s) => caller.scopes.includes(s))) return false;
  return holds(caller.role as Role, rule.visibleRole) && expected(caller, rule, ownership) === 'deny';
}

const ownerships = (caller: Caller, rule: Rule): Ownership[] => {
  if (rule.resource === 'none') return ['none'];
  if (rule.resource === 'file' || rule.resource === 'upload')
    return caller.kind === 'anonymous' ? ['others'] : ['own', 'others'];
  return ['others'];
};

// ---- Callers ----------------------------------------------------------------------------------------------

const person = (role: Role, scopes: readonly Scope[], label: string): Caller => {
  const id = `mx-${role}-${scopes.join('+') || 'none'}`;
  return { label, kind: 'person', id, role, scopes, claims: userClaims(role, id, scopes) };
};
const machine = (scopes: readonly Scope[]): Caller => {
  const id = `mxrobot${scopes.map((s) => s.replace('files.', '')).join('')}`;
  return {
    label: `machine {${scopes.join(', ')}}`,
    kind: 'machine',
    id,
    scopes,
    claims: machineClaims(id, scopes),
  };
};

const CALLERS: readonly Caller[] = [
  { label: 'anonymous (no claims)', kind: 'anonymous', id: 'anonymous', scopes: [], claims: undefined },
  // Web-client tokens carry every scope.
  ...HIERARCHY.map((role) => person(role, ANY_SCOPE, `${role} (web client)`)),
  // People whose token lacks one scope.
  ...HIERARCHY.flatMap((role) =>
    ANY_SCOPE.map((missing) =>
      person(
        role,
        ANY_SCOPE.filter((s) => s !== missing),
        `${role} without ${missing}`,
      ),
    ),
  ),
  // People whose token carries no citadel scope at all.
  ...HIERARCHY.map((role) => person(role, [], `${role} with no citadel scope`)),
  machine(['files.read']),
  machine(['files.write']),
  machine(['files.read', 'files.write']),
];

// ---- Harness ----------------------------------------------------------------------------------------------

setAdminEnv();
const ROOT = path.resolve(import.meta.dirname, '../../..');
const OTHER_OWNER = 'mx-someone-else';
const aws = new FakeAdminAws();
let server: TestPostgres;
let tables: AdminTables;

let s3Server: S3Server;
let uploads: LocalUploads;
let prepared: PreparedCodes;

beforeAll(async () => {
  server = await startPostgres();
  const db = await migratedDatabase(server, 'matrix');
  process.env.DATABASE_URL = db.appUrl;
  tables = new AdminTables(db.adminUrl);
  prepared = await prepareCodes();
  s3Server = await startLocalS3Server();
  uploads = startLocalUploads(s3Server, {
    maxUploadBytes: 1024 ** 3,
    allowedContentTypes: ['application/pdf'],
  });
});
afterAll(async () => {
  aws.restore();
  await uploads?.idle();
  uploads?.stop();
  await s3Server?.stop();
  await closePool();
  await server?.destroy();
});

async function seedFile(ownerId: string): Promise<string> {
  const id = randomUUID();
  await tables.rows(
    `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, state)
     VALUES ($1::uuid, $2::text, 'uploads/' || $2::text || '/' || $1::text, 'matrix.pdf', 'application/pdf', 1024, 'clean')`,
    [id, ownerId],
  );
  return id;
}

/** An upload in progress with its one part already at S3 (so it can be completed). */
async function seedUpload(ownerId: string): Promise<string> {
  const id = randomUUID();
  const key = `uploads/${ownerId}/${id}`;
  const body = Buffer.from('%PDF-1.7 matrix');
  const { UploadId } = await uploads.s3.send(
    new CreateMultipartUploadCommand({
      Bucket: LOCAL_UPLOADS_BUCKET,
      Key: key,
      ContentType: 'application/pdf',
    }),
  );
  await uploads.s3.send(
    new UploadPartCommand({ Bucket: LOCAL_UPLOADS_BUCKET, Key: key, UploadId, PartNumber: 1, Body: body }),
  );
  await tables.rows(
    `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, upload_id,
                                part_size, part_count, state)
     VALUES ($1::uuid, $2, $3, 'matrix.pdf', 'application/pdf', $4, $5, 8388608, 1, 'uploading')`,
    [id, ownerId, key, body.length, UploadId],
  );
  return id;
}

const ownerOf = (caller: Caller, ownership: Ownership) => (ownership === 'own' ? caller.id : OTHER_OWNER);

/** A valid request for each route; resources are created fresh for each case (revoke is not repeatable). */
const REQUESTS: Record<RouteId, (caller: Caller, ownership: Ownership) => Promise<EventInit>> = {
  getHealth: async () => ({}),
  getMe: async () => ({}),
  createRecoveryCodes: async () => ({}),
  // A person who lost their authenticator, with a code issued earlier: a fresh one for every caller.
  recoverAccount: async () => {
    const user = await seedRecoverableUser(aws, tables, prepared);
    return {
      headers: JSON_HEADERS,
      body: JSON.stringify({
        username: user.email,
        password: user.password,
        code: prepared.codes[0]?.display,
      }),
    };
  },
  getFile: async (caller, ownership) => ({
    pathParameters: { id: await seedFile(ownerOf(caller, ownership)) },
  }),
  createApiClient: async () => ({
    headers: JSON_HEADERS,
    body: JSON.stringify({ name: 'matrix client', scopes: ['files.read'], tier: 'standard' }),
  }),
  listApiClients: async () => ({ query: { limit: '5' } }),
  rotateApiKey: async () => ({ pathParameters: { id: (await tables.seedClient(aws)).id } }),
  revokeApiClient: async () => ({ pathParameters: { id: (await tables.seedClient(aws)).id } }),
  resetUserMfa: async () => ({ pathParameters: { username: aws.addUser(`mx-${randomUUID()}`).username } }),
  listAuditEvents: async () => ({ query: { limit: '5' } }),
  createUpload: async () => ({
    headers: JSON_HEADERS,
    body: JSON.stringify({ filename: 'matrix.pdf', size: 1000, contentType: 'application/pdf' }),
  }),
  signUploadRequest: async () => ({
    headers: JSON_HEADERS,
    body: JSON.stringify({
      operation: 'create',
      filename: 'matrix.pdf',
      size: 1000,
      contentType: 'application/pdf',
    }),
  }),
  signUploadParts: async (caller, ownership) => ({
    pathParameters: { id: await seedUpload(ownerOf(caller, ownership)) },
    headers: JSON_HEADERS,
    body: JSON.stringify({ partNumbers: [1] }),
  }),
  getUpload: async (caller, ownership) => ({
    pathParameters: { id: await seedUpload(ownerOf(caller, ownership)) },
  }),
  completeUpload: async (caller, ownership) => ({
    pathParameters: { id: await seedUpload(ownerOf(caller, ownership)) },
    headers: JSON_HEADERS,
    body: '{}',
  }),
  abortUpload: async (caller, ownership) => ({
    pathParameters: { id: await seedUpload(ownerOf(caller, ownership)) },
  }),
  listFiles: async () => ({ query: { limit: '5' } }),
  downloadFile: async (caller, ownership) => ({
    pathParameters: { id: await seedFile(ownerOf(caller, ownership)) },
  }),
  deleteFile: async (caller, ownership) => ({
    pathParameters: { id: await seedFile(ownerOf(caller, ownership)) },
  }),
};

type Actual = Decision | 'error';

interface Case {
  readonly caller: Caller;
  readonly route: RouteDefinition;
  readonly ownership: Ownership;
  readonly expected: Decision;
  readonly actual: Actual;
  readonly status: number;
  readonly requestId: string;
  readonly awsCalls: number;
  readonly problem: boolean;
  readonly detail: string;
}

/** allow = 2xx; deny = 401/403, or 404 for someone else's file (hidden as if missing); anything else = error. */
function classify(status: number, hiddenResource: boolean): Actual {
  if (status >= 200 && status < 300) return 'allow';
  if (status === 401 || status === 403) return 'deny';
  if (status === 404 && hiddenResource) return 'deny';
  return 'error';
}

const show = (c: Case): string =>
  `${c.caller.label} → ${c.route.method} ${c.route.path} [${c.ownership}]: expected ${c.expected}, got ${c.status} (${c.detail})`;

const cases: Case[] = [];

beforeAll(async () => {
  for (const route of routeList) {
    const id = route.operationId as RouteId;
    const rule = POLICY[id];
    const request = REQUESTS[id];
    if (!rule || !request) throw new Error(`route ${id} has no entry in the expected matrix: add it`);
    const { handler } = (await import(path.join(ROOT, route.entry))) as {
      handler: ProxyHandler & { route: RouteDefinition };
    };
    if (handler.route !== route) throw new Error(`${route.entry} does not serve ${id}`);
    for (const caller of CALLERS) {
      for (const ownership of ownerships(caller, rule)) {
        const requestId = randomUUID();
        const init = await request(caller, ownership);
        const before = aws.callCount();
        const answer = await call(handler, routeEvent(route, { ...init, claims: caller.claims, requestId }));
        const actual = classify(
          answer.status,
          rule.resource !== 'none' && rule.hiddenAction !== undefined && ownership === 'others',
        );
        cases.push({
          caller,
          route,
          ownership,
          expected: expected(caller, rule, ownership),
          actual,
          status: answer.status,
          requestId,
          awsCalls: aws.callCount() - before,
          problem:
            answer.headers['Content-Type'] === 'application/problem+json' &&
            answer.body?.instance === requestId,
          detail: String(answer.body?.detail ?? answer.body?.title ?? '-'),
        });
      }
    }
  }
}, 120_000);

describe('authorization matrix (DESIGN.md "Identity and access" × the route table)', () => {
  it('covers every route with every caller', () => {
    const routesCovered = new Set(cases.map((c) => c.route.operationId));
    expect([...routesCovered].sort()).toEqual(routeList.map((r) => r.operationId).sort());
    expect(new Set(cases.map((c) => c.caller.label)).size).toBe(CALLERS.length);
    // Both sides of the matrix are exercised.
    expect(cases.filter((c) => c.expected === 'allow').length).toBeGreaterThan(0);
    expect(cases.filter((c) => c.expected === 'deny').length).toBeGreaterThan(0);
  });

  it('the route table declares what the design says (roles, scopes, machines)', () => {
    for (const route of routeList) {
      const rule = POLICY[route.operationId as RouteId];
      if (rule.public) {
        expect({ id: route.operationId, auth: route.auth }).toEqual({
          id: route.operationId,
          auth: rule.machines === false ? { kind: 'public', machines: false } : { kind: 'public' },
        });
        continue;
      }
      expect({ id: route.operationId, auth: route.auth }).toEqual({
        id: route.operationId,
        auth: {
          kind: 'authenticated',
          minRole: rule.role,
          scopes: expect.arrayContaining([...rule.scopes]),
          machines: rule.machines,
        },
      });
      if (route.auth.kind === 'authenticated') expect(route.auth.scopes).toHaveLength(rule.scopes.length);
    }
  });

  it('has no unexpected allow', () => {
    const unexpectedAllows = cases.filter((c) => c.expected === 'deny' && c.actual === 'allow');
    expect(unexpectedAllows.map(show)).toEqual([]);
  });

  it('has no unexpected deny', () => {
    const unexpectedDenies = cases.filter((c) => c.expected === 'allow' && c.actual === 'deny');
    expect(unexpectedDenies.map(show)).toEqual([]);
  });

  it("tells a caller who can see someone else's resource why it may not act on it (403), and hides it (404) from the rest", () => {
    const onOthers = cases.filter((c) => {
      const rule = POLICY[c.route.operationId as RouteId];
      return (
        !rule.public && rule.visibleRole !== undefined && c.ownership === 'others' && c.actual === 'deny'
      );
    });
    const seen = onOthers.filter((c) =>
      seesButMayNotAct(c.caller, POLICY[c.route.operationId as RouteId], c.ownership),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((c) => c.status !== 403).map(show)).toEqual([]);
    expect(seen.every((c) => /only its owner or an admin may delete it/.test(c.detail))).toBe(true);
    // Everyone else who reached the handler still gets the 404 that hides the file.
    const hidden = onOthers.filter(
      (c) =>
        !seen.includes(c) &&
        c.caller.kind !== 'anonymous' &&
        c.status !== 401 &&
        c.detail === 'No such file.',
    );
    expect(hidden.length).toBeGreaterThan(0);
    expect(hidden.filter((c) => c.status !== 404).map(show)).toEqual([]);
  });

  it('has no unrelated failure (no 5xx, no 4xx other than a refusal)', () => {
    expect(cases.filter((c) => c.status >= 500).map(show)).toEqual([]);
    expect(cases.filter((c) => c.actual === 'error').map(show)).toEqual([]);
  });

  it('answers every refusal with problem+json carrying the request id, before touching AWS', () => {
    const denied = cases.filter((c) => c.actual === 'deny');
    expect(denied.filter((c) => !c.problem).map(show)).toEqual([]);
    expect(denied.filter((c) => c.awsCalls > 0).map(show)).toEqual([]);
  });

  it('audits every refusal on a database route with outcome denied and the request id', async () => {
    // Prepare
    const denied = cases.filter((c) => c.actual === 'deny' && c.route.needs?.includes('database'));
    expect(denied.length).toBeGreaterThan(0);
    // Act
    const rows = await tables.rows<{ request_id: string; outcome: string; action: string }>(
      'SELECT request_id, outcome, action FROM citadel.audit_events WHERE request_id = ANY($1)',
      [cases.map((c) => c.requestId)],
    );
    // Assess
    const deniedRows = new Map(
      rows.filter((r) => r.outcome === 'denied').map((r) => [r.request_id, r.action]),
    );
    const missing = denied.filter((c) => {
      const rule = POLICY[c.route.operationId as RouteId];
      const hidden = c.status === 404 || seesButMayNotAct(c.caller, rule, c.ownership);
      const hiddenAction = rule.public ? undefined : rule.hiddenAction;
      return deniedRows.get(c.requestId) !== (hidden ? hiddenAction : 'access.denied');
    });
    expect(missing.map(show)).toEqual([]);
    // An allowed call never records a refusal.
    const allowedWithDenial = cases.filter((c) => c.actual === 'allow' && deniedRows.has(c.requestId));
    expect(allowedWithDenial.map(show)).toEqual([]);
  });
});

afterAll(() => {
  const unexpectedAllows = cases.filter((c) => c.expected === 'deny' && c.actual === 'allow').length;
  const unexpectedDenies = cases.filter((c) => c.expected === 'allow' && c.actual === 'deny').length;
  console.info(
    `authorization matrix: ${cases.length} cases (${CALLERS.length} callers × ${routeList.length} routes, own/others where a route has a resource): ` +
      `${unexpectedAllows} unexpected allows, ${unexpectedDenies} unexpected denies, ` +
      `${cases.filter((c) => c.actual === 'allow').length} allowed, ${cases.filter((c) => c.actual === 'deny').length} denied`,
  );
});
