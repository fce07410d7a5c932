import * as z from 'zod';

/** Opaque keyset cursor: base64url of the last item's sort key. */
export const cursorSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous page');

export const limitSchema = z.coerce.number({ message: 'must be a number' }).int().min(1).max(100).default(25);

/** A page of `item`, with the cursor of the next one when there is more. */
export const page = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), nextCursor: z.string().nullable() });
