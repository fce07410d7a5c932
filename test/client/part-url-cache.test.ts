/** The part URL cache both the Node uploader and the Uppy helper use, on a clock the test moves. */
import { describe, expect, it } from '@jest/globals';
import {
  EXPIRY_MARGIN_MS,
  PartUrlCache,
  type PartUrlCacheOptions,
  type SignedPartUrl,
  type SignedPartUrls,
} from '../../client/part-url-cache';
import { PART_URL_SECONDS } from '../../contract/api/uploads';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A cache over a scripted signer; by default every call answers at once, URLs expiring 15 minutes on. */
function cacheWith(
  options: Partial<PartUrlCacheOptions<SignedPartUrl>> = {},
  answer?: (
    partNumbers: number[],
    signed: (partNumbers: number[], expiresAt?: string) => SignedPartUrls<SignedPartUrl>,
  ) => Promise<SignedPartUrls<SignedPartUrl>>,
) {
  const clock = { now: T0 };
  const calls: number[][] = [];
  let version = 0;
  const signed = (
    partNumbers: number[],
    expiresAt = iso(clock.now + PART_URL_SECONDS * 1000),
  ): SignedPartUrls<SignedPartUrl> => {
    version++;
    return {
      expiresAt,
      parts: partNumbers.map((n) => ({ partNumber: n, url: `https://s3.test/p${n}?v=${version}` })),
    };
  };
  const cache = new PartUrlCache<SignedPartUrl>({
    sign: (partNumbers) => {
      calls.push([...partNumbers]);
      return answer ? answer(partNumbers, signed) : Promise.resolve(signed(partNumbers));
    },
    now: () => clock.now,
    ...options,
  });
  return { cache, calls, clock, signed };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('PartUrlCache', () => {
  it('signs part n with the parts ahead of it, up to batchSize, and serves the rest from the cache', async () => {
    const { cache, calls } = cacheWith({ ahead: (n) => range(n + 1, 10), batchSize: 3 });

    const one = await cache.get(1);
    await cache.get(2);
    await cache.get(3);
    await cache.get(4);

    expect(one).toMatchObject({ partNumber: 1, url: expect.stringContaining('/p1?') });
    expect(calls).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('leaves out of a batch the parts still valid or being signed, and fills it from further ahead', async () => {
    const gate = deferred<void>();
    const { cache, calls } = cacheWith(
      { ahead: () => [1, 2, 3, 4, 5, 6, 7], batchSize: 3 },
      async (partNumbers, signed) => {
        if (partNumbers[0] === 3) await gate.promise; // the batch of part 3 stays in flight
        return signed(partNumbers);
      },
    );
    await cache.get(5); // 5, then the first two not valid
    expect(calls).toEqual([[5, 1, 2]]);

    const inFlight = cache.get(3); // 3, then 4 and 6: 1, 2 and 5 are valid
    expect(calls[1]).toEqual([3, 4, 6]);
    cache.invalidate(2);
    await cache.get(2); // 2, then 7: 3, 4 and 6 are being signed
    expect(calls[2]).toEqual([2, 7]);
    expect(cache.signing).toBe(true);
    gate.resolve();
    await inFlight;
    expect(cache.signing).toBe(false);
    expect(calls).toHaveLength(3);
  });

  it('concurrent asks for parts of one batch share its call', async () => {
    const gate = deferred<void>();
    const { cache, calls } = cacheWith({ ahead: (n) => range(n + 1, 4) }, async (partNumbers, signed) => {
      await gate.promise;
      return signed(partNumbers);
    });

    const asks = [cache.get(1), cache.get(1), cache.get(2), cache.get(4)];
    expect(cache.signing).toBe(true);
    gate.resolve();
    const [a, b, c, d] = await Promise.all(asks);

    expect(calls).toEqual([[1, 2, 3, 4]]);
    expect(a).toBe(b);
    expect([c.partNumber, d.partNumber]).toEqual([2, 4]);
    expect(cache.signing).toBe(false);
  });

  it('serves a URL until a minute before it expires, then signs it again', async () => {
    const { cache, calls, clock } = cacheWith();
    const first = await cache.get(1);
    expect(first.expires).toBe(T0 + PART_URL_SECONDS * 1000);

    clock.now = first.expires - EXPIRY_MARGIN_MS - 1;
    expect(await cache.get(1)).toBe(first);
    clock.now = first.expires - EXPIRY_MARGIN_MS;
    const second = await cache.get(1);

    expect(second).not.toBe(first);
    expect(second.expires).toBe(clock.now + PART_URL_SECONDS * 1000);
    expect(calls).toEqual([[1], [1]]);
  });

  it("trusts the server's expiry, but never beyond the URL lifetime measured on its own clock", async () => {
    const sooner = deferred<SignedPartUrls<SignedPartUrl>>();
    const later = deferred<SignedPartUrls<SignedPartUrl>>();
    const answers = [sooner, later];
    const { cache, clock } = cacheWith({}, () => (answers.shift() as (typeof answers)[0]).promise);

    // The server says 5 minutes: that holds.
    const a = cache.get(1);
    sooner.resolve({ expiresAt: iso(T0 + 5 * 60_000), parts: [{ partNumber: 1, url: 'u1' }] });
    expect((await a).expires).toBe(T0 + 5 * 60_000);

    // The server's clock runs 20 minutes ahead: the lifetime counts from when this clock asked, not answered.
    clock.now = T0 + 10 * 60_000;
    const asked = clock.now;
    const b = cache.get(2);
    clock.now += 3_000;
    later.resolve({
      expiresAt: iso(asked + 20 * 60_000 + PART_URL_SECONDS * 1000),
      parts: [{ partNumber: 2, url: 'u2' }],
    });
    expect((await b).expires).toBe(asked + PART_URL_SECONDS * 1000);
  });

  it('signs again a URL that expires within the margin as soon as it is signed; acceptJustSigned hands it out', async () => {
    const soon = (clock: { now: number }) => (partNumbers: number[], signed: typeof strict.signed) =>
      Promise.resolve(signed(partNumbers, iso(clock.now + 30_000)));
    const clock = { now: T0 };

    const strict = cacheWith({ now: () => clock.now }, soon(clock));
    await expect(strict.cache.get(1)).rejects.toThrow('could not obtain a usable URL for part 1');
    expect(strict.calls).toHaveLength(4);

    const lenient = cacheWith({ now: () => clock.now, acceptJustSigned: true }, soon(clock));
    const got = await lenient.cache.get(1);
    expect(got.expires).toBe(T0 + 30_000);
    expect(lenient.calls).toEqual([[1]]);
    // Not valid for a later ask: that one signs again.
    await lenient.cache.get(1);
    expect(lenient.calls).toEqual([[1], [1]]);
  });

  it('a failed call fails its askers and leaves nothing in flight: the next ask signs again', async () => {
    const failing = deferred<SignedPartUrls<SignedPartUrl>>();
    let first = true;
    const { cache, calls } = cacheWith({ ahead: (n) => [n + 1] }, (partNumbers, signed) => {
      if (!first) return Promise.resolve(signed(partNumbers));
      first = false;
      return failing.promise;
    });

    const a = cache.get(1);
    const b = cache.get(2); // in the failing call
    failing.reject(new Error('throttled'));
    await expect(a).rejects.toThrow('throttled');
    await expect(b).rejects.toThrow('throttled');
    expect(cache.signing).toBe(false);

    await expect(cache.get(2)).resolves.toMatchObject({ partNumber: 2 });
    expect(calls).toEqual([
      [1, 2],
      [2, 3],
    ]);
  });

  it('invalidate forgets one URL, clear all of them; a call in flight still answers and caches', async () => {
    const gate = deferred<void>();
    let hold = false;
    const { cache, calls } = cacheWith({ ahead: (n) => range(n + 1, 3) }, async (partNumbers, signed) => {
      if (hold) await gate.promise;
      return signed(partNumbers);
    });
    await cache.get(1);
    cache.invalidate(2);
    await cache.get(3);
    await cache.get(2);
    expect(calls).toEqual([[1, 2, 3], [2]]);

    cache.clear();
    hold = true;
    const pending = cache.get(1);
    cache.clear();
    gate.resolve();
    await pending;
    hold = false;
    await cache.get(3);
    expect(calls).toEqual([[1, 2, 3], [2], [1, 2, 3]]);
  });

  it('a part its own call did not sign is an error; one missing from a shared call is signed on its own', async () => {
    const gate = deferred<void>();
    const { cache, calls } = cacheWith({ ahead: (n) => [n + 1] }, async (partNumbers) => {
      if (partNumbers[0] === 1) await gate.promise;
      return { expiresAt: iso(T0 + 600_000), parts: [{ partNumber: 1, url: 'only-1' }] };
    });

    const one = cache.get(1); // signs 1 and 2; the answer holds only 1
    const two = cache.get(2); // waits for that call, then signs 2 itself: the answer again lacks it
    gate.resolve();
    await expect(one).resolves.toMatchObject({ url: 'only-1' });
    await expect(two).rejects.toThrow('The API did not sign part 2.');
    expect(calls).toEqual([
      [1, 2],
      [2, 3],
    ]);
  });

  it('reports each call with the parts asked for and their expiry, once its URLs are cached', async () => {
    const seen: Array<[readonly number[], number]> = [];
    const callsWhenReported: number[] = [];
    const { cache, calls } = cacheWith({
      ahead: (n) => [n + 1],
      onSigned: (partNumbers, expires) => {
        seen.push([partNumbers, expires]);
        void cache.get(2); // a cache hit already: no second call
        callsWhenReported.push(calls.length);
      },
    });
    await cache.get(1);
    await cache.get(2);

    expect(seen).toEqual([[[1, 2], T0 + PART_URL_SECONDS * 1000]]);
    expect(callsWhenReported).toEqual([1]);
    expect(calls).toEqual([[1, 2]]);
  });

  it('carries the batch headers and the part fields onto every cached URL', async () => {
    const { cache } = cacheWith({ ahead: () => [2] }, (partNumbers) =>
      Promise.resolve({
        expiresAt: iso(T0 + 600_000),
        headers: { 'content-type': 'application/octet-stream' },
        parts: partNumbers.map((n) => ({ partNumber: n, url: `u${n}`, size: 5 * n })),
      }),
    );
    expect(await cache.get(1)).toEqual({
      partNumber: 1,
      url: 'u1',
      size: 5,
      headers: { 'content-type': 'application/octet-stream' },
      expires: T0 + 600_000,
    });
    expect(await cache.get(2)).toMatchObject({ url: 'u2', size: 10 });
  });

  it('reads Date.now at each use by default (a test may stub it later)', async () => {
    const cache = new PartUrlCache<SignedPartUrl>({
      sign: (partNumbers) =>
        Promise.resolve({
          expiresAt: iso(Date.now() + 600_000),
          parts: partNumbers.map((n) => ({ partNumber: n, url: `u${n}-${Date.now()}` })),
        }),
    });
    const first = await cache.get(1);
    const realNow = Date.now;
    Date.now = () => realNow() + 20 * 60_000;
    try {
      expect(await cache.get(1)).not.toBe(first);
    } finally {
      Date.now = realNow;
    }
  });
});
