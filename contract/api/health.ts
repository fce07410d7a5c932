import * as z from 'zod';
import { defineRoute, PUBLIC } from '../route';

/** `GET /v1/health` response. */
export const healthResponse = /* @__PURE__ */ (() =>
  z.strictObject({
    status: z.enum(['ok', 'degraded']),
    stage: z.string(),
    version: z.string(),
    time: z.iso.datetime(),
    checks: z.strictObject({ database: z.literal('ok') }),
  }))();
export type HealthResponse = z.infer<typeof healthResponse>;

export const getHealth = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'getHealth',
    method: 'GET',
    path: '/v1/health',
    entry: 'lambda/health/get-health.ts',
    summary: 'Readiness: 200 when the API and its database answer, 503 with Retry-After when not.',
    auth: PUBLIC,
    needs: ['database'],
    response: { status: 200, schema: healthResponse },
    memoryMiB: 256,
    timeoutSeconds: 5,
  }))();
