/** Byte and part progress of one upload session, reported at most every 100 ms (and on every part). */
import type { UploadProgress } from './upload-types';

export type ProgressReporter = ReturnType<typeof progressReporter>;

/**
 * Aggregates byte progress across parts and reports at most every 100 ms (and on every part), from the
 * parts S3 already held (`partsSkipped`, `bytesHeld`) on.
 */
export function progressReporter(
  onProgress: ((p: UploadProgress) => void) | undefined,
  bytesTotal: number,
  partsTotal: number,
  partsSkipped: number,
  bytesHeld: number,
  onSent: (bytes: number) => void,
) {
  let bytes = bytesHeld;
  let partsDone = partsSkipped;
  let last = 0;
  const report = (force: boolean) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    onProgress({ bytesUploaded: bytes, bytesTotal, partsDone, partsTotal, partsSkipped, bytesHeld });
  };
  return {
    /** `delta` counts towards progress (negative when a failed attempt is rolled back); `sent` went out. */
    add(delta: number, sent = 0) {
      bytes += delta;
      if (sent) onSent(sent);
      report(false);
    },
    partDone() {
      partsDone++;
      report(true);
    },
    /** A part counted as done must be sent again (S3 lacks it): its bytes are taken back. */
    partUndone(partBytes: number) {
      partsDone--;
      bytes -= partBytes;
    },
    flush: () => report(true),
  };
}
