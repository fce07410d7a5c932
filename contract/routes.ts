import * as admin from './api/admin';
import * as files from './api/files';
import * as health from './api/health';
import * as me from './api/me';
import * as recovery from './api/recovery';
import * as uploads from './api/uploads';
import type { RouteDefinition } from './route';

export { type HealthResponse, healthResponse } from './api/health';

/**
 * The route table: the single source of truth for Citadel's HTTP API. Add routes only under `contract/api/`
 * and list them here; the CDK API, the local server, the OpenAPI document and the client follow from it.
 * Handlers import their own route from `contract/api/<area>` so a bundle carries only its own schemas.
 */
export const routes = {
  getHealth: health.getHealth,
  getMe: me.getMe,
  createRecoveryCodes: recovery.createRecoveryCodes,
  recoverAccount: recovery.recoverAccount,
  getFile: files.getFile,
  listFiles: uploads.listFiles,
  downloadFile: uploads.downloadFile,
  deleteFile: uploads.deleteFile,
  createUpload: uploads.createUpload,
  signUploadParts: uploads.signUploadParts,
  getUpload: uploads.getUpload,
  completeUpload: uploads.completeUpload,
  abortUpload: uploads.abortUpload,
  signUploadRequest: uploads.signUploadRequest,
  createApiClient: admin.createApiClient,
  listApiClients: admin.listApiClients,
  rotateApiKey: admin.rotateApiKey,
  revokeApiClient: admin.revokeApiClient,
  resetUserMfa: admin.resetUserMfa,
  listAuditEvents: admin.listAuditEvents,
} as const satisfies Record<string, RouteDefinition>;

export type RouteId = keyof typeof routes;

/** Every route, in declaration order. */
export const routeList: readonly RouteDefinition[] = Object.values(routes);
