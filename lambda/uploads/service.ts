/** The upload lifecycle, shared by the REST routes and the Uppy signing route. */
import { randomUUID } from 'node:crypto';
import type { ApiFile } from '../../contract/api/files';
import { partBytes, partCountFor, partSizeFor, UPLOAD_LIFETIME_DAYS } from '../../contract/api/uploads';
import { UPLOAD_METRICS } from '../../contract/metrics';
import { accessibleFile } from '../files/access';
import { type FileRow, findFile, toApiFile } from '../files/repository';
import { type Actor, moveFile, uploadCompleted } from '../files/transitions';
import { recordAudit } from '../shared/audit';
import type { Principal } from '../shared/auth';
import { transaction } from '../shared/db';
import { BadRequestError, ConflictError, ValidationError } from '../shared/errors';
import { addMetric, logger } from '../shared/powertools';
import { checkDeclared, objectKey, sameEtag, sanitizeFilename } from './domain';
import {
  abortMultipart,
  completeMultipart,
  createMultipart,
  deleteObject,
  listAllParts,
  presignPart,
  type StoredPart,
  storedObjectSize,
} from './multipart';
import { isNoSuchUpload } from './s3';

/** Incomplete multipart uploads are aborted by the bucket lifecycle after this long. */
const UPLOAD_LIFETIME_MS = UPLOAD_LIFETIME_DAYS * 24 * 3600 * 1000;

export interface Caller {
  readonly principal: Principal;
  readonly requestId: string;
  readonly sourceIp: string;
}

export interface Declared {
  readonly filename: string;
  readonly size: number;
  readonly contentType: string;
  readonly sha256?: string;
}

/**
 * Validates the declaration, creates the S3 multipart upload (unless `multipart` is false: Uppy creates it
 * itself) and writes the `files` row with an audit event. A failed write aborts the S3 upload.
 */
export async function startUpload(caller: Caller, declared: Declared, multipart = true) {
  const contentType = checkDeclared(declared.size, declared.contentType, declared.sha256);
  const filename = sanitizeFilename(declared.filename);
  const id = randomUUID();
  const key = objectKey(caller.principal.id, id);
  const partSize = partSizeFor(declared.size);
  const partCount = partCountFor(declared.size, partSize);
  const uploadId = multipart ? await createMultipart(key, contentType, id) : null;
  try {
    await transaction(async (tx) => {
      await tx.query(
        `INSERT INTO citadel.files (id, owner_id, object_key, filename, content_type, declared_size, sha256,
                                    upload_id, part_size, part_count, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'uploading')`,
        [
          id,
          caller.principal.id,
          key,
          filename,
          contentType,
          declared.size,
          declared.sha256 ?? null,
          uploadId,
          partSize,
          partCount,
        ],
      );
      await recordAudit(
        {
          principal: caller.principal,
          action: 'upload.create',
          target: `file:${id}`,
          outcome: 'success',
          requestId: caller.requestId,
          sourceIp: caller.sourceIp,
          details: { size: declared.size, contentType, parts: partCount },
        },
        tx,
      );
    });
  } catch (error) {
    if (uploadId)
      await abortMultipart(key, uploadId).catch((e: Error) =>
        logger.error('abort after failed insert', { error: e }),
      );
    throw error;
  }
  addMetric(UPLOAD_METRICS.created, 'Count', 1);
  return {
    id,
    uploadId: uploadId ?? '',
    key,
    partSize,
    partCount,
    expiresAt: new Date(Date.now() + UPLOAD_LIFETIME_MS).toISOString(),
    /** The declared type as stored (an alias replaced by its canonical name). */
    contentType,
  };
}

/** The caller's own upload: others' and unknown ids are the same 404 (others' audited as denied). */
export async function ownedUpload(caller: Caller, id: string): Promise<FileRow> {
  return accessibleFile(caller, id, 'upload.access', () => false);
}

export interface PartUrl {
  readonly partNumber: number;
  readonly url: string;
  /** The exact Content-Length the URL is signed for. */
  readonly size: number;
}

/**
 * Presigned UploadPart URLs for `partNumbers` of the upload `uploadId`, each signed for the part's exact size.
 * Part numbers beyond the declaration are a 400 naming `field`.
 */
export function signParts(
  row: FileRow,
  uploadId: string,
  partNumbers: readonly number[],
  field: string,
): Promise<PartUrl[]> {
  const partCount = row.part_count as number;
  const beyond = partNumbers.filter((n) => n > partCount);
  if (beyond.length > 0) {
    throw new ValidationError([
      {
        in: 'body',
        path: field,
        message: `this upload has ${partCount} parts; ${beyond.slice(0, 5).join(', ')} do not exist`,
      },
    ]);
  }
  const size = Number(row.declared_size);
  const partSize = Number(row.part_size);
  return Promise.all(
    partNumbers.map(async (partNumber) => {
      const bytes = partBytes(partNumber, size, partSize);
      return { partNumber, size: bytes, url: await presignPart(row.object_key, uploadId, partNumber, bytes) };
    }),
  );
}

/** The part list the declaration implies, checked against what S3 holds; returns what to complete with. */
function checkParts(
  row: FileRow,
  stored: readonly StoredPart[],
  clientEtags?: ReadonlyArray<{ partNumber: number; etag: string }>,
) {
  const size = Number(row.declared_size);
  const partSize = Number(row.part_size);
  const partCount = row.part_count as number;
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const missing: number[] = [];
  for (let n = 1; n <= partCount; n++) if (!byNumber.has(n)) missing.push(n);
  const extra = stored.filter((p) => p.partNumber > partCount).map((p) => p.partNumber);
  const wrongSize = stored.filter(
    (p) => p.partNumber <= partCount && p.size !== partBytes(p.partNumber, size, partSize),
  );
  for (const given of clientEtags ?? []) {
    const held = byNumber.get(given.partNumber);
    if (!held || !sameEtag(held.etag, given.etag)) {
      throw new BadRequestError(
        `Part ${given.partNumber}'s ETag does not match the part S3 holds; upload it again.`,
      );
    }
  }
  return { missing, extra, wrongSize, parts: stored.filter((p) => p.partNumber <= partCount) };
}

/**
 * Completes an upload: every declared part present with its exact size (so the object has the declared
 * size), then S3 assembles it and the file moves to `scanning`. Concurrent calls complete it once; a size
 * that can no longer match fails the upload and removes its parts.
 */
export async function finishUpload(
  caller: Caller,
  row: FileRow,
  clientEtags?: ReadonlyArray<{ partNumber: number; etag: string }>,
): Promise<ApiFile> {
  if (row.state !== 'uploading') return completedOrRefused(toApiFile(row));
  // An upload a browser created at S3 (Uppy) before any part was signed has no upload id bound yet.
  const stored = row.upload_id === null ? undefined : await listAllParts(row.object_key, row.upload_id);
  if (!stored) return completedOrRefused(await resolveGoneUpload(caller, row));
  const uploadId = row.upload_id as string;
  const { missing, extra, wrongSize, parts } = checkParts(row, stored, clientEtags);
  if (extra.length > 0 || wrongSize.length > 0) {
    await abortMultipart(row.object_key, uploadId);
    await moveFile(caller, row.id, {
      from: ['uploading'],
      to: 'failed',
      set: { failure_reason: 'parts do not add up to the declared size' },
      action: 'upload.complete',
      outcome: 'failure',
      details: { extra, wrongSize: wrongSize.map((p) => p.partNumber) },
      metrics: [[UPLOAD_METRICS.failed, 'Count', 1]],
    });
    throw new BadRequestError(
      'The uploaded parts do not add up to the declared size; the upload was discarded.',
    );
  }
  if (missing.length > 0) {
    throw new ConflictError(
      `Parts missing: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}. Upload them, then complete.`,
    );
  }
  try {
    await completeMultipart(row.object_key, uploadId, parts);
  } catch (error) {
    // A concurrent call completed it first: S3 no longer knows the upload id.
    if (isNoSuchUpload(error)) return completedOrRefused(await resolveGoneUpload(caller, row));
    throw error;
  }
  const done = await moveFile(
    caller,
    row.id,
    uploadCompleted(Number(row.declared_size), { parts: parts.length }),
  );
  if (!done) return settleLostRace(row.id);
  return toApiFile(done);
}

/** A completion's answer once the upload left `uploading`: the file if it completed, a 409 if it did not. */
function completedOrRefused(file: ApiFile): ApiFile {
  switch (file.state) {
    case 'failed':
      throw new ConflictError(
        `This upload failed (${file.failureReason ?? 'no reason recorded'}); start a new one.`,
      );
    case 'aborted':
      throw new ConflictError('This upload was aborted.');
    case 'deleted':
      throw new ConflictError('This upload is deleted; it cannot be completed.');
    default:
      return file;
  }
}

/**
 * S3 no longer knows the upload id. Either it was completed — by a concurrent call, by an earlier attempt
 * that died before its database write, or by a browser at S3 — and the object is there: the file moves on to
 * `scanning` here. Or it was aborted: by a concurrent abort (whose row update lands within a moment) or by the
 * bucket's lifecycle rule after a day, in which case the file is marked `failed` now rather than left
 * `uploading` forever.
 */
export async function resolveGoneUpload(caller: Caller, row: FileRow): Promise<ApiFile> {
  const size = await storedObjectSize(row.object_key);
  if (size === undefined) {
    const other = await settled(row.id, 4);
    if (other) return toApiFile(other);
    const failed = await failGoneUpload(
      caller,
      row,
      'the multipart upload no longer exists at S3 (expired or aborted)',
    );
    return toApiFile(failed ?? (await findFile(row.id)) ?? row);
  }
  if (size !== Number(row.declared_size)) {
    // Cannot happen through the REST routes (parts are checked before S3 assembles them); refuse it all the same.
    await deleteObject(row.object_key);
    await moveFile(caller, row.id, {
      from: ['uploading'],
      to: 'failed',
      set: { failure_reason: 'object size differs from the declared size' },
      action: 'upload.complete',
      outcome: 'failure',
      details: { size },
      metrics: [[UPLOAD_METRICS.failed, 'Count', 1]],
    });
    throw new BadRequestError('The stored object does not have the declared size; the upload was discarded.');
  }
  const moved = await moveFile(caller, row.id, uploadCompleted(size, { adopted: true }));
  if (!moved) return settleLostRace(row.id);
  return toApiFile(moved);
}

/**
 * Marks an `uploading` file whose multipart upload S3 no longer holds, and that has no object, `failed`:
 * for the API when it finds the upload gone, and for the hourly sweep.
 */
export const failGoneUpload = (actor: Actor, row: Pick<FileRow, 'id'>, reason: string) =>
  moveFile(actor, row.id, {
    from: ['uploading'],
    to: 'failed',
    set: { failure_reason: reason },
    action: 'upload.expire',
    outcome: 'failure',
    metrics: [[UPLOAD_METRICS.failed, 'Count', 1]],
  });

/** The row once it has left `uploading`, polling up to `attempts` times (100 ms, 200 ms, …). */
async function settled(id: string, attempts: number): Promise<FileRow | undefined> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const row = await findFile(id);
    if (row && row.state !== 'uploading') return row;
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
  }
  return undefined;
}

async function settleLostRace(id: string): Promise<ApiFile> {
  const row = await settled(id, 10);
  if (!row)
    throw new ConflictError('The upload is being completed by another request; fetch it again shortly.');
  return completedOrRefused(toApiFile(row));
}

export const auditOf = (caller: Caller, fileId: string, action: string) => ({
  principal: caller.principal,
  action,
  target: `file:${fileId}`,
  requestId: caller.requestId,
  sourceIp: caller.sourceIp,
});

/**
 * Aborts an upload still in progress (at S3 too, so no parts remain); aborting an aborted one is a no-op.
 * `uploadId` is S3's id when the row has none bound yet (an upload a browser created).
 */
export async function cancelUpload(caller: Caller, row: FileRow, uploadId = row.upload_id): Promise<void> {
  if (row.state === 'aborted') return;
  if (row.state !== 'uploading')
    throw new ConflictError(`This upload is ${row.state}; only uploads in progress can be aborted.`);
  if (uploadId) await abortMultipart(row.object_key, uploadId);
  // A completion that won the race left an object behind: that upload is finished, not abortable.
  if ((await storedObjectSize(row.object_key)) !== undefined) {
    throw new ConflictError('This upload has already been completed; delete the file instead.');
  }
  await moveFile(caller, row.id, {
    from: ['uploading'],
    to: 'aborted',
    action: 'upload.abort',
    outcome: 'success',
    metrics: [[UPLOAD_METRICS.aborted, 'Count', 1]],
  });
}
