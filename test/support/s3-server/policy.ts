/**
 * Bucket-policy denies, as Citadel's buckets carry them (`lib/constructs/scanned-upload-bucket.ts`), applied by
 * access key instead of role ARN: each local principal (the API, the scan pipeline, GuardDuty, break-glass) signs
 * with its own key. AWS evaluates an explicit deny before any allow, so a denied request is `AccessDenied` (403)
 * whatever else holds; S3 checks access before it looks the object up.
 */
import type { RequestContext } from './context';
import { errors } from './errors';

export interface AccessPolicy {
  /**
   * `DenyReadsUntilScannedClean`: GetObject (and HEAD, and the source of a copy) of an object under `prefix` in
   * `bucket` is denied unless the object carries `tag` = `value`, except for the `exempt` keys (GuardDuty, the
   * scan pipeline).
   */
  readonly scanGate?: {
    readonly bucket: string;
    readonly prefix: string;
    readonly tag: string;
    readonly value: string;
    readonly exempt: readonly string[];
  };
  /**
   * `DenyScanStatusTagExceptGuardDuty`: writing `tag` on an object of `bucket` (PutObject, CreateMultipartUpload
   * or a copy with `x-amz-tagging`, PutObjectTagging) is denied to every key but the `writers`.
   */
  readonly tagGuard?: { readonly bucket: string; readonly tag: string; readonly writers: readonly string[] };
  /** `DenyReadsExceptBreakGlass`: every object read in `bucket` (`s3:GetObject*`) is denied but to `readers`. */
  readonly lockedBuckets?: ReadonlyArray<{ readonly bucket: string; readonly readers: readonly string[] }>;
}

/** An object as the policy sees it: where it is, and its tags. */
interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly tags: ReadonlyArray<{ readonly key: string; readonly value: string }>;
}

const principal = (ctx: RequestContext): string => ctx.auth.accessKeyId;

/** Throws `AccessDenied` when the policy denies reading `object`'s content (GET, HEAD, or as a copy source). */
export function checkRead(ctx: RequestContext, policy: AccessPolicy | undefined, object: ObjectRef): void {
  if (!policy) return;
  const who = principal(ctx);
  const locked = policy.lockedBuckets?.find((b) => b.bucket === object.bucket);
  if (locked && !locked.readers.includes(who)) throw errors.accessDenied();
  const gate = policy.scanGate;
  if (!gate || gate.bucket !== object.bucket || !object.key.startsWith(gate.prefix)) return;
  if (gate.exempt.includes(who)) return;
  if (!object.tags.some((t) => t.key === gate.tag && t.value === gate.value)) throw errors.accessDenied();
}

/** Throws `AccessDenied` when the policy denies reading `object`'s tags or other attributes (`s3:GetObject*`). */
export function checkReadAttributes(
  ctx: RequestContext,
  policy: AccessPolicy | undefined,
  bucket: string,
): void {
  const locked = policy?.lockedBuckets?.find((b) => b.bucket === bucket);
  if (locked && !locked.readers.includes(principal(ctx))) throw errors.accessDenied();
}

/** Throws `AccessDenied` when the policy denies setting `tags` on an object of `bucket`. */
export function checkTagWrite(
  ctx: RequestContext,
  policy: AccessPolicy | undefined,
  bucket: string,
  tags: ReadonlyArray<{ readonly key: string }>,
): void {
  const guard = policy?.tagGuard;
  if (!guard || guard.bucket !== bucket || guard.writers.includes(principal(ctx))) return;
  if (tags.some((t) => t.key === guard.tag)) throw errors.accessDenied();
}
