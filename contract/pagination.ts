import * as z from 'zod';

/** Opaque keyset cursor: base64url of the last item's sort key. */
export const cursorSchema = /* @__PURE__ */ (() =>
  z
    .string()
    .min(1)
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous page'))();

const LIMIT = 'must be a whole number from 1 to 100';
/** Page size: 1–100, 25 by default. Every refusal (`0`, `abc`, `2.5`, `101`) says the range. */
export const limitSchema = /* @__PURE__ */ (() =>
  z.coerce.number({ error: LIMIT }).int(LIMIT).min(1, LIMIT).max(100, LIMIT).default(25))();

/** A page of `item`, with the cursor of the next one when there is more. */
export const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), nextCursor: z.string().nullable() });
