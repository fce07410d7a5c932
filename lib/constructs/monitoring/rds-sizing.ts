/**
 * Memory of the Graviton DB instance classes the stage config allows (`lib/config/schema.ts`), from the RDS
 * instance-class tables: t4g micro 1 GiB doubling per size; m6g/m7g/m8g 4 GiB per vCPU (8 GiB for large), r6g/r7g/r8g
 * 8 GiB per vCPU (16 GiB for large), `<n>xlarge` being n times xlarge.
 */
const T4G: Record<string, number> = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, '2xlarge': 32 };

export function instanceMemoryGiB(instanceType: string): number {
  const [family, size] = instanceType.split('.') as [string, string];
  if (family === 't4g') {
    const gib = T4G[size];
    if (gib === undefined)
      throw new Error(`Unknown db.t4g size "${size}": use micro, small, medium, large, xlarge or 2xlarge.`);
    return gib;
  }
  const perLarge = /^m[678]g$/.test(family) ? 8 : /^r[678]g$/.test(family) ? 16 : undefined;
  if (perLarge === undefined)
    throw new Error(`Unknown DB instance family "${family}" (Graviton m or r, or t4g).`);
  if (size === 'large') return perLarge;
  if (size === 'xlarge') return perLarge * 2;
  const n = /^(\d+)xlarge$/.exec(size);
  if (!n) throw new Error(`Unknown DB instance size "${size}".`);
  return perLarge * 2 * Number(n[1]);
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
