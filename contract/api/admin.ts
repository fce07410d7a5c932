import * as z from 'zod';
import { cursorSchema, limitSchema, page } from '../pagination';
import { defineRoute, requires } from '../route';

/** Usage-plan tiers for machine clients (rate, burst and daily quota per key, from the stage config). */
export const TIERS = ['basic', 'standard', 'premium'] as const;

/** Scopes a machine client may hold: never `admin`. */
export const MACHINE_SCOPES = ['files.read', 'files.write'] as const;

/** Prefix of a machine client's Cognito app client name: `citadel-<name>`. */
export const COGNITO_CLIENT_NAME_PREFIX = 'citadel-';

/**
 * A machine client's name: exactly what can be sent to Cognito after the prefix. Cognito takes a ClientName of
 * 1–128 characters of `[\w\s+=,.@-]` (ASCII word characters); names keep to the printable part of that class
 * that also reads well in the audit trail and the key's name.
 */
const name = /* @__PURE__ */ (() =>
  z
    .string()
    .trim()
    .min(1)
    .max(
      128 - COGNITO_CLIENT_NAME_PREFIX.length,
      `at most ${128 - COGNITO_CLIENT_NAME_PREFIX.length} characters`,
    )
    .regex(/^[A-Za-z0-9 ._@-]+$/, 'ASCII letters, digits, spaces and . _ @ - only'))();

export const apiClientCreateBody = /* @__PURE__ */ (() =>
  z.strictObject({
    name,
    scopes: z
      .array(z.enum(MACHINE_SCOPES))
      .min(1)
      .max(2)
      .refine((s) => new Set(s).size === s.length, 'scopes must not repeat'),
    tier: z.enum(TIERS),
  }))();

export const apiClientIdParams = /* @__PURE__ */ (() =>
  z.strictObject({
    id: z.uuid({ message: 'must be an API client id (UUID)' }),
  }))();

/** An API client as listed: never its secret or key value. */
export const apiClientSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    id: z.uuid(),
    name: z.string(),
    clientId: z.string(),
    scopes: z.array(z.enum(MACHINE_SCOPES)),
    tier: z.enum(TIERS),
    state: z.enum(['active', 'revoked']),
    createdBy: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    previousKeyExpiresAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  }))();
export type ApiClient = z.infer<typeof apiClientSchema>;

/** Returned once, at creation: the only time the secret and the key are shown. */
export const apiClientCreated = /* @__PURE__ */ (() =>
  z.strictObject({
    client: apiClientSchema,
    clientSecret: z.string(),
    apiKey: z.string(),
    tokenEndpoint: z.string(),
  }))();

export const apiKeyRotated = /* @__PURE__ */ (() =>
  z.strictObject({
    client: apiClientSchema,
    apiKey: z.string(),
    previousKeyExpiresAt: z.iso.datetime(),
  }))();

/** Cognito user names: the user's `sub` (sign-in is by email alias). */
export const usernameParams = /* @__PURE__ */ (() =>
  z.strictObject({
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/u, 'must be a Cognito user name'),
  }))();

export const auditEventSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    id: z.string(),
    occurredAt: z.iso.datetime(),
    actorId: z.string(),
    actorKind: z.enum(['user', 'machine', 'system', 'anonymous']),
    action: z.string(),
    target: z.string().nullable(),
    outcome: z.enum(['success', 'denied', 'failure']),
    requestId: z.string().nullable(),
    sourceIp: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  }))();

/**
 * A `from`/`to` bound PostgreSQL reads as a timestamptz: years 0001–9999 (there is no year 0) and UTC offsets
 * within ±15:59 (PostgreSQL refuses larger displacements).
 */
const auditBound = /* @__PURE__ */ (() =>
  z.iso
    .datetime({ offset: true })
    .refine((v) => !v.startsWith('0000'), 'the year must be 0001 or later')
    .refine((v) => {
      const offset = /([+-])(\d{2}):(\d{2})$/.exec(v);
      return !offset || Number(offset[2]) <= 15;
    }, 'the UTC offset must be within ±15:59'))();

export const auditQuery = /* @__PURE__ */ (() =>
  z
    .strictObject({
      actor: z
        .string()
        .min(1)
        .max(256)
        .regex(/^\P{Cc}+$/u, 'must not contain control characters')
        .optional(),
      action: z
        .string()
        .regex(/^[a-z][a-z0-9_.]{1,63}$/, 'an action like file.download')
        .optional(),
      from: auditBound.optional(),
      to: auditBound.optional(),
      cursor: cursorSchema.optional(),
      limit: limitSchema,
    })
    .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
      message: 'from must not be after to',
      path: ['from'],
    }))();

export const listApiClientsQuery = /* @__PURE__ */ (() =>
  z.strictObject({ cursor: cursorSchema.optional(), limit: limitSchema }))();

const admin = /* @__PURE__ */ (() => requires('admin', ['admin']))();

export const createApiClient = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'createApiClient',
    method: 'POST',
    path: '/v1/admin/api-clients',
    entry: 'lambda/admin/create-api-client.ts',
    summary:
      'Create a machine client (Cognito client credentials + usage-plan API key); secret and key are shown once.',
    auth: admin,
    body: apiClientCreateBody,
    response: { status: 201, schema: apiClientCreated },
    needs: ['database', 'cognito-clients', 'api-keys'],
    throttle: 'admin',
  }))();

export const listApiClients = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'listApiClients',
    method: 'GET',
    path: '/v1/admin/api-clients',
    entry: 'lambda/admin/list-api-clients.ts',
    summary: 'List machine clients, newest first (never secrets or key values).',
    auth: admin,
    query: listApiClientsQuery,
    response: { status: 200, schema: page(apiClientSchema) },
    needs: ['database'],
    throttle: 'admin',
  }))();

export const rotateApiKey = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'rotateApiKey',
    method: 'POST',
    path: '/v1/admin/api-clients/{id}/rotate',
    entry: 'lambda/admin/rotate-api-key.ts',
    summary: 'Issue a new API key; the old one keeps working for the overlap window, then is disabled.',
    auth: admin,
    params: apiClientIdParams,
    response: { status: 200, schema: apiKeyRotated },
    needs: ['database', 'api-keys'],
    throttle: 'admin',
  }))();

export const revokeApiClient = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'revokeApiClient',
    method: 'DELETE',
    path: '/v1/admin/api-clients/{id}',
    entry: 'lambda/admin/revoke-api-client.ts',
    summary: 'Revoke at once: disable every key of the client and delete its Cognito app client.',
    auth: admin,
    params: apiClientIdParams,
    response: { status: 204, schema: z.undefined() },
    needs: ['database', 'cognito-clients', 'api-keys'],
    throttle: 'admin',
  }))();

export const resetUserMfa = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'resetUserMfa',
    method: 'POST',
    path: '/v1/admin/users/{username}/mfa-reset',
    entry: 'lambda/admin/reset-user-mfa.ts',
    summary:
      "Clear a user's MFA and sign them out everywhere: they enrol a new authenticator at next sign-in.",
    auth: admin,
    params: usernameParams,
    response: { status: 204, schema: z.undefined() },
    needs: ['database', 'cognito-mfa'],
    throttle: 'admin',
  }))();

export const listAuditEvents = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'listAuditEvents',
    method: 'GET',
    path: '/v1/admin/audit',
    entry: 'lambda/admin/list-audit-events.ts',
    summary: 'The audit trail, newest first, filtered by actor, action and time range (managers and admins).',
    auth: requires('manager', ['admin']),
    query: auditQuery,
    response: { status: 200, schema: page(auditEventSchema) },
    needs: ['database'],
    throttle: 'admin',
  }))();
