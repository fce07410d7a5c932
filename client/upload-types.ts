/** The uploader's public types, and the explicit state its steps share (`Session`, `UploadControl`). */
import type { ApiFile } from './client';
import type { PauseGate } from './sources';
import type { ProgressReporter } from './upload-progress';

export interface UploadProgress {
  /** Bytes S3 holds: `bytesHeld` and what this run sent since (less a failed attempt's, taken back). */
  readonly bytesUploaded: number;
  readonly bytesTotal: number;
  readonly partsDone: number;
  readonly partsTotal: number;
  /** Parts S3 already held when a resumed upload started. */
  readonly partsSkipped: number;
  /**
   * Bytes of those parts: counted in `bytesUploaded` from the first report on, but not sent by this run
   * (leave them out of a transfer rate). 0 unless resumed.
   */
  readonly bytesHeld: number;
}

/** What the uploader is doing, for logs and UIs. */
export type UploadEvent =
  | { readonly type: 'hashing'; readonly path: string }
  | {
      readonly type: 'created';
      readonly id: string;
      readonly partSize: number;
      readonly partCount: number;
      /** The declared media type: the `contentType` option, else the one the source's bytes showed. */
      readonly contentType: string;
    }
  | {
      readonly type: 'resumed';
      readonly id: string;
      readonly partsHeld: number;
      readonly partCount: number;
    }
  | { readonly type: 'restarted'; readonly previousId: string; readonly reason: string }
  | { readonly type: 'signed'; readonly id: string; readonly partNumbers: readonly number[] }
  | {
      readonly type: 'part-uploaded';
      readonly partNumber: number;
      readonly bytes: number;
      readonly etag: string;
    }
  | {
      readonly type: 'part-retry';
      readonly partNumber: number;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | { readonly type: 'part-resigned'; readonly partNumber: number; readonly reason: string }
  | { readonly type: 'completed'; readonly file: ApiFile }
  | { readonly type: 'aborted'; readonly id: string; readonly kept: boolean }
  | { readonly type: 'scan-state'; readonly id: string; readonly state: string }
  /** `pause()` was called: no new part starts; `partsInFlight` parts still finish. */
  | { readonly type: 'paused'; readonly partsInFlight: number }
  /** `resume()` was called after `pause()` (`resumed` is taken: it means an earlier upload continued). */
  | { readonly type: 'unpaused' };

export interface UploadFileOptions {
  /** Display name sent to the API. @default the file's base name (a File's name; `upload` otherwise) */
  readonly filename?: string;
  /**
   * Declared media type. @default a Blob's own type if valid, else sniffed from the first bytes (file-type);
   * streams are not read ahead: application/octet-stream
   */
  readonly contentType?: string;
  /** Parts in flight at once; a stream source holds one part-sized buffer per part in flight. @default 4 */
  readonly concurrency?: number;
  /**
   * `true`: hash the file or Blob first (one streaming pass) and declare its SHA-256; a stream cannot be read
   * twice, so `true` is a TypeError there. Or give the hex digest: it is declared (the scan checks it), and a
   * stream's bytes are also hashed as they are read, so a mismatch fails the upload before it completes.
   */
  readonly sha256?: boolean | string;
  /** Stream sources (required there): the exact number of bytes. Others: checked against the source's size. */
  readonly size?: number;
  /**
   * Blob sources: what identifies these bytes for resuming in another process (with the Blob's size and a
   * File's `lastModified`). Without it (and without a File's name) a Blob upload is not recorded for resuming.
   * A Blob that is not a File (e.g. `fs.openAsBlob`) has no `lastModified`, so key and size could not tell
   * changed bytes apart: it is recorded only with a `resumeKey` and `sha256` (`true` or the digest), and a
   * resumed upload checks the SHA-256 (hashing the Blob again for `true`) before reusing any part.
   * @default a File's name
   */
  readonly resumeKey?: string;
  /** Where resume records live. @default ~/.citadel/uploads */
  readonly stateDir?: string;
  /**
   * Resume an interrupted upload of the same unchanged file (or Blob with a resume key), and record this one.
   * Streams are never recorded: they cannot be read again. An upload recorded with another `filename`,
   * `contentType` or `sha256` than the ones given now is not resumed: it is aborted and the upload starts
   * over (a `restarted` event says why). @default true
   */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /**
   * On abort, keep the upload (and its resume record) instead of deleting it, if it is recorded for resuming
   * (not a stream, not `resume: false`, not a Blob without a resume identity); otherwise nothing could resume
   * it and it is deleted. An upload that fails for another reason is kept only when recorded, and never
   * when the source changed (FileChangedError). The `aborted` event says which. @default false
   */
  readonly keepOnAbort?: boolean;
  readonly onProgress?: (progress: UploadProgress) => void;
  readonly onEvent?: (event: UploadEvent) => void;
  /** After completing, poll until the scan verdict (not `scanning`). @default false */
  readonly waitForScan?: boolean;
  /** Longest wait for the verdict. @default 15 minutes */
  readonly scanTimeoutMs?: number;
  /** Retries of one part after network errors, throttling or 5xx. @default 5 */
  readonly partRetries?: number;
  /** Part URLs asked for per call (signed ahead of use). @default enough for ~1 GiB, at most 500 */
  readonly signBatchSize?: number;
  /** Overall bandwidth cap in bytes per second. @default unlimited */
  readonly rateLimitBytesPerSecond?: number;
  /**
   * A part attempt with no byte moving for this long fails (and is retried). Time the bandwidth cap holds
   * bytes back does not count. @default 120000
   */
  readonly idleTimeoutMs?: number;
}

export interface UploadFileResult {
  readonly file: ApiFile;
  readonly id: string;
  /** The upload continued one an earlier process started. */
  readonly resumed: boolean;
  /** Times the uploader started over (a stale resume record included) because the upload was gone. */
  readonly restarts: number;
  readonly partsUploaded: readonly number[];
  readonly partsSkipped: readonly number[];
  readonly bytesSent: number;
  readonly seconds: number;
}

/** One multipart upload being sent: the explicit state every step of the uploader works on. */
export interface Session {
  readonly id: string;
  readonly partSize: number;
  readonly partCount: number;
  /** Part number → ETag of parts S3 holds with the right size. */
  readonly held: Map<number, string>;
  /** Byte and part counts of this upload, from what S3 held when it started (resumed) on. */
  readonly progress: ProgressReporter;
}

/** How the handle steers a running upload: its pause gate, its abort signal, and the count of parts in flight. */
export interface UploadControl {
  readonly gate: PauseGate;
  /** The caller's signal and the handle's `abort()`, combined. */
  readonly signal: AbortSignal;
  /** A part starts sending (again, after a retry's wait). */
  readonly partStarted: () => void;
  /** A part stops sending: done, failed, or waiting to retry. */
  readonly partSettled: () => void;
}
