/**
 * vCPUs and memory of the instance classes Citadel's config accepts (Graviton only: `lib/config/schema.ts`), for
 * RDS Proxy and Database Insights (billed per vCPU) and for PostgreSQL's default `max_connections` (memory).
 * Sizes follow AWS's published pattern for each family (RDS user guide, "Hardware specifications for DB instance
 * classes", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html):
 * t4g micro/small/medium/large/xlarge/2xlarge have 2/2/2/2/4/8 vCPUs and 1/2/4/8/16/32 GiB; the m-classes have
 * 4 GiB per vCPU and the r-classes 8 GiB per vCPU, with `large` = 2 vCPUs and `Nxlarge` = 4N vCPUs.
 */

export interface InstanceSpec {
  readonly vcpus: number;
  readonly memoryGiB: number;
}

const T4G: Record<string, InstanceSpec> = {
  micro: { vcpus: 2, memoryGiB: 1 },
  small: { vcpus: 2, memoryGiB: 2 },
  medium: { vcpus: 2, memoryGiB: 4 },
  large: { vcpus: 2, memoryGiB: 8 },
  xlarge: { vcpus: 4, memoryGiB: 16 },
  '2xlarge': { vcpus: 8, memoryGiB: 32 },
};

/**
 * The spec of an instance class (`db.r7g.large`, `t4g.nano` or `r7g.large`), or `undefined` for a class this
 * table does not know.
 */
export function instanceSpec(instanceClass: string): InstanceSpec | undefined {
  const m = /^(?:db\.)?([a-z]+\d+[a-z]*)\.(\w+)$/.exec(instanceClass);
  if (!m) return undefined;
  const [, family, size] = m as unknown as [string, string, string];
  if (family === 't4g') return size === 'nano' ? { vcpus: 2, memoryGiB: 0.5 } : T4G[size];
  const perVcpu = /^r[678]g$/.test(family) ? 8 : /^m[678]g$/.test(family) ? 4 : undefined;
  if (perVcpu === undefined) return undefined;
  const multiple = size === 'large' ? 0.5 : size === 'xlarge' ? 1 : Number(/^(\d+)xlarge$/.exec(size)?.[1]);
  if (!Number.isFinite(multiple) || multiple <= 0) return undefined;
  const vcpus = 4 * multiple;
  return { vcpus, memoryGiB: vcpus * perVcpu };
}
