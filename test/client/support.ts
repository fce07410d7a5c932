/** Helpers shared by the client tests: random files, hashes, and running the CLI as a separate process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

export const MiB = 1024 * 1024;
export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Writes `bytes` random bytes (after an optional `head`) to `file`, 1 MiB at a time. */
export async function randomFile(
  file: string,
  bytes: number,
  head: Buffer = Buffer.alloc(0),
): Promise<string> {
  const handle = await open(file, 'w');
  try {
    await handle.write(head);
    for (let written = head.length; written < bytes; ) {
      const chunk = randomBytes(Math.min(MiB, bytes - written));
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return file;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const sha256OfBuffer = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts `node --import tsx client/cli.ts …args` in a new process. */
export function startCli(args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'client/cli.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const runCli = (args: readonly string[], env: Record<string, string>): Promise<CliRun> =>
  finished(startCli(args, env));

/** Polls `check` every 20 ms until it returns true (or throws after `timeoutMs`). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
