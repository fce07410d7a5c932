import { listAuditEvents } from '../../contract/api/admin';
import { query } from '../shared/db';
import { defineHandler } from '../shared/handler';
import { decodeCursor, pageOf, positionAtSql } from '../shared/pagination';

interface AuditRow {
  id: string;
  occurred_at: Date;
  actor_id: string;
  actor_kind: 'user' | 'machine' | 'system' | 'anonymous';
  action: string;
  target: string | null;
  outcome: 'success' | 'denied' | 'failure';
  request_id: string | null;
  source_ip: string | null;
  details: Record<string, unknown>;
  position_at: string;
}

/** `GET /v1/admin/audit`: newest first, filtered by actor, action and time range, keyset-paginated. */
export const handler = defineHandler(listAuditEvents, async ({ query: q }) => {
  const after = decodeCursor(q.cursor, 'bigint');
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    values.push(value);
    where.push(clause.replace('?', `$${values.length}`));
  };
  if (q.actor) add('actor_id = ?', q.actor);
  if (q.action) add('action = ?', q.action);
  if (q.from) add('occurred_at >= ?::timestamptz', q.from);
  if (q.to) add('occurred_at <= ?::timestamptz', q.to);
  if (after) {
    values.push(after.at, after.id);
    where.push(`(occurred_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::bigint)`);
  }
  values.push(q.limit + 1);
  const rows = await query<AuditRow>(
    `SELECT id::text, occurred_at, actor_id, actor_kind, action, target, outcome, request_id, host(source_ip) AS source_ip, details,
            ${positionAtSql('occurred_at')} AS position_at
       FROM citadel.audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY occurred_at DESC, id DESC LIMIT $${values.length}`,
    values,
    { idempotent: true },
  );
  return pageOf(rows, q.limit, (r) => ({
    id: r.id,
    occurredAt: r.occurred_at.toISOString(),
    actorId: r.actor_id,
    actorKind: r.actor_kind,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    requestId: r.request_id,
    sourceIp: r.source_ip,
    details: r.details,
  }));
});
