/**
 * Errors the client throws. Switch on the class and, for API refusals, on `problem.type` (a stable URN);
 * never on `title` or `detail`, which are written for people.
 */
import type { FieldError, Problem } from '../contract/problems';

/** The API refused the request: carries its RFC 9457 problem document. */
export class CitadelProblemError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** The request id: quote it to support and find the request in the logs. */
  readonly instance: string;
  /** Same as `instance`, or the `x-request-id` header when the body had none. */
  readonly requestId: string | undefined;
  readonly errors: readonly FieldError[];
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  readonly retryAfterSeconds: number | undefined;
  readonly problem: Problem;

  constructor(problem: Problem, init: { requestId?: string; retryAfterSeconds?: number } = {}) {
    super(`${problem.title}: ${problem.detail}`);
    this.name = 'CitadelProblemError';
    this.problem = problem;
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.instance = problem.instance;
    this.requestId = problem.instance || init.requestId;
    this.errors = problem.errors ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** The API answered with a success status but a body the contract does not allow (a version mismatch). */
export class CitadelResponseError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly requestId: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CitadelResponseError';
  }
}

/** S3 refused a presigned request (a part PUT or a download GET). */
export class StorageRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** S3's error code, e.g. `SignatureDoesNotMatch`, `AccessDenied`, `NoSuchUpload`. */
    readonly code: string | undefined,
    /** S3's own message, e.g. `Request has expired`. */
    readonly s3Message: string | undefined,
    readonly s3RequestId: string | undefined,
  ) {
    super(message);
    this.name = 'StorageRequestError';
  }
}

/** The file changed on disk while it was being uploaded: what is stored would not be what was declared. */
export class FileChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileChangedError';
  }
}

/** The scan verdict did not arrive in time; the file is still `scanning` (or the last state seen). */
export class ScanTimeoutError extends Error {
  constructor(
    readonly fileId: string,
    readonly lastState: string,
    readonly waitedMs: number,
  ) {
    super(
      `No scan verdict for ${fileId} after ${Math.round(waitedMs / 1000)} s (still ${lastState}); check again later with GET /v1/files/${fileId}.`,
    );
    this.name = 'ScanTimeoutError';
  }
}

/** A download cannot be written where it was asked to go; nothing was downloaded or changed. */
export class DownloadTargetError extends Error {
  constructor(
    readonly path: string,
    /** `exists`: the file is there and overwriting was not asked for; `no-directory`: its directory is missing. */
    readonly reason: 'exists' | 'no-directory',
  ) {
    super(
      reason === 'exists'
        ? `${path} already exists; choose another name, or overwrite it on purpose (the CLI's --force).`
        : `cannot write ${path}: the directory ${dirnameOf(path)} does not exist.`,
    );
    this.name = 'DownloadTargetError';
  }
}

/** The directory part of a path, without Node's `path` (this module is browser-safe). */
const dirnameOf = (path: string): string => path.slice(0, Math.max(1, path.lastIndexOf('/'))) || '/';

/** Internal: the server (or S3) no longer knows the upload; the uploader starts over. */
export class UploadGoneError extends Error {
  constructor(
    readonly uploadFileId: string,
    readonly reason: string,
  ) {
    super(`Upload ${uploadFileId} is gone: ${reason}`);
    this.name = 'UploadGoneError';
  }
}

/** An AbortError as `fetch` and Node streams raise it. */
export const isAbortError = (e: unknown): boolean =>
  (e as { name?: string } | undefined)?.name === 'AbortError';
