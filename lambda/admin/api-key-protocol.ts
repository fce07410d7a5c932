import * as z from 'zod';

/** Requests the admin functions send to the API-key control function. */
export const keyControlRequest = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('create'),
    name: z.string().min(1).max(128),
    tier: z.enum(['basic', 'standard', 'premium']),
  }),
  z.strictObject({ action: z.literal('disable'), keyId: z.string().min(1).max(128) }),
]);
export type KeyControlRequest = z.infer<typeof keyControlRequest>;

export const keyCreated = z.strictObject({ keyId: z.string(), value: z.string() });
export const keyDisabled = z.strictObject({ disabled: z.literal(true) });
