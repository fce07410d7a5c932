/**
 * LOCAL SIMULATOR — `npm run dev` and the tests only. Stands in for GuardDuty Malware Protection for S3
 * against the local S3 server: for each object created under the upload prefix it "scans" the bytes
 * (the EICAR test string is the only malware it knows, as with GuardDuty's own test guidance; like GuardDuty it
 * looks inside archives: ZIP entries, nested ZIPs included, are inflated and scanned too), writes the
 * `GuardDutyMalwareScanStatus` tag as GuardDuty does, and delivers the same `Object Scan Result` event to
 * the scan pipeline, in process. Lambdas never load this module.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { unzipSync } from 'fflate';
import { SCAN_RESULT_DETAIL_TYPE, SCAN_STATUS_TAG, type ScanResultStatus } from '../contract/scan';
import type { ScanResultEvent } from '../lambda/scan/event';

/** The EICAR anti-malware test string (the standard, harmless test file every scanner flags). */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
}

export interface GuardDutySimulatorOptions {
  /** The local S3 server's `events` emitter (`'object-created'`). */
  readonly events: EventEmitter;
  /** A client of the local S3 server. */
  readonly s3: S3Client;
  readonly bucket: string;
  /** @default 'uploads/' */
  readonly prefix?: string;
  /** Receives each scan-result event (the scan pipeline's `processScanResult`). */
  readonly deliver: (event: ScanResultEvent) => Promise<unknown>;
  /** Overrides the verdict for an object (tests force UNSUPPORTED, FAILED, …). @default EICAR detection */
  readonly verdict?: (object: ObjectCreated, bytes: Buffer) => ScanResultStatus | undefined;
  /** Called when delivery fails (the Lambda would retry and then dead-letter). @default log to stderr */
  readonly onError?: (error: unknown, object: ObjectCreated) => void;
}

export interface GuardDutySimulator {
  /** Resolves when every scan started so far has been delivered. */
  idle(): Promise<void>;
  /** Objects scanned so far, with their results. */
  readonly scanned: ReadonlyArray<{ key: string; result: ScanResultStatus }>;
  /** Holds new objects unscanned (as a slow scan would) until `resume()`. */
  pause(): void;
  /** Scans everything held, then scans as objects arrive again. */
  resume(): void;
  stop(): void;
}

/** GuardDuty reads at most this much of an object here; beyond it the local "scan" does not look. */
const SCAN_WINDOW = 64 * 1024 * 1024;

/**
 * How far the simulator opens archives: nested ZIPs to this depth, at most this many entries and inflated bytes
 * in all (a ZIP bomb is not inflated past them). Citadel's own bounds: GuardDuty's exact archive quotas are not
 * modelled. An archive larger than the scan window is read only as bytes (its directory is at its end).
 */
export const ARCHIVE_LIMITS = { depth: 5, entries: 1000, inflatedBytes: 256 * 1024 * 1024 } as const;

const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');

/**
 * Whether the EICAR test string is in `bytes`, or in any entry of the ZIP archive `bytes` is, however deeply
 * nested (within {@link ARCHIVE_LIMITS}). An archive that cannot be read is scanned as plain bytes.
 */
export function containsEicar(bytes: Uint8Array): boolean {
  const budget = { entries: ARCHIVE_LIMITS.entries, bytes: ARCHIVE_LIMITS.inflatedBytes };
  const scan = (data: Uint8Array, depth: number): boolean => {
    if (Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(EICAR)) return true;
    if (depth >= ARCHIVE_LIMITS.depth || !Buffer.from(data.subarray(0, 4)).equals(ZIP_MAGIC)) return false;
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(data, {
        filter: (file) => {
          if (budget.entries <= 0 || file.originalSize > budget.bytes) return false;
          budget.entries--;
          budget.bytes -= file.originalSize;
          return true;
        },
      });
    } catch {
      return false; // not a readable archive: its bytes were scanned above
    }
    return Object.values(entries).some((entry) => scan(entry, depth + 1));
  };
  return scan(bytes, 0);
}

export function startGuardDutySimulator(options: GuardDutySimulatorOptions): GuardDutySimulator {
  const prefix = options.prefix ?? 'uploads/';
  const pending = new Set<Promise<void>>();
  const scanned: Array<{ key: string; result: ScanResultStatus }> = [];
  const onError =
    options.onError ??
    ((error: unknown, object: ObjectCreated) =>
      process.stderr.write(`[guardduty-simulator] delivery for ${object.key} failed: ${String(error)}\n`));

  const scan = async (object: ObjectCreated): Promise<void> => {
    const bytes = await readWindow(options.s3, object.bucket, object.key);
    const result =
      options.verdict?.(object, bytes) ?? (containsEicar(bytes) ? 'THREATS_FOUND' : 'NO_THREATS_FOUND');
    // GuardDuty adds its tag to whatever tags the object has.
    const { TagSet = [] } = await options.s3.send(
      new GetObjectTaggingCommand({ Bucket: object.bucket, Key: object.key }),
    );
    await options.s3.send(
      new PutObjectTaggingCommand({
        Bucket: object.bucket,
        Key: object.key,
        Tagging: {
          TagSet: [
            ...TagSet.filter((t) => t.Key !== SCAN_STATUS_TAG),
            { Key: SCAN_STATUS_TAG, Value: result },
          ],
        },
      }),
    );
    scanned.push({ key: object.key, result });
    await options.deliver({
      id: randomUUID(),
      'detail-type': SCAN_RESULT_DETAIL_TYPE,
      source: 'aws.guardduty',
      detail: {
        scanStatus: result === 'NO_THREATS_FOUND' || result === 'THREATS_FOUND' ? 'COMPLETED' : 'FAILED',
        resourceType: 'S3_OBJECT',
        s3ObjectDetails: { bucketName: object.bucket, objectKey: object.key, eTag: object.etag },
        scanResultDetails: {
          scanResultStatus: result,
          threats: result === 'THREATS_FOUND' ? [{ name: 'EICAR-Test-File (not a virus)' }] : [],
        },
      },
    });
  };

  let held: ObjectCreated[] | undefined;
  const start = (object: ObjectCreated) => {
    const run = scan(object)
      .catch((error) => onError(error, object))
      .finally(() => pending.delete(run));
    pending.add(run);
  };
  const listener = (object: ObjectCreated) => {
    if (object.bucket !== options.bucket || !object.key.startsWith(prefix)) return;
    if (held) held.push(object);
    else start(object);
  };
  options.events.on('object-created', listener);

  return {
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    scanned,
    pause() {
      held ??= [];
    },
    resume() {
      const queued = held ?? [];
      held = undefined;
      for (const object of queued) start(object);
    },
    stop: () => options.events.off('object-created', listener),
  };
}

async function readWindow(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const { Body } = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${SCAN_WINDOW - 1}` }),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
