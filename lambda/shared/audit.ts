import type { Principal } from './auth';
import { type Queryable, query } from './db';
import { logger } from './powertools';

export type AuditOutcome = 'success' | 'denied' | 'failure';

/** One security-relevant action, allowed or not: who, what, on what, with which result. */
export interface AuditEvent {
  /** Who acted: a caller, `'system'` for scheduled jobs, `undefined` for an anonymous caller. */
  readonly principal: Principal | 'system' | undefined;
  /** Dotted lower-case verb, e.g. `file.download`, `api_client.rotate`, `access.denied`. */
  readonly action: string;
  readonly target?: string;
  readonly outcome: AuditOutcome;
  readonly requestId: string;
  readonly sourceIp?: string;
  readonly details?: Record<string, unknown>;
}

const IPV4_OR_6 = /^[0-9a-fA-F:.]{2,45}$/;

/** Appends to `citadel.audit_events`. Pass the transaction's client to commit it with the change it records. */
export async function recordAudit(event: AuditEvent, tx?: Queryable): Promise<void> {
  const actor =
    event.principal === 'system'
      ? { id: 'citadel-scheduler', kind: 'system' }
      : (event.principal ?? { id: 'anonymous', kind: 'anonymous' });
  const values = [
    actor.id,
    actor.kind,
    event.action,
    event.target ?? null,
    event.outcome,
    event.requestId,
    event.sourceIp && IPV4_OR_6.test(event.sourceIp) ? event.sourceIp : null,
    JSON.stringify(event.details ?? {}),
  ];
  const sql = `INSERT INTO citadel.audit_events
    (actor_id, actor_kind, action, target, outcome, request_id, source_ip, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8::jsonb)`;
  if (tx) await tx.query(sql, values);
  else await query(sql, values);
}

/**
 * Records a refusal without letting the audit write change the answer: if the database is down the
 * refusal still goes out, and the failure to audit is logged for the on-call engineer.
 */
export async function recordDenial(event: Omit<AuditEvent, 'outcome'>): Promise<void> {
  try {
    await recordAudit({ ...event, outcome: 'denied' });
  } catch (error) {
    logger.error('could not audit a denied request', { action: event.action, error: error as Error });
  }
}
