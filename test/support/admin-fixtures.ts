/**
 * Fixtures shared by the admin-API and authorization tests: calling a route's real handler with a proxy event,
 * and reading or seeding `citadel.api_clients` / `citadel.audit_events` as the master user.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { RouteDefinition } from '../../contract/route';
import type { FakeAdminAws } from './admin-aws';
import { withClient } from './database';
import { type EventInit, lambdaContext, proxyEvent } from './lambda';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Parsed JSON body, or `undefined` for an empty one. */
  readonly body: Record<string, unknown> | undefined;
  readonly raw: string;
  readonly requestId: string;
}

/** A request to `route` as API Gateway would send it: method, resource template, concrete path. */
export function routeEvent(route: RouteDefinition, init: EventInit = {}): APIGatewayProxyEvent {
  const params = init.pathParameters ?? {};
  const path = route.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) =>
    encodeURIComponent(params[name] ?? ''),
  );
  return proxyEvent({ method: route.method, resource: route.path, path, ...init });
}

/** Calls `handler` with `event` and parses the answer. */
export async function call(handler: ProxyHandler, event: APIGatewayProxyEvent): Promise<Answer> {
  const res = await handler(event, lambdaContext());
  const headers = Object.fromEntries(Object.entries(res.headers ?? {}).map(([k, v]) => [k, String(v)]));
  return {
    status: res.statusCode,
    headers,
    body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined,
    raw: res.body,
    requestId: event.requestContext.requestId,
  };
}

/** JSON body headers. */
export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

export interface ApiClientRecord {
  id: string;
  name: string;
  cognito_client_id: string;
  scopes: string[];
  tier: string;
  api_key_id: string;
  previous_api_key_id: string | null;
  previous_key_expires_at: Date | null;
  state: 'active' | 'revoked';
  created_by: string;
  created_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
}

export interface AuditRecord {
  id: string;
  occurred_at: Date;
  actor_id: string;
  actor_kind: string;
  action: string;
  target: string | null;
  outcome: 'success' | 'denied' | 'failure';
  request_id: string | null;
  source_ip: string | null;
  details: Record<string, unknown>;
}

/** Reads and seeds the admin tables as the master user (bypassing the app role's grants). */
export class AdminTables {
  constructor(private readonly adminUrl: string) {}

  rows<R>(sql: string, values: unknown[] = []): Promise<R[]> {
    return withClient(this.adminUrl, async (c) => (await c.query(sql, values)).rows as R[]);
  }

  async count(sql: string, values: unknown[] = []): Promise<number> {
    const [row] = await this.rows<{ n: number }>(sql, values);
    return row?.n ?? 0;
  }

  async client(id: string): Promise<ApiClientRecord | undefined> {
    return (await this.rows<ApiClientRecord>('SELECT * FROM citadel.api_clients WHERE id = $1', [id]))[0];
  }

  clients(): Promise<ApiClientRecord[]> {
    return this.rows<ApiClientRecord>('SELECT * FROM citadel.api_clients ORDER BY created_at, id');
  }

  audit(requestId: string): Promise<AuditRecord[]> {
    return this.rows<AuditRecord>(
      'SELECT id::text, occurred_at, actor_id, actor_kind, action, target, outcome, request_id, host(source_ip) AS source_ip, details FROM citadel.audit_events WHERE request_id = $1 ORDER BY id',
      [requestId],
    );
  }

  /**
   * An active client whose Cognito app client and key exist in `aws`, as if created earlier.
   * `createdAt` defaults to the database's `now()`.
   */
  async seedClient(
    aws: FakeAdminAws,
    options: { name?: string; scopes?: string[]; tier?: string; createdAt?: Date | string } = {},
  ): Promise<ApiClientRecord> {
    const name = options.name ?? `seeded-${randomUUID().slice(0, 8)}`;
    const scopes = options.scopes ?? ['files.read'];
    const tier = options.tier ?? 'basic';
    const { clientId, keyId } = aws.seedClient(name, scopes, tier);
    const [row] = await this.rows<ApiClientRecord>(
      `INSERT INTO citadel.api_clients (id, name, cognito_client_id, scopes, tier, api_key_id, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'seed-admin', coalesce($7::timestamptz, now()), coalesce($7::timestamptz, now()))
       RETURNING *`,
      [randomUUID(), name, clientId, scopes, tier, keyId, options.createdAt ?? null],
    );
    return row as ApiClientRecord;
  }
}
