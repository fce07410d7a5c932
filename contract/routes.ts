import * as z from 'zod';
import { fileIdParams, fileSchema } from './files';
import { defineRoute, PUBLIC, type RouteDefinition, requires } from './route';

/** `GET /v1/health` response. */
export const healthResponse = z.strictObject({
  status: z.enum(['ok', 'degraded']),
  stage: z.string(),
  version: z.string(),
  time: z.iso.datetime(),
  checks: z.strictObject({ database: z.literal('ok') }),
});
export type HealthResponse = z.infer<typeof healthResponse>;

/**
 * The route table: the single source of truth for Citadel's HTTP API. Add routes only here;
 * the CDK API, the local server, the OpenAPI document and the client follow from it.
 */
export const routes = {
  getHealth: defineRoute({
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
  }),
  getFile: defineRoute({
    operationId: 'getFile',
    method: 'GET',
    path: '/v1/files/{id}',
    entry: 'lambda/files/get-file.ts',
    summary: "A file's metadata and state: the owner's own, or anyone's for managers and admins.",
    auth: requires('user', ['files.read']),
    params: fileIdParams,
    response: { status: 200, schema: fileSchema },
    needs: ['database'],
  }),
} as const satisfies Record<string, RouteDefinition>;

export type RouteId = keyof typeof routes;

/** Every route, in declaration order. */
export const routeList: readonly RouteDefinition[] = Object.values(routes);
