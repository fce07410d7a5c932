/**
 * Keyset cursors (lambda/shared/pagination.ts), property-tested with fast-check: every position a listing can
 * produce survives the round trip exactly (microseconds included), and everything else is refused with a 400
 * before it reaches SQL. The last part checks the SQL side against real PostgreSQL: the cursor text a row yields
 * reads back as the very same instant, and the files listing pages through rows of one millisecond.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { cursorSchema } from '../../../contract/pagination';
import { listFileRows } from '../../../lambda/files/repository';
import { closePool } from '../../../lambda/shared/db';
import { BadRequestError } from '../../../lambda/shared/errors';
import {
  type CursorId,
  decodeCursor,
  encodeCursor,
  type Position,
  pageOf,
  positionAtSql,
} from '../../../lambda/shared/pagination';
import { migratedDatabase, withClient } from '../../support/database';
import { startPostgres, type TestPostgres } from '../../support/postgres';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT_MAX = 9223372036854775807n;

/** Microseconds since the epoch of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z. */
const MIN_US = BigInt(Date.parse('0001-01-01T00:00:00.000Z')) * 1000n;
const MAX_US = BigInt(Date.parse('9999-12-31T23:59:59.999Z')) * 1000n + 999n;

/** The cursor text of an instant given in microseconds since the epoch (what `positionAtSql` yields). */
function atText(us: bigint): string {
  const ms = us >= 0n ? us / 1000n : -((-us + 999n) / 1000n);
  const micros = us - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

const instant = fc.bigInt({ min: MIN_US, max: MAX_US });
const uuid = fc.uuid();
const bigintId = fc.bigInt({ min: 0n, max: BIGINT_MAX }).map(String);
const idOf: Record<CursorId, fc.Arbitrary<string>> = { uuid, bigint: bigintId };
const kind = fc.constantFrom<CursorId>('uuid', 'bigint');
const position = (k: CursorId): fc.Arbitrary<Position> => fc.record({ at: instant.map(atText), id: idOf[k] });
/** Days in a month of the proleptic Gregorian calendar (PostgreSQL's). */
const daysIn = (year: number, month: number) => {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
};
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Decoding must refuse `cursor` with the API's 400, and nothing else. */
function expectRefused(cursor: string, k: CursorId): void {
  let thrown: unknown;
  try {
    decodeCursor(cursor, k);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(BadRequestError);
  expect((thrown as BadRequestError).kind).toBe('badRequest');
}

describe('cursor round trip', () => {
  it('decodes every position a listing can produce to exactly that position (microseconds kept)', () => {
    fc.assert(
      fc.property(
        kind.chain((k) => fc.tuple(fc.constant(k), position(k))),
        ([k, p]) => {
          const cursor = encodeCursor(p);
          expect(cursorSchema.safeParse(cursor).success).toBe(true);
          expect(decodeCursor(cursor, k)).toEqual(p);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps positions one microsecond apart distinct', () => {
    fc.assert(
      fc.property(
        instant.filter((us) => us < MAX_US),
        uuid,
        (us, id) => {
          const a = decodeCursor(encodeCursor({ at: atText(us), id }), 'uuid');
          const b = decodeCursor(encodeCursor({ at: atText(us + 1n), id }), 'uuid');
          expect(a?.at).not.toBe(b?.at);
        },
      ),
    );
  });

  it('treats an absent cursor as the first page', () => {
    expect(decodeCursor(undefined, 'uuid')).toBeUndefined();
    expect(decodeCursor(undefined, 'bigint')).toBeUndefined();
  });
});

describe('cursor rejection: anything but a cursor this API returned is a 400', () => {
  it('arbitrary text, base64url or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.base64String()), kind, (cursor, k) => {
        fc.pre(cursor !== '');
        try {
          decodeCursor(cursor, k);
        } catch (error) {
          expect(error).toBeInstanceOf(BadRequestError);
          return;
        }
        // Random text decoding to a valid position is possible in principle, never by accident here.
        throw new Error(`accepted ${JSON.stringify(cursor)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('any JSON that is not [exact instant, id]', () => {
    fc.assert(
      fc.property(
        fc
          .jsonValue({ maxDepth: 3 })
          .filter(
            (v) =>
              !(Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string'),
          ),
        kind,
        (v, k) => expectRefused(b64(v), k),
      ),
      { numRuns: 500 },
    );
  });

  it('an id of the other listing’s type, or of neither', () => {
    const notUuid = fc.oneof(
      bigintId,
      fc.string({ maxLength: 70 }).filter((s) => !UUID.test(s)),
    );
    const notBigint = fc.oneof(
      uuid,
      fc.string({ maxLength: 25 }).filter((s) => !/^(0|[1-9]\d*)$/.test(s)),
      fc.bigInt({ min: BIGINT_MAX + 1n }).map(String),
      fc.bigInt({ max: -1n }).map(String),
      fc.bigInt({ min: 1n, max: BIGINT_MAX }).map((n) => `0${n}`),
    );
    fc.assert(
      fc.property(instant.map(atText), notUuid, notBigint, (at, u, b) => {
        expectRefused(b64([at, u]), 'uuid');
        expectRefused(b64([at, b]), 'bigint');
      }),
      { numRuns: 500 },
    );
  });

  it('an instant PostgreSQL cannot hold, a date not in the calendar, or not at microsecond precision', () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    const badAt = fc.oneof(
      // Millisecond (or other) precision: not what positionAtSql yields, so never a cursor this API made.
      instant.map((us) => new Date(Number(us / 1000n)).toISOString()),
      instant.map((us) => atText(us).replace('Z', '+00:00')),
      instant.map((us) => atText(us).slice(0, 26)),
      instant.map((us) => `${atText(us).slice(0, 26)}0Z`),
      // Out of range: year 0000, expanded years.
      fc.tuple(fc.constant('0000'), instant.map(atText)).map(([y, text]) => `${y}${text.slice(4)}`),
      fc.constantFrom(
        '-200000-01-01T00:00:00.000000Z',
        '+275760-09-13T00:00:00.000000Z',
        '10000-01-01T00:00:00.000000Z',
      ),
      // Not a calendar day or time.
      fc
        .tuple(
          fc.integer({ min: 1, max: 9999 }),
          fc.integer({ min: 1, max: 12 }),
          fc.integer({ min: 29, max: 99 }),
        )
        .filter(([y, m, d]) => d > daysIn(y, m))
        .map(([y, m, d]) => `${pad(y, 4)}-${pad(m)}-${pad(d)}T00:00:00.000000Z`),
      fc.constantFrom(
        '2024-00-10T00:00:00.000000Z',
        '2024-13-10T00:00:00.000000Z',
        '2024-01-00T00:00:00.000000Z',
        '2024-01-01T24:00:00.000000Z',
        '2024-01-01T00:60:00.000000Z',
        '2016-12-31T23:59:60.000000Z',
        'infinity',
        '-infinity',
        'epoch',
        'now',
        '',
      ),
      fc.string({ maxLength: 30 }).filter((s) => !/^\d{4}-\d{2}-\d{2}T/.test(s)),
    );
    fc.assert(
      fc.property(
        badAt,
        kind.chain((k) => fc.tuple(fc.constant(k), idOf[k])),
        (at, [k, id]) => expectRefused(b64([at, id]), k),
      ),
      { numRuns: 500 },
    );
  });
});

describe('pageOf', () => {
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: String(1000 - i),
      position_at: atText(1_700_000_000_000_000n - BigInt(i)),
    }));

  it('cuts a limit + 1 result to the page and points the next cursor at its last row', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 101 }), (limit, extra) => {
        const got = rows(Math.min(limit + 1, extra));
        const page = pageOf(got, limit, (r) => r.id);
        expect(page.items).toEqual(got.slice(0, limit).map((r) => r.id));
        if (got.length > limit) {
          const last = got[limit - 1];
          expect(decodeCursor(page.nextCursor ?? undefined, 'bigint')).toEqual({
            at: last?.position_at,
            id: last?.id,
          });
        } else {
          expect(page.nextCursor).toBeNull();
        }
      }),
    );
  });
});

describe('against PostgreSQL', () => {
  let server: TestPostgres;
  let adminUrl: string;

  beforeAll(async () => {
    server = await startPostgres();
    const db = await migratedDatabase(server, 'pagination');
    adminUrl = db.adminUrl;
    process.env.DATABASE_URL = db.appUrl;
  });
  afterAll(async () => {
    await closePool();
    await server?.destroy();
  });

  it('positionAtSql yields a cursor instant that decodes and reads back as the same timestamptz', async () => {
    await withClient(adminUrl, async (client) => {
      await fc.assert(
        fc.asyncProperty(instant, uuid, async (us, id) => {
          const at = atText(us);
          const { rows } = await client.query<{ text: string; same: boolean }>(
            `SELECT ${positionAtSql('t')} AS text, ${positionAtSql('t')}::timestamptz = t AS same
               FROM (SELECT $1::timestamptz AS t) AS x`,
            [at],
          );
          expect(rows[0]).toEqual({ text: at, same: true });
          expect(decodeCursor(encodeCursor({ at: rows[0]?.text as string, id }), 'uuid')).toEqual({ at, id });
        }),
        { numRuns: 200 },
      );
    });
  });

  it('GET /v1/files’s query pages through files created within one millisecond, none skipped, none twice', async () => {
    // Prepare: five files in one millisecond, plus two around it, for one owner
    const owner = `pager-${randomUUID().slice(0, 8)}`;
    const stamps = ['000900', '000700', '000500', '000300', '000100'].map(
      (us) => `2012-01-01T00:00:00.${us}Z`,
    );
    stamps.push('2012-01-01T00:00:00.001000Z', '2011-12-31T23:59:59.999999Z');
    await withClient(adminUrl, async (client) => {
      for (const at of stamps) {
        const id = randomUUID();
        await client.query(
          `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, created_at)
           VALUES ($1, $2, $3, 'f.txt', 'text/plain', 1, $4)`,
          [id, owner, `uploads/${owner}/${id}`, at],
        );
      }
    });
    const expected = await withClient(adminUrl, async (client) =>
      (
        await client.query<{ id: string }>(
          'SELECT id FROM citadel.files WHERE owner_id = $1 ORDER BY created_at DESC, id DESC',
          [owner],
        )
      ).rows.map((r) => r.id),
    );
    // Act: two per page, through the cursor as the handler passes it on
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const rows = await listFileRows(owner, 2, decodeCursor(cursor ?? undefined, 'uuid'));
      const page = pageOf(rows, 2, (r) => r.id);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && seen.length < 100);
    // Assess
    expect(seen).toEqual(expected);
    expect(seen).toHaveLength(7);
  });
});
