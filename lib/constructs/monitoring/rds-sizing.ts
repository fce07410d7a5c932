import { instanceSpec } from '../../config/instances';

/** Memory of a DB instance class the stage config allows (`lib/config/instances.ts` has the table). */
export function instanceMemoryGiB(instanceType: string): number {
  const spec = instanceSpec(instanceType);
  if (!spec) throw new Error(`Unknown DB instance class "${instanceType}" (Graviton m or r, or t4g).`);
  return spec.memoryGiB;
}

/**
 * PostgreSQL's default `max_connections` on RDS: LEAST(DBInstanceClassMemory / 9531392, 5000). RDS does not publish
 * DBInstanceClassMemory (the class memory less what the OS and RDS reserve); this uses the class memory, which
 * overstates it, so the result is an upper bound and the alarm threshold derived from it is lowered to match
 * (`DB_CONNECTIONS_FRACTION` of this).
 */
export function defaultMaxConnections(instanceType: string): number {
  return Math.min(Math.floor((instanceMemoryGiB(instanceType) * 1024 ** 3) / 9531392), 5000);
}
