import { BadRequestError } from './errors';

/**
 * Keyset pagination for every Citadel listing: newest first on (timestamp, id). The cursor carries the last
 * row's timestamp exactly as PostgreSQL holds it (microseconds, as UTC text computed in SQL), because a
 * JavaScript `Date` keeps milliseconds only and would skip rows of the same millisecond.
 */

/** The keyset position of a row: its exact timestamp (see {@link positionAtSql}) and its id. */
export interface Position {
  /** UTC, microsecond precision: `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  readonly at: string;
  readonly id: string;
}

/** The type of a listing's id column, which a cursor's id must match before it reaches SQL. */
export type CursorId = 'uuid' | 'bigint';

/**
 * SQL for the exact cursor timestamp of `column` (a timestamptz), in the form {@link Position.at} requires.
 * Select it next to the row (`… AS position_at`) and compare with `(column, id) < ($n::timestamptz, $m::<id>)`.
 */
export const positionAtSql = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT = /^(0|[1-9]\d{0,18})$/;
const BIGINT_MAX = 9223372036854775807n;

const daysIn = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

/** A real instant PostgreSQL reads back exactly: years 0001–9999 (within its range), a real calendar day. */
function isPositionAt(value: string): boolean {
  const m = AT.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59
  );
}

const isId: Record<CursorId, (id: string) => boolean> = {
  uuid: (id) => UUID.test(id),
  bigint: (id) => BIGINT.test(id) && BigInt(id) <= BIGINT_MAX,
};

/** Opaque, URL-safe cursor for `position`. */
export const encodeCursor = (position: Position): string =>
  Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');

/**
 * Reads a cursor a previous page of a listing whose ids are `id` returned. Anything else (hand-made, from
 * another listing, or naming an instant or id PostgreSQL would refuse) is a 400, never a 500.
 */
export function decodeCursor(cursor: string | undefined, id: CursorId): Position | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'string' &&
    isPositionAt(value[0]) &&
    isId[id](value[1])
  ) {
    return { at: value[0], id: value[1] };
  }
  throw new BadRequestError('The cursor is not one this API returned; start again without it.');
}

/** A row selected with its exact cursor timestamp (`positionAtSql(column) AS position_at`). */
export interface Positioned {
  readonly id: string;
  readonly position_at: string;
}

/** Splits a `limit + 1` query result into the page and the next cursor. */
export function pageOf<R extends Positioned, T>(rows: readonly R[], limit: number, map: (row: R) => T) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    nextCursor:
      rows.length > limit && last !== undefined ? encodeCursor({ at: last.position_at, id: last.id }) : null,
  };
}
