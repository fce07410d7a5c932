/**
 * Resume records: one small JSON file per upload in progress, keyed by API + absolute path + size + mtime,
 * so a new process uploading the same unchanged file finds the upload to continue. Written atomically
 * (temporary file + rename); they hold ids only, never a token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `~/.citadel/uploads`. */
export const defaultStateDir = (): string => join(homedir(), '.citadel', 'uploads');

export interface FileIdentity {
  readonly baseUrl: string;
  /** Absolute, symlink-resolved path. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface ResumeRecord extends FileIdentity {
  readonly version: 1;
  /** The file id every upload call takes. */
  readonly id: string;
  readonly uploadId: string;
  readonly key: string;
  readonly partSize: number;
  readonly partCount: number;
  readonly filename: string;
  readonly contentType: string;
  readonly sha256?: string;
  readonly createdAt: string;
  /** The bucket lifecycle aborts the multipart upload after this moment. */
  readonly expiresAt: string;
}

export class ResumeStore {
  constructor(readonly dir: string = defaultStateDir()) {}

  /** The record's file name for a file identity. */
  pathFor(identity: FileIdentity): string {
    const key = createHash('sha256')
      .update([identity.baseUrl, identity.path, identity.size, identity.mtimeMs].join('\0'))
      .digest('hex')
      .slice(0, 40);
    return join(this.dir, `${key}.json`);
  }

  /** The record for this exact file (same API, path, size and mtime), if one is there and readable. */
  async load(identity: FileIdentity): Promise<ResumeRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathFor(identity), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const record = JSON.parse(text) as ResumeRecord;
      const same =
        record.version === 1 &&
        record.baseUrl === identity.baseUrl &&
        record.path === identity.path &&
        record.size === identity.size &&
        record.mtimeMs === identity.mtimeMs &&
        typeof record.id === 'string';
      return same ? record : undefined;
    } catch {
      return undefined; // a torn or foreign file: ignore it, it is replaced on save
    }
  }

  async save(record: ResumeRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.pathFor(record);
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, target);
  }

  async remove(identity: FileIdentity): Promise<void> {
    await rm(this.pathFor(identity), { force: true });
  }
}
