/**
 * On-disk storage of buckets, objects and multipart uploads.
 *
 * Layout under `dataDir`:
 * - `buckets/<bucket>/bucket.json`: bucket record;
 * - `buckets/<bucket>/objects/<sha256(key)>.json`: object record (attributes plus the list of data segments);
 * - `buckets/<bucket>/data/<uuid>`: object data segments (one for simple objects, one per part for multipart);
 * - `uploads/<uploadId>/upload.json`, `<n>.json`, `<n>-<uuid>.part`: in-progress multipart uploads;
 * - `tmp/`: request bodies being received.
 *
 * Every change becomes visible through a rename (data first, then the record), so a failed request leaves nothing
 * behind. Completing a multipart upload renames the part files into the bucket's data directory: part data is
 * never copied. Superseded data is unlinked once the last reader streaming it has finished. The records are also
 * kept in memory; the disk is re-read when a store is opened on an existing directory.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errors, S3Error } from './errors';
import type { Tag } from './xml';

/** An additional checksum recorded with an object or part. */
export interface StoredChecksum {
  readonly algorithm: string;
  /** Base64 digest. */
  readonly value: string;
}

/** User-controlled attributes stored with an object (and with a multipart upload until it completes). */
export interface ObjectAttributes {
  readonly contentType?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly expires?: string;
  /** `x-amz-meta-*` values, by lower-cased name without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly serverSideEncryption?: string;
  readonly sseKmsKeyId?: string;
  readonly tags: readonly Tag[];
}

/** A data file of an object, streamed in order. */
export interface Segment {
  readonly file: string;
  readonly size: number;
}

/** An object as stored. */
export interface ObjectRecord extends ObjectAttributes {
  readonly key: string;
  readonly size: number;
  /** Quoted ETag, e.g. `"9b2cf535f27731c974343645a3985328"` or `"…-3"`. */
  readonly etag: string;
  /** ISO timestamp. */
  readonly lastModified: string;
  /** Identity of the data (segments); unchanged by attribute-only updates such as tagging. */
  readonly version: string;
  readonly segments: readonly Segment[];
  /** Number of parts, for objects created by CompleteMultipartUpload. */
  readonly partsCount?: number;
  readonly checksum?: StoredChecksum;
}

/** A received part of a multipart upload. */
export interface PartRecord {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: string;
  readonly file: string;
  readonly checksum?: StoredChecksum;
}

/** An in-progress multipart upload. */
export interface UploadRecord {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  readonly initiated: string;
  readonly attributes: ObjectAttributes;
  readonly parts: Map<number, PartRecord>;
}

/** What a completion callback decides: the parts that make up the object, its ETag and size. */
export interface CompletionPlan {
  readonly parts: readonly PartRecord[];
  readonly etag: string;
}

interface BucketState {
  readonly name: string;
  readonly created: string;
  readonly objects: Map<string, ObjectRecord>;
}

type UploadFile = Omit<UploadRecord, 'parts'>;

/**
 * Compares strings by UTF-8 byte order (S3's key order), which differs from UTF-16 order for astral characters.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Map surrogates above U+E000..U+FFFF so code-unit order becomes code-point order.
      if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Serialises async work per key. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Filesystem-backed bucket/object/upload storage. */
export class Store {
  private readonly buckets = new Map<string, BucketState>();
  private readonly uploads = new Map<string, UploadRecord>();
  private readonly keyLock = new KeyedMutex();
  private readonly uploadLock = new KeyedMutex();
  private readonly readers = new Map<string, number>();
  private readonly retired = new Map<string, { bucket: string; segments: readonly Segment[] }>();

  private constructor(
    readonly dataDir: string,
    private readonly now: () => Date,
  ) {}

  /** Opens (creating if needed) a store in `dataDir`, loading what an earlier run left there. */
  static async open(dataDir: string, now: () => Date = () => new Date()): Promise<Store> {
    const store = new Store(dataDir, now);
    await rm(join(dataDir, 'tmp'), { recursive: true, force: true });
    await Promise.all(['buckets', 'uploads', 'tmp'].map((d) => mkdir(join(dataDir, d), { recursive: true })));
    await store.load();
    return store;
  }

  private bucketDir(bucket: string): string {
    return join(this.dataDir, 'buckets', bucket);
  }

  private objectPath(bucket: string, key: string): string {
    return join(this.bucketDir(bucket), 'objects', `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  private uploadDir(uploadId: string): string {
    return join(this.dataDir, 'uploads', uploadId);
  }

  /** Absolute path of an object's data segment. */
  segmentPath(bucket: string, segment: Segment): string {
    return join(this.bucketDir(bucket), 'data', segment.file);
  }

  /** A fresh path under `tmp/` for receiving a request body. */
  tempPath(): string {
    return join(this.dataDir, 'tmp', randomUUID());
  }

  /** Removes a temporary file, ignoring errors. */
  async discard(path: string): Promise<void> {
    await unlinkQuietly(path);
  }

  private async writeJson(path: string, value: unknown): Promise<void> {
    const temp = `${this.tempPath()}.json`;
    await writeFile(temp, JSON.stringify(value));
    try {
      await rename(temp, path);
    } catch (error) {
      await unlinkQuietly(temp);
      throw error;
    }
  }

  private async load(): Promise<void> {
    for (const name of await listDir(join(this.dataDir, 'buckets'))) {
      const dir = this.bucketDir(name);
      const meta = await readJson<{ created: string }>(join(dir, 'bucket.json'));
      const bucket: BucketState = {
        name,
        created: meta?.created ?? this.now().toISOString(),
        objects: new Map(),
      };
      const referenced = new Set<string>();
      for (const file of await listDir(join(dir, 'objects'))) {
        const record = await readJson<ObjectRecord>(join(dir, 'objects', file));
        if (!record) continue;
        bucket.objects.set(record.key, record);
        for (const segment of record.segments) referenced.add(segment.file);
      }
      for (const file of await listDir(join(dir, 'data'))) {
        if (!referenced.has(file)) await unlinkQuietly(join(dir, 'data', file));
      }
      this.buckets.set(name, bucket);
    }
    for (const uploadId of await listDir(join(this.dataDir, 'uploads'))) {
      const dir = this.uploadDir(uploadId);
      const upload = await readJson<UploadFile>(join(dir, 'upload.json'));
      if (!upload || !this.buckets.has(upload.bucket)) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      const parts = new Map<number, PartRecord>();
      const files = await listDir(dir);
      for (const file of files.filter((f) => /^\d+\.json$/.test(f))) {
        const part = await readJson<PartRecord>(join(dir, file));
        if (part) parts.set(part.partNumber, part);
      }
      const used = new Set([...parts.values()].map((p) => p.file));
      for (const file of files.filter((f) => f.endsWith('.part') && !used.has(f)))
        await unlinkQuietly(join(dir, file));
      this.uploads.set(uploadId, { ...upload, parts });
    }
  }

  // ---- buckets -------------------------------------------------------------------------------------------------

  /** Whether a bucket exists. */
  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  /** All buckets, sorted by name. */
  listBuckets(): Array<{ name: string; created: string }> {
    return [...this.buckets.values()]
      .map(({ name, created }) => ({ name, created }))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  /**
   * Creates a bucket.
   * @returns `false` when it already existed.
   */
  async createBucket(name: string): Promise<boolean> {
    if (this.buckets.has(name)) return false;
    const created = this.now().toISOString();
    const dir = this.bucketDir(name);
    await mkdir(join(dir, 'objects'), { recursive: true });
    await mkdir(join(dir, 'data'), { recursive: true });
    await this.writeJson(join(dir, 'bucket.json'), { created });
    if (this.buckets.has(name)) return false;
    this.buckets.set(name, { name, created, objects: new Map() });
    return true;
  }

  /** Deletes an empty bucket (aborting its multipart uploads). */
  async deleteBucket(name: string): Promise<void> {
    const bucket = this.requireBucket(name);
    if (bucket.objects.size > 0) {
      throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', {
        BucketName: name,
      });
    }
    for (const upload of this.listUploads(name)) await this.abortUpload(upload.uploadId);
    this.buckets.delete(name);
    await rm(this.bucketDir(name), { recursive: true, force: true });
  }

  private requireBucket(name: string): BucketState {
    const bucket = this.buckets.get(name);
    if (!bucket) throw errors.noSuchBucket(name);
    return bucket;
  }

  // ---- objects -------------------------------------------------------------------------------------------------

  /** The current record of an object, if any. */
  getObject(bucket: string, key: string): ObjectRecord | undefined {
    return this.requireBucket(bucket).objects.get(key);
  }

  /** All keys of a bucket in S3 (UTF-8 byte) order. */
  sortedKeys(bucket: string): string[] {
    return [...this.requireBucket(bucket).objects.keys()].sort(compareKeys);
  }

  /**
   * Pins an object's data so that it survives overwrite/delete until released.
   * @returns the release function (idempotent).
   */
  acquire(bucket: string, record: ObjectRecord): () => void {
    const id = `${bucket}/${record.version}`;
    this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.readers.get(id) ?? 1) - 1;
      if (left > 0) {
        this.readers.set(id, left);
        return;
      }
      this.readers.delete(id);
      const retired = this.retired.get(id);
      if (retired) {
        this.retired.delete(id);
        void this.unlinkSegments(retired.bucket, retired.segments);
      }
    };
  }

  private async unlinkSegments(bucket: string, segments: readonly Segment[]): Promise<void> {
    await Promise.all(segments.map((s) => unlinkQuietly(this.segmentPath(bucket, s))));
  }

  private retire(bucket: string, record: ObjectRecord): void {
    const id = `${bucket}/${record.version}`;
    if (this.readers.has(id)) this.retired.set(id, { bucket, segments: record.segments });
    else void this.unlinkSegments(bucket, record.segments);
  }

  private lockKey(bucket: string, key: string): string {
    return `${bucket}\n${key}`;
  }

  /** Writes a record and makes it current, retiring the data of the record it replaces. */
  private async commit(bucket: string, record: ObjectRecord): Promise<ObjectRecord> {
    const state = this.requireBucket(bucket);
    await this.writeJson(this.objectPath(bucket, record.key), record);
    const previous = state.objects.get(record.key);
    state.objects.set(record.key, record);
    if (previous && previous.version !== record.version) this.retire(bucket, previous);
    return record;
  }

  /**
   * Stores a received body (a file under `tmp/`) as an object, replacing any previous one atomically.
   * The temporary file is consumed (renamed or removed) in every case.
   */
  async putObject(
    bucket: string,
    key: string,
    tempFile: string,
    fields: ObjectAttributes & { size: number; etag: string; checksum?: StoredChecksum },
  ): Promise<ObjectRecord> {
    return this.keyLock.run(this.lockKey(bucket, key), async () => {
      const segment: Segment = { file: randomUUID(), size: fields.size };
      try {
        this.requireBucket(bucket);
        await rename(tempFile, this.segmentPath(bucket, segment));
      } catch (error) {
        await unlinkQuietly(tempFile);
        throw error;
      }
      const record: ObjectRecord = {
        ...fields,
        key,
        lastModified: this.now().toISOString(),
        version: randomUUID(),
        segments: [segment],
      };
      try {
        return await this.commit(bucket, record);
      } catch (error) {
        await this.unlinkSegments(bucket, record.segments);
        throw error;
      }
    });
  }

  /** Replaces an object's attributes (not its data), e.g. for tagging. */
  async updateObject(
    bucket: string,
    key: string,
    update: (record: ObjectRecord) => ObjectRecord,
  ): Promise<ObjectRecord> {
    return this.keyLock.run(this.lockKey(bucket, key), async () => {
      const current = this.getObject(bucket, key);
      if (!current) throw errors.noSuchKey(key);
      const next = update(current);
      return this.commit(bucket, { ...next, key, version: current.version, segments: current.segments });
    });
  }

  /**
   * Deletes an object.
   * @returns whether it existed.
   */
  async deleteObject(bucket: string, key: string): Promise<boolean> {
    return this.keyLock.run(this.lockKey(bucket, key), async () => {
      const state = this.requireBucket(bucket);
      const current = state.objects.get(key);
      if (!current) return false;
      await unlink(this.objectPath(bucket, key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      state.objects.delete(key);
      this.retire(bucket, current);
      return true;
    });
  }

  /**
   * Copies an object's data without reading it (hard links, falling back to a file copy) and stores it under
   * the destination key with the attributes chosen by `attributes`.
   */
  async copyObject(
    source: { bucket: string; record: ObjectRecord },
    bucket: string,
    key: string,
    attributes: ObjectAttributes,
  ): Promise<ObjectRecord> {
    const release = this.acquire(source.bucket, source.record);
    try {
      return await this.keyLock.run(this.lockKey(bucket, key), async () => {
        this.requireBucket(bucket);
        const segments: Segment[] = [];
        try {
          for (const segment of source.record.segments) {
            const target: Segment = { file: randomUUID(), size: segment.size };
            const from = this.segmentPath(source.bucket, segment);
            const to = this.segmentPath(bucket, target);
            await link(from, to).catch(() => copyFile(from, to));
            segments.push(target);
          }
          return await this.commit(bucket, {
            ...attributes,
            key,
            size: source.record.size,
            etag: source.record.etag,
            partsCount: source.record.partsCount,
            checksum: source.record.checksum,
            lastModified: this.now().toISOString(),
            version: randomUUID(),
            segments,
          });
        } catch (error) {
          await this.unlinkSegments(bucket, segments);
          throw error;
        }
      });
    } finally {
      release();
    }
  }

  // ---- multipart uploads ---------------------------------------------------------------------------------------

  /** Starts a multipart upload. */
  async createUpload(bucket: string, key: string, attributes: ObjectAttributes): Promise<UploadRecord> {
    this.requireBucket(bucket);
    const upload: UploadFile = {
      uploadId: randomBytes(32).toString('base64url'),
      bucket,
      key,
      initiated: this.now().toISOString(),
      attributes,
    };
    const dir = this.uploadDir(upload.uploadId);
    await mkdir(dir, { recursive: true });
    await this.writeJson(join(dir, 'upload.json'), upload);
    const record: UploadRecord = { ...upload, parts: new Map() };
    this.uploads.set(upload.uploadId, record);
    return record;
  }

  /** An in-progress upload, if it exists for that bucket and key. */
  getUpload(uploadId: string, bucket: string, key: string): UploadRecord | undefined {
    const upload = this.uploads.get(uploadId);
    return upload && upload.bucket === bucket && upload.key === key ? upload : undefined;
  }

  /** In-progress uploads (optionally of one bucket), sorted by key then initiation time. */
  listUploads(bucket?: string): UploadRecord[] {
    return [...this.uploads.values()]
      .filter((u) => bucket === undefined || u.bucket === bucket)
      .sort(
        (a, b) =>
          compareKeys(a.key, b.key) ||
          a.initiated.localeCompare(b.initiated) ||
          compareKeys(a.uploadId, b.uploadId),
      );
  }

  /**
   * Stores a received body as a part, replacing an earlier part with the same number.
   * The temporary file is consumed in every case.
   */
  async putPart(
    target: { uploadId: string; bucket: string; key: string },
    partNumber: number,
    tempFile: string,
    fields: { size: number; etag: string; checksum?: StoredChecksum },
  ): Promise<PartRecord> {
    return this.uploadLock.run(target.uploadId, async () => {
      const upload = this.getUpload(target.uploadId, target.bucket, target.key);
      if (!upload) {
        await unlinkQuietly(tempFile);
        throw errors.noSuchUpload(target.uploadId);
      }
      const dir = this.uploadDir(upload.uploadId);
      const part: PartRecord = {
        ...fields,
        partNumber,
        lastModified: this.now().toISOString(),
        file: `${partNumber}-${randomUUID()}.part`,
      };
      try {
        await rename(tempFile, join(dir, part.file));
      } catch (error) {
        await unlinkQuietly(tempFile);
        throw error;
      }
      try {
        await this.writeJson(join(dir, `${partNumber}.json`), part);
      } catch (error) {
        await unlinkQuietly(join(dir, part.file));
        throw error;
      }
      const previous = upload.parts.get(partNumber);
      upload.parts.set(partNumber, part);
      if (previous) await unlinkQuietly(join(dir, previous.file));
      return part;
    });
  }

  /**
   * Completes an upload: `plan` validates the request against the upload (throwing S3 errors) and picks the parts;
   * their files are then moved, not copied, into the bucket and the object record is committed.
   */
  async completeUpload(
    target: { uploadId: string; bucket: string; key: string },
    plan: (upload: UploadRecord) => CompletionPlan,
  ): Promise<ObjectRecord> {
    return this.uploadLock.run(target.uploadId, () =>
      this.keyLock.run(this.lockKey(target.bucket, target.key), async () => {
        const upload = this.getUpload(target.uploadId, target.bucket, target.key);
        if (!upload) throw errors.noSuchUpload(target.uploadId);
        this.requireBucket(upload.bucket);
        const { parts, etag } = plan(upload);
        const dir = this.uploadDir(upload.uploadId);
        const segments: Segment[] = [];
        for (const part of parts) {
          const segment: Segment = { file: randomUUID(), size: part.size };
          await rename(join(dir, part.file), this.segmentPath(upload.bucket, segment));
          segments.push(segment);
        }
        const record = await this.commit(upload.bucket, {
          ...upload.attributes,
          key: upload.key,
          size: segments.reduce((sum, s) => sum + s.size, 0),
          etag,
          partsCount: parts.length,
          lastModified: this.now().toISOString(),
          version: randomUUID(),
          segments,
        });
        this.uploads.delete(upload.uploadId);
        await rm(dir, { recursive: true, force: true });
        return record;
      }),
    );
  }

  /** Aborts an upload, removing every part file. */
  async abortUpload(uploadId: string, target?: { bucket: string; key: string }): Promise<void> {
    await this.uploadLock.run(uploadId, async () => {
      const upload = this.uploads.get(uploadId);
      if (!upload || (target && (upload.bucket !== target.bucket || upload.key !== target.key))) {
        throw errors.noSuchUpload(uploadId);
      }
      this.uploads.delete(uploadId);
      await rm(this.uploadDir(uploadId), { recursive: true, force: true });
    });
  }
}
