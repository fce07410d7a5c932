/**
 * Uppy 6 (`@uppy/aws-s3` 6.x) in front of Citadel: `uppy.use(AwsS3, citadelUppyOptions(client))`.
 *
 * Uppy 6 has no createMultipartUpload/signPart/listParts/… options any more: it sends real S3 requests and
 * asks `signRequest(request)` for each URL (create, part, list, complete, abort). Citadel does not hand out
 * presigned create/list/complete/abort URLs — the API performs those itself, with its own checks — so this
 * helper answers them by calling the API inside `signRequest` and giving Uppy a `data:` URL holding the S3
 * XML response it expects (any method may fetch a `data:` URL). Only part uploads go to S3, with the API's
 * presigned URLs, fetched in batches and cached by part number until shortly before they expire.
 *
 * Browser-safe: no Node built-ins. A page whose CSP sets `connect-src` must allow `data:` as well as the
 * API and the bucket.
 */
import type { AwsS3Options } from '@uppy/aws-s3';
import type { Body, Meta } from '@uppy/core';
import { PART_URL_SECONDS, partBytes, partSizeFor } from '../contract/api/uploads';
import type { ApiFile, CitadelClient } from './client';
import { CitadelProblemError } from './errors';

/** What Uppy asks `signRequest` to sign (a subset of `@uppy/aws-s3`'s `PresignableRequest`). */
export interface UppySigningRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly key: string;
  readonly uploadId?: string;
  readonly partNumber?: number;
  readonly contentType?: string;
}

export interface UppyPresigned {
  readonly url: string;
  readonly key?: string;
}

export interface CitadelUppyHelperOptions {
  /** Part URLs asked for per API call. @default 16 */
  readonly signBatchSize?: number;
  /** Declared type for files the browser could not type. @default application/octet-stream */
  readonly defaultContentType?: string;
  /** Called once an upload is created (e.g. to remember `id` for the file). */
  readonly onUploadCreated?: (info: { id: string; key: string; filename: string }) => void;
  /** Called with the file (state `scanning`) once the API completed the upload. */
  readonly onUploadCompleted?: (file: ApiFile) => void;
}

/** The Citadel file id of a storage key `uploads/<owner>/<id>` (what Uppy reports as `response.body.key`). */
export const fileIdFromKey = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

const PENDING_PREFIX = 'citadel-pending/';
const EXPIRY_MARGIN_MS = 60_000;

const escapeXml = (s: string): string =>
  s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  );

/** A URL whose "response" is `xml`: Uppy fetches it like S3 and parses the XML. */
const xmlResponse = (xml: string, key?: string): UppyPresigned => ({
  url: `data:application/xml;charset=utf-8,${encodeURIComponent(`<?xml version="1.0" encoding="UTF-8"?>${xml}`)}`,
  ...(key ? { key } : {}),
});

interface Session {
  readonly id: string;
  readonly key: string;
  readonly uploadId: string;
  readonly size: number;
  readonly partSize: number;
  readonly partCount: number;
  readonly urls: Map<number, { url: string; expires: number }>;
  readonly inflight: Map<number, Promise<void>>;
}

/**
 * Options for `@uppy/aws-s3` 6.x: every file goes multipart with Citadel's part size, and every S3 request
 * is signed (or answered) through the Citadel API.
 *
 * @example
 * const client = new CitadelClient({ baseUrl, token: () => auth.accessToken() });
 * const uppy = new Uppy().use(AwsS3, citadelUppyOptions(client));
 * uppy.on('upload-success', (file, res) => console.log('Citadel id', fileIdFromKey(res.body.key)));
 */
export function citadelUppyOptions<M extends Meta = Meta, B extends Body = Body>(
  client: CitadelClient,
  options: CitadelUppyHelperOptions = {},
): AwsS3Options<M, B> & {
  shouldUseMultipart: true;
  getChunkSize: (file: { size: number }) => number;
  generateObjectKey: (file: { id: string; name?: string; size: number | null; type?: string }) => string;
  signRequest: (request: UppySigningRequest) => Promise<UppyPresigned>;
} {
  const batchSize = Math.min(500, Math.max(1, options.signBatchSize ?? 16));
  let counter = 0;
  /** Placeholder key → what to declare; Uppy's create request carries only the key. */
  const declarations = new Map<string, { filename: string; size: number; contentType: string }>();
  const sessions = new Map<string, Session>();

  const sessionOf = async (key: string, uploadId: string): Promise<Session> => {
    const known = sessions.get(uploadId);
    if (known) return known;
    // Resumed after a page reload (Golden Retriever): learn the upload from the API.
    const status = await client.getUpload(fileIdFromKey(key));
    if (status.uploadId !== uploadId || !status.partSize || !status.partCount) {
      throw new Error(`Upload ${fileIdFromKey(key)} is ${status.file.state}; it cannot be continued.`);
    }
    const session: Session = {
      id: status.file.id,
      key,
      uploadId,
      size: status.file.size,
      partSize: status.partSize,
      partCount: status.partCount,
      urls: new Map(),
      inflight: new Map(),
    };
    sessions.set(uploadId, session);
    return session;
  };

  const create = async (key: string): Promise<UppyPresigned> => {
    const declared = declarations.get(key);
    if (!declared) {
      throw new Error(
        `Uppy asked to create an upload for "${key}", which citadelUppyOptions did not name: keep its generateObjectKey.`,
      );
    }
    const created = await client.createUpload(declared);
    declarations.delete(key);
    if (created.partSize !== partSizeFor(declared.size)) {
      // Uppy has already cut the file into chunks of partSizeFor(size): they would not fit the signed sizes.
      await client.abortUpload(created.id).catch(() => undefined);
      throw new Error(
        `The API chose parts of ${created.partSize} bytes, Uppy cut ${partSizeFor(declared.size)}: update the client.`,
      );
    }
    sessions.set(created.uploadId, {
      id: created.id,
      key: created.key,
      uploadId: created.uploadId,
      size: declared.size,
      partSize: created.partSize,
      partCount: created.partCount,
      urls: new Map(),
      inflight: new Map(),
    });
    options.onUploadCreated?.({ id: created.id, key: created.key, filename: declared.filename });
    return xmlResponse(
      `<InitiateMultipartUploadResult><Bucket>citadel</Bucket><Key>${escapeXml(created.key)}</Key><UploadId>${escapeXml(created.uploadId)}</UploadId></InitiateMultipartUploadResult>`,
      created.key,
    );
  };

  const valid = (s: Session, n: number) => {
    const hit = s.urls.get(n);
    return hit && hit.expires - EXPIRY_MARGIN_MS > Date.now() ? hit : undefined;
  };

  const signPart = async (s: Session, n: number): Promise<UppyPresigned> => {
    for (let round = 0; round < 3; round++) {
      const hit = valid(s, n);
      if (hit) return { url: hit.url };
      const pending = s.inflight.get(n);
      if (pending) {
        await pending;
        continue;
      }
      // Uppy sends a file's parts in order: sign this one and the next few in one call.
      const batch: number[] = [];
      for (let m = n; m <= s.partCount && batch.length < batchSize; m++) {
        if (!valid(s, m) && !s.inflight.has(m)) batch.push(m);
      }
      const call = (async () => {
        const asked = Date.now();
        const signed = await client.signParts(s.id, batch);
        const expires = Math.min(Date.parse(signed.expiresAt), asked + PART_URL_SECONDS * 1000);
        for (const p of signed.parts) s.urls.set(p.partNumber, { url: p.url, expires });
      })();
      for (const m of batch) s.inflight.set(m, call);
      try {
        await call;
      } finally {
        for (const m of batch) if (s.inflight.get(m) === call) s.inflight.delete(m);
      }
    }
    throw new Error(`could not sign part ${n}`);
  };

  const listParts = async (s: Session): Promise<UppyPresigned> => {
    // Uppy lists parts when it resumes after a failure: a URL that failed may be cached, so start afresh.
    s.urls.clear();
    const status = await client.getUpload(s.id);
    if (status.file.state !== 'uploading' || status.uploadId !== s.uploadId) {
      throw new Error(`Upload ${s.id} is ${status.file.state}; it cannot be continued.`);
    }
    const parts = status.parts
      .filter((p) => p.partNumber <= s.partCount && p.size === partBytes(p.partNumber, s.size, s.partSize))
      .map(
        (p) =>
          `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag.replace(/"/g, ''))}</ETag><Size>${p.size}</Size></Part>`,
      )
      .join('');
    return xmlResponse(
      `<ListPartsResult><Bucket>citadel</Bucket><Key>${escapeXml(s.key)}</Key><UploadId>${escapeXml(s.uploadId)}</UploadId>${parts}</ListPartsResult>`,
    );
  };

  const complete = async (s: Session): Promise<UppyPresigned> => {
    // The API lists and checks the parts itself; Uppy's XML body (its ETags) is not needed.
    const file = await client.completeUpload(s.id);
    sessions.delete(s.uploadId);
    options.onUploadCompleted?.(file);
    return xmlResponse(
      `<CompleteMultipartUploadResult><Location>${escapeXml(`${client.baseUrl}/v1/files/${file.id}`)}</Location><Bucket>citadel</Bucket><Key>${escapeXml(s.key)}</Key></CompleteMultipartUploadResult>`,
    );
  };

  const abort = async (s: Session): Promise<UppyPresigned> => {
    try {
      await client.abortUpload(s.id);
    } catch (error) {
      // Already aborted or gone is what was asked for.
      if (!(error instanceof CitadelProblemError && [404, 409].includes(error.status))) throw error;
    }
    sessions.delete(s.uploadId);
    return xmlResponse('<AbortMultipartUploadResult>ok</AbortMultipartUploadResult>');
  };

  return {
    shouldUseMultipart: true,
    getChunkSize: (file) => partSizeFor(file.size),
    generateObjectKey: (file) => {
      const key = `${PENDING_PREFIX}${++counter}`;
      declarations.set(key, {
        filename: file.name || 'upload',
        size: file.size ?? 0,
        contentType: file.type || options.defaultContentType || 'application/octet-stream',
      });
      return key;
    },
    signRequest: async (request: UppySigningRequest) => {
      const { method, key, uploadId, partNumber } = request;
      if (method === 'POST' && !uploadId) return create(key);
      if (uploadId) {
        const s = await sessionOf(key, uploadId);
        if (method === 'PUT' && partNumber) return signPart(s, partNumber);
        if (method === 'GET') return listParts(s);
        if (method === 'POST') return complete(s);
        if (method === 'DELETE') return abort(s);
      }
      throw new Error(
        `Citadel uploads every file as a multipart upload through its API; it cannot sign ${method} ${key}${
          method === 'PUT' ? ' (empty files are not accepted)' : ''
        }.`,
      );
    },
  };
}
