/**
 * Uppy 6 (`@uppy/aws-s3` 6.x) in front of Citadel:
 *
 *   uppy.use(AwsS3, citadelSignRequest({ apiUrl, token: () => auth.accessToken() }))
 *
 * Uppy 6 builds every S3 request itself (create multipart, upload part, list parts, complete, abort, put
 * object) and asks `signRequest(request)` to presign it. This helper hands each request to Citadel's signing
 * route, `POST /v1/uploads/sign`, which signs only what Citadel allows: `create` and `put` declare the file
 * (name, size and type, remembered from `generateObjectKey`) and return a server-generated key that Uppy then
 * uses; part, list, complete and abort are signed only for uploads the caller owns; a single PUT only under
 * one part. The browser talks to S3 itself, completion included.
 *
 * Part URLs are signed in batches (`parts`, up to 100 per call) and cached per upload until a minute before
 * they expire, because Uppy sends a file's parts one after another and one API call per part would cost a
 * round trip per part and meet the WAF's per-IP limit.
 *
 * What the helper remembers is dropped once it is no use: an upload's URLs and its file's declaration when
 * the upload completes or aborts; a signed `create`/`put` once its URL expired (a later ask declares again);
 * the rest (a single PUT's declaration, URLs of an upload left unfinished) an hour after its last URL
 * expired, so a long-lived page does not grow with every file it ever uploaded.
 *
 * Browser-safe: no Node built-ins.
 */
import { MAX_SIGN_BATCH, MIN_PART_BYTES, partCountFor, partSizeFor } from '../contract/api/uploads';
import {
  CitadelClient,
  type CitadelClientOptions,
  type SignedUploadRequest,
  type SignUploadRequestInput,
  type TokenSource,
} from './client';
import { normalizeMediaType } from './media-type';
import { EXPIRY_MARGIN_MS, PartUrlCache, type SignedPartUrl } from './part-url-cache';

/** What Uppy asks `signRequest` to sign (`@uppy/aws-s3`'s `PresignableRequest`). */
export interface UppySigningRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly key: string;
  readonly uploadId?: string;
  readonly partNumber?: number;
  readonly contentType?: string;
  readonly expiresIn?: number;
}

/** What `signRequest` answers: the presigned URL, the server's key (create/put), the headers it signed. */
export interface UppyPresigned {
  readonly url: string;
  readonly key?: string;
  readonly headers?: Record<string, string>;
}

/** The file fields `generateObjectKey` reads (a subset of Uppy's `UppyFile`). */
export interface UppyFileLike {
  readonly id: string;
  readonly name?: string;
  readonly size: number | null;
  readonly type?: string;
}

export interface CitadelUppyHelperOptions {
  /** Part URLs asked for per signing call. @default 32 (at most 100) */
  readonly signBatchSize?: number;
  /** Declared type for files the browser could not type. @default application/octet-stream */
  readonly defaultContentType?: string;
  /** Called once the API declared a file (e.g. to remember the Citadel file id for it). */
  readonly onUploadCreated?: (info: { id: string; key: string; filename: string }) => void;
  /** The clock URL expiry and forgetting are measured on (ms since the epoch), for tests. @default Date.now */
  readonly now?: () => number;
}

export interface CitadelSignRequestOptions extends CitadelUppyHelperOptions {
  /** The API's base URL, e.g. `https://api.example.com`. */
  readonly apiUrl: string;
  /** A bearer token, or a function returning a current one (called before every request). */
  readonly token?: TokenSource;
  /** Same as a function `token`. */
  readonly getToken?: () => Promise<string> | string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * Retries of the API calls (network errors, 429, 502/503/504); `create`/`put`, which declare a file, are
   * retried only when they certainly did no work (see {@link CitadelClient.call}).
   */
  readonly retry?: CitadelClientOptions['retry'];
}

/** The options to spread into `@uppy/aws-s3`: all four work together. */
export interface CitadelUppyOptions {
  /** Multipart from one part size up; smaller files go as one PUT (the API signs PUTs only below that). */
  readonly shouldUseMultipart: (file: { size: number | null }) => boolean;
  /** The part size the API chooses for the file (Uppy cuts the file before the upload exists). */
  readonly getChunkSize: (file: { size: number }) => number;
  /** A placeholder key; the file's name, size and type are remembered under it for `create`/`put`. */
  readonly generateObjectKey: (file: UppyFileLike) => string;
  readonly signRequest: (request: UppySigningRequest) => Promise<UppyPresigned>;
}

/** The Citadel file id of a storage key `uploads/<owner>/<id>` (what Uppy reports as `response.body.key`). */
export const fileIdFromKey = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

const PENDING_PREFIX = 'citadel-pending/';
const DEFAULT_BATCH = 32;
/**
 * How long past the expiry of the last URL signed for it (or its last use) the helper remembers a file or
 * an upload: a pause or an Uppy retry within it carries on; after it, a single PUT must be added again and
 * a multipart upload is looked up again (`GET /v1/uploads/{id}`).
 */
export const UPPY_HELPER_RETAIN_MS = 60 * 60_000;
/** Forgetting is checked at most this often (on the next call to the helper). */
const SWEEP_INTERVAL_MS = 60_000;

interface Declaration {
  readonly filename: string;
  readonly size: number;
  readonly contentType: string;
}

/** What a placeholder key stands for: the file to declare, and the create/put signed for it. */
interface Placeholder {
  readonly declaration: Declaration;
  /** The create/put signed (or being signed) for it: Uppy may ask again after a pause. */
  signed?: Promise<SignedUploadRequest>;
  /** When `signed`'s URL expires, once known: the answer is dropped then. */
  signedExpires?: number;
  /** Forgotten after this moment. */
  keepUntil: number;
}

/** One multipart upload in progress: its part URLs and how many parts it has. */
interface Session {
  /** The key `generateObjectKey` gave, when this helper created the upload. */
  readonly placeholder?: string;
  /** `undefined` until learned (an upload this helper did not create: resumed after a page reload). */
  partCount: number | undefined;
  learning?: Promise<void>;
  /** Its part URLs; made on first use, once S3's upload id is known. */
  urls?: PartUrlCache<SignedPartUrl>;
  /** Forgotten after this moment (unless signing is in flight). */
  keepUntil: number;
}

/** How many files and uploads a helper remembers (for tests: what it forgets). */
export interface UppyHelperMemory {
  /** Placeholder keys `generateObjectKey` named whose file is remembered. */
  readonly files: number;
  /** Of those, how many hold a signed create/put answer. */
  readonly signedDeclarations: number;
  /** Multipart uploads with their part URLs. */
  readonly uploads: number;
}

const memoryOf = new WeakMap<CitadelUppyOptions, () => UppyHelperMemory>();

/** @internal What the helper behind `options` remembers; for tests. */
export const uppyHelperMemory = (options: CitadelUppyOptions): UppyHelperMemory | undefined =>
  memoryOf.get(options)?.();

/**
 * The `@uppy/aws-s3` options for a Citadel API at `apiUrl`.
 *
 * @example
 * const uppy = new Uppy().use(AwsS3, citadelSignRequest({ apiUrl, getToken: () => auth.accessToken() }));
 * uppy.on('upload-success', (file, res) => console.log('Citadel id', fileIdFromKey(res.body.key)));
 */
export function citadelSignRequest(options: CitadelSignRequestOptions): CitadelUppyOptions {
  const token = options.getToken ?? options.token;
  if (token === undefined) throw new TypeError('citadelSignRequest needs a token or getToken');
  const client = new CitadelClient({
    baseUrl: options.apiUrl,
    token,
    fetch: options.fetch,
    retry: options.retry,
  });
  return citadelUppyOptions(client, options);
}

/**
 * The `@uppy/aws-s3` options for an existing {@link CitadelClient}: `uppy.use(AwsS3, citadelUppyOptions(client))`,
 * or spread them with options of your own (`limit`, `allowedMetaFields`).
 */
export function citadelUppyOptions(
  client: CitadelClient,
  options: CitadelUppyHelperOptions = {},
): CitadelUppyOptions {
  const state = new UppySigner(client, options);
  const helper: CitadelUppyOptions = {
    shouldUseMultipart: (file) => (file.size ?? 0) >= MIN_PART_BYTES,
    getChunkSize: (file) => partSizeFor(file.size),
    generateObjectKey: (file) => state.placeholderFor(file),
    signRequest: (request) => state.signRequest(request),
  };
  memoryOf.set(helper, () => state.memory());
  return helper;
}

/** What one helper remembers between Uppy's calls, and how it answers each of them. */
class UppySigner {
  private readonly batchSize: number;
  private readonly fallbackType: string;
  private readonly now: () => number;
  private counter = 0;
  /** Placeholder key → what to declare: Uppy's create and put requests carry only the key. */
  private readonly placeholders = new Map<string, Placeholder>();
  /** `${key} ${uploadId}` → the upload's part URLs. */
  private readonly sessions = new Map<string, Session>();
  private nextSweep = 0;

  constructor(
    private readonly client: CitadelClient,
    private readonly options: CitadelUppyHelperOptions,
  ) {
    this.batchSize = Math.min(
      MAX_SIGN_BATCH,
      Math.max(1, Math.floor(options.signBatchSize ?? DEFAULT_BATCH)),
    );
    this.fallbackType = options.defaultContentType ?? 'application/octet-stream';
    this.now = options.now ?? Date.now;
  }

  memory(): UppyHelperMemory {
    let signedDeclarations = 0;
    for (const p of this.placeholders.values()) if (p.signed) signedDeclarations++;
    return { files: this.placeholders.size, signedDeclarations, uploads: this.sessions.size };
  }

  /** `generateObjectKey`: a placeholder key, with the file's declaration remembered under it. */
  placeholderFor(file: UppyFileLike): string {
    this.sweep();
    const key = `${PENDING_PREFIX}${++this.counter}-${file.id}`;
    this.placeholders.set(key, {
      declaration: {
        filename: file.name || 'upload',
        size: file.size ?? 0,
        contentType: normalizeMediaType(file.type) ?? this.fallbackType,
      },
      keepUntil: this.retainAfter(0, this.now()),
    });
    return key;
  }

  /** `signRequest`: each request Uppy builds, presigned by the API's signing route. */
  async signRequest(request: UppySigningRequest): Promise<UppyPresigned> {
    this.sweep();
    const { method, key, uploadId, partNumber } = request;
    if (!uploadId) {
      if (method === 'POST') return this.declare('create', key);
      if (method === 'PUT') return this.declare('put', key);
      throw new Error(
        `Citadel does not sign ${method} ${key}: delete a stored file with DELETE /v1/files/{id} instead.`,
      );
    }
    if (method === 'PUT' && partNumber !== undefined) return this.signPart(key, uploadId, partNumber);
    const id = `${key} ${uploadId}`;
    if (method === 'GET') {
      // Uppy lists parts when it resumes after a failure: a URL that failed may be cached, so start afresh.
      this.sessionOf(key, uploadId).urls.clear();
      return answer(await this.sign({ operation: 'list', key, uploadId }));
    }
    if (method === 'POST' || method === 'DELETE') {
      const signed = await this.sign({ operation: method === 'POST' ? 'complete' : 'abort', key, uploadId });
      const placeholder = this.sessions.get(id)?.placeholder;
      if (placeholder !== undefined) this.placeholders.delete(placeholder);
      this.sessions.delete(id);
      return answer(signed);
    }
    throw new Error(`Citadel does not sign ${method} ${key} for upload ${uploadId}.`);
  }

  private sign(body: SignUploadRequestInput): Promise<SignedUploadRequest> {
    return this.client.signUploadRequest(body);
  }

  /** `until` moved to at least `at` plus the retention. */
  private retainAfter(until: number, at: number): number {
    return Math.max(until, at + UPPY_HELPER_RETAIN_MS);
  }

  /** Drops signed answers whose URL expired, and what was not used within the retention. */
  private sweep(): void {
    const t = this.now();
    if (t < this.nextSweep) return;
    this.nextSweep = t + SWEEP_INTERVAL_MS;
    for (const [key, p] of this.placeholders) {
      if (p.signedExpires !== undefined && p.signedExpires <= t) {
        p.signed = undefined;
        p.signedExpires = undefined;
      }
      // A declaration still being signed has no expiry yet: it stays.
      if (p.keepUntil <= t && (p.signed === undefined || p.signedExpires !== undefined))
        this.placeholders.delete(key);
    }
    for (const [id, s] of this.sessions) if (s.keepUntil <= t && !s.urls?.signing) this.sessions.delete(id);
  }

  /** The placeholder Uppy names in `create`/`put`, or an error saying why the helper does not know it. */
  private placeholderOf(operation: 'create' | 'put', key: string): Placeholder {
    const placeholder = this.placeholders.get(key);
    if (placeholder) return placeholder;
    const forgotten =
      key.startsWith(PENDING_PREFIX) && Number.parseInt(key.slice(PENDING_PREFIX.length), 10) <= this.counter;
    const what = operation === 'put' ? 'upload' : 'create an upload for';
    throw new Error(
      forgotten
        ? `Uppy asked to ${what} "${key}", a file this helper forgot: its URLs expired over ${UPPY_HELPER_RETAIN_MS / 60_000} minutes ago. Remove the file and add it again.`
        : `Uppy asked to ${what} "${key}", a key this helper did not name: keep its generateObjectKey.`,
    );
  }

  /** `create` or `put` for a placeholder key: declares the file; the server's key replaces the placeholder. */
  private async declare(operation: 'create' | 'put', key: string): Promise<UppyPresigned> {
    const placeholder = this.placeholderOf(operation, key);
    const { declaration } = placeholder;
    if (declaration.size < 1)
      throw new Error(`${declaration.filename} is empty; Citadel stores no empty files.`);
    if (operation === 'put' && declaration.size >= MIN_PART_BYTES) {
      throw new Error(
        `${declaration.filename} is ${declaration.size} bytes; files of ${MIN_PART_BYTES} bytes and more go multipart: keep this helper's shouldUseMultipart.`,
      );
    }
    placeholder.keepUntil = this.retainAfter(placeholder.keepUntil, this.now());
    const reused = placeholder.signed !== undefined;
    const pending = placeholder.signed ?? this.signDeclaration(operation, key, placeholder);
    const signed = await pending;
    if (reused && Date.parse(signed.expiresAt) - EXPIRY_MARGIN_MS < this.now()) {
      // Signed long ago and never used (a long pause before S3 was reached): declare afresh.
      if (placeholder.signed === pending) {
        placeholder.signed = undefined;
        placeholder.signedExpires = undefined;
      }
      return this.declare(operation, key);
    }
    return answer(signed, signed.key);
  }

  /** Signs a declaration once; Uppy may ask again (after a pause) and gets the same answer until it expires. */
  private signDeclaration(
    operation: 'create' | 'put',
    key: string,
    placeholder: Placeholder,
  ): Promise<SignedUploadRequest> {
    const { declaration } = placeholder;
    const signing = (async () => {
      const signed = await this.sign({ operation, ...declaration });
      const expires = Date.parse(signed.expiresAt);
      placeholder.keepUntil = this.retainAfter(placeholder.keepUntil, expires);
      if (operation === 'create') {
        // Uppy learns S3's upload id only from S3's answer; the session is keyed by it on first use.
        this.sessions.set(`${signed.key} `, {
          placeholder: key,
          partCount: partCountFor(declaration.size, partSizeFor(declaration.size)),
          keepUntil: this.retainAfter(0, expires),
        });
      }
      this.options.onUploadCreated?.({ id: signed.fileId, key: signed.key, filename: declaration.filename });
      return signed;
    })();
    signing.then(
      (signed) => {
        if (placeholder.signed === signing) placeholder.signedExpires = Date.parse(signed.expiresAt);
      },
      () => {
        if (placeholder.signed === signing) placeholder.signed = undefined;
      },
    );
    placeholder.signed = signing;
    return signing;
  }

  /** The session of `key` + `uploadId`; one created for `key` before S3 returned the upload id is adopted. */
  private sessionOf(key: string, uploadId: string) {
    const id = `${key} ${uploadId}`;
    let s = this.sessions.get(id);
    if (!s) {
      const created = this.sessions.get(`${key} `);
      this.sessions.delete(`${key} `);
      s = created ?? { partCount: undefined, keepUntil: 0 };
      this.sessions.set(id, s);
    }
    const session = s;
    session.keepUntil = this.retainAfter(session.keepUntil, this.now());
    session.urls ??= this.partUrls(session, key, uploadId);
    return { session, urls: session.urls };
  }

  /** A session's part URLs, signed in batches: this part and the next ones Uppy will ask for. */
  private partUrls(session: Session, key: string, uploadId: string): PartUrlCache<SignedPartUrl> {
    const { batchSize } = this;
    return new PartUrlCache<SignedPartUrl>({
      sign: async (partNumbers) => {
        const signed = await this.sign({ operation: 'parts', key, uploadId, partNumbers });
        return {
          ...signed,
          parts: signed.parts ?? [{ partNumber: partNumbers[0] as number, url: signed.url }],
        };
      },
      // Uppy sends a file's parts in order: sign this one and the next ones (not yet signed) in one call.
      ahead: (n) => {
        const last = session.partCount === undefined ? n : Math.min(session.partCount, n + batchSize - 1);
        return Array.from({ length: last - n }, (_, i) => n + 1 + i);
      },
      batchSize,
      now: this.now,
      // Just signed: used even if the server's clock says it expires within the margin.
      acceptJustSigned: true,
      onSigned: (_, expires) => {
        session.keepUntil = this.retainAfter(session.keepUntil, expires);
      },
    });
  }

  /** How many parts an upload this helper did not create has (asked once, after signing proved ownership). */
  private learnPartCount(s: Session, key: string): Promise<void> {
    s.learning ??= this.client
      .getUpload(fileIdFromKey(key))
      .then((status) => {
        s.partCount = status.partCount ?? undefined;
      })
      .catch(() => {
        s.learning = undefined; // batches stay single parts until it is known
      });
    return s.learning;
  }

  private async signPart(key: string, uploadId: string, n: number): Promise<UppyPresigned> {
    const { session, urls } = this.sessionOf(key, uploadId);
    const got = await urls.get(n);
    if (session.partCount === undefined) await this.learnPartCount(session, key);
    return { url: got.url, headers: { ...got.headers } };
  }
}

/** Uppy's answer for a signed request: its URL, its headers and, for create/put, the server's key. */
const answer = (signed: SignedUploadRequest, key?: string): UppyPresigned => ({
  url: signed.url,
  headers: { ...signed.headers },
  ...(key ? { key } : {}),
});
