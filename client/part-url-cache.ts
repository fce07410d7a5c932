/**
 * Presigned part URLs, signed ahead of use in batches and cached by part number until shortly before they
 * expire; shared by the Node uploader (client/upload.ts) and the Uppy helper (client/uppy.ts).
 *
 * Browser-safe: no Node built-ins.
 */
import { PART_URL_SECONDS } from '../contract/api/uploads';

/** Re-sign a cached URL this long before it expires. */
export const EXPIRY_MARGIN_MS = 60_000;
/** Signing calls one `get` makes (or waits for) before it gives up on URLs that expire too soon. */
const MAX_ROUNDS = 4;

export interface SignedPartUrl {
  readonly partNumber: number;
  readonly url: string;
  readonly size?: number;
}

/** What one signing call answers. */
export interface SignedPartUrls<P extends SignedPartUrl> {
  readonly expiresAt: string;
  readonly parts: readonly P[];
  /** Headers every URL of the batch is signed with. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A cached URL: the signed part, its batch's headers, and when it expires (ms since the epoch). */
export type CachedPartUrl<P extends SignedPartUrl> = P & {
  readonly headers?: Readonly<Record<string, string>>;
  readonly expires: number;
};

export interface PartUrlCacheOptions<P extends SignedPartUrl> {
  /** Signs these parts in one call. */
  readonly sign: (partNumbers: number[]) => Promise<SignedPartUrls<P>>;
  /** Parts to sign along with part `n` (those still valid or being signed are skipped). @default none */
  readonly ahead?: (n: number) => Iterable<number>;
  /** Most parts per signing call. @default no limit */
  readonly batchSize?: number;
  /** The clock expiry is measured on (ms since the epoch). @default `Date.now()` */
  readonly now?: () => number;
  /**
   * Hand out a URL signed for this ask even if it expires within the margin (the server's clock may run
   * ahead of this one). @default false: sign again, up to 4 calls
   */
  readonly acceptJustSigned?: boolean;
  /** After a signing call's URLs are cached: the parts asked for and when their URLs expire. */
  readonly onSigned?: (partNumbers: readonly number[], expires: number) => void;
}

export class PartUrlCache<P extends SignedPartUrl> {
  private readonly urls = new Map<number, CachedPartUrl<P>>();
  /** Part number → the signing call it is in. */
  private readonly inflight = new Map<number, Promise<Map<number, CachedPartUrl<P>>>>();
  private readonly now: () => number;

  constructor(private readonly options: PartUrlCacheOptions<P>) {
    // Date.now looked up at each call: a test may replace it after this is built.
    this.now = options.now ?? (() => Date.now());
  }

  /** A signing call is in flight. */
  get signing(): boolean {
    return this.inflight.size > 0;
  }

  /**
   * Part `n`'s URL: cached and valid beyond the margin, or from the signing call it is in, or signed now
   * with the parts `ahead` names that are neither valid nor being signed.
   */
  async get(n: number): Promise<CachedPartUrl<P>> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const hit = this.valid(n);
      if (hit) return hit;
      const pending = this.inflight.get(n);
      const fresh = await (pending ?? this.signBatch(n));
      const got = fresh.get(n);
      if (got && this.options.acceptJustSigned) return got;
      const cached = this.valid(n);
      if (cached) return cached;
      if (!got && !pending) throw new Error(`The API did not sign part ${n}.`);
      // Signed, but it expires within the margin; or the call it was in did not sign it: ask again.
    }
    throw new Error(`could not obtain a usable URL for part ${n}`);
  }

  /** Forgets part `n`'s URL (e.g. S3 refused it). */
  invalidate(n: number): void {
    this.urls.delete(n);
  }

  /** Forgets every cached URL; calls in flight still answer their askers and cache what they sign. */
  clear(): void {
    this.urls.clear();
  }

  private valid(n: number): CachedPartUrl<P> | undefined {
    const hit = this.urls.get(n);
    return hit && hit.expires - EXPIRY_MARGIN_MS > this.now() ? hit : undefined;
  }

  /** Starts signing part `n` and the parts ahead of it; their askers all await the one call. */
  private signBatch(n: number): Promise<Map<number, CachedPartUrl<P>>> {
    const batchSize = this.options.batchSize ?? Number.POSITIVE_INFINITY;
    const batch = [n];
    for (const m of this.options.ahead?.(n) ?? []) {
      if (batch.length >= batchSize) break;
      if (m !== n && !this.inflight.has(m) && !this.valid(m)) batch.push(m);
    }
    const call = this.sign(batch);
    for (const m of batch) this.inflight.set(m, call);
    // Settled either way, the call leaves the map (an error must not stay there for later askers).
    const done = () => {
      for (const m of batch) if (this.inflight.get(m) === call) this.inflight.delete(m);
    };
    call.then(done, done);
    return call;
  }

  private async sign(partNumbers: number[]): Promise<Map<number, CachedPartUrl<P>>> {
    const asked = this.now();
    const signed = await this.options.sign(partNumbers);
    // Trust the server's expiry, but never beyond what a URL can live measured on this clock.
    const expires = Math.min(Date.parse(signed.expiresAt), asked + PART_URL_SECONDS * 1000);
    const fresh = new Map<number, CachedPartUrl<P>>();
    for (const p of signed.parts) {
      const entry: CachedPartUrl<P> = { ...p, headers: signed.headers, expires };
      fresh.set(p.partNumber, entry);
      this.urls.set(p.partNumber, entry);
    }
    this.options.onSigned?.(partNumbers, expires);
    return fresh;
  }
}
