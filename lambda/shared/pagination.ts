import { BadRequestError } from './errors';

/** The keyset position of a row: its timestamp and id (the order of every Citadel listing). */
export interface Position {
  readonly at: Date;
  readonly id: string;
}

/** Opaque, URL-safe cursor for `position`. */
export const encodeCursor = (position: Position): string =>
  Buffer.from(JSON.stringify([position.at.toISOString(), position.id])).toString('base64url');

/** Reads a cursor a previous page returned; anything else is a 400, never a 500. */
export function decodeCursor(cursor: string | undefined): Position | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
    ) {
      const at = new Date(value[0]);
      if (!Number.isNaN(at.getTime()) && value[1].length > 0 && value[1].length <= 64)
        return { at, id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new BadRequestError('The cursor is not one this API returned; start again without it.');
}

/** Splits a `limit + 1` query result into the page and the next cursor. */
export function pageOf<R, T>(
  rows: readonly R[],
  limit: number,
  position: (row: R) => Position,
  map: (row: R) => T,
) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}
