import * as z from 'zod';
import { defineRoute, requires } from '../route';

/** Lifecycle of an uploaded file. Only `clean` files can be downloaded. */
export const FILE_STATES = [
  'uploading',
  'scanning',
  'clean',
  'infected',
  'rejected',
  'scan_failed',
  'failed',
  'aborted',
  'deleted',
] as const;
export type FileState = (typeof FILE_STATES)[number];

/** A file as the API shows it: metadata only, never the storage key. */
export const fileSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    id: z.uuid(),
    ownerId: z.string(),
    filename: z.string(),
    contentType: z.string(),
    size: z.number().int().positive(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
    state: z.enum(FILE_STATES),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    completedAt: z.iso.datetime().nullable(),
    scannedAt: z.iso.datetime().nullable(),
    /** Why the file is `failed`, `rejected`, `infected` or `scan_failed`, in words meant for its owner; else null. */
    failureReason: z.string().nullable(),
  }))();
export type ApiFile = z.infer<typeof fileSchema>;

export const fileIdParams = /* @__PURE__ */ (() =>
  z.strictObject({ id: z.uuid({ message: 'must be a file id (UUID)' }) }))();

export const getFile = /* @__PURE__ */ (() =>
  defineRoute({
    operationId: 'getFile',
    method: 'GET',
    path: '/v1/files/{id}',
    entry: 'lambda/files/get-file.ts',
    summary: "A file's metadata and state: the owner's own, or anyone's for managers and admins.",
    auth: requires('user', ['files.read']),
    params: fileIdParams,
    response: { status: 200, schema: fileSchema },
    needs: ['database'],
  }))();
