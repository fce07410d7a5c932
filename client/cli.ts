/**
 * `citadel`: the command line client. Run with `npx tsx client/cli.ts …` or `npm run citadel -- …`.
 * Human progress goes to stderr; `--json` prints one JSON document on stdout.
 *
 * Exit codes: 0 ok · 1 usage or configuration · 2 the API refused (problem detail and request id printed)
 * · 3 the scan verdict is not clean (or did not arrive in time) · 4 transfer failed (network, storage)
 * · 130 interrupted (the upload is kept for resuming).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ApiFile, CitadelClient, clientCredentialsToken } from './client';
import {
  CitadelProblemError,
  FileChangedError,
  isAbortError,
  ScanTimeoutError,
  StorageRequestError,
} from './errors';
import { parseByteSize } from './transfer';
import { detectContentType, downloadFile, type UploadEvent, type UploadProgress, uploadFile } from './upload';

const USAGE = `Usage: citadel <command> [options]

Commands:
  upload <file>      Upload a file (resumable: run the same command again after an interruption)
      --type <mime>        declared media type (default: sniffed from the bytes, else application/octet-stream)
      --name <filename>    display name (default: the file's name)
      --concurrency <n>    parts in flight (default 4)
      --no-wait            return once the upload is complete, without waiting for the scan verdict
      --scan-timeout <s>   longest wait for the verdict in seconds (default 900)
      --state-dir <dir>    where resume records live (default ~/.citadel/uploads)
      --no-resume          neither resume nor record this upload
      --sha256             hash the file first and declare its SHA-256 (downloads verify it)
      --limit-rate <size>  bandwidth cap per second, e.g. 20MiB
  status <id>        A file's state (and, while uploading, the parts S3 holds)
  ls                 Your files, newest first
      --limit <n>          page size, 1–100 (default 25)
      --cursor <c>         the nextCursor of a previous page
      --all                every page
  download <id>      Download a clean file
      -o, --output <path>  file or directory (default: the file's name in the current directory)
  abort <id>         Abort an upload in progress
  rm <id>            Delete a file

Every command takes --json (one JSON document on stdout).

Environment:
  CITADEL_API_URL        the API's base URL (required)
  CITADEL_TOKEN          a bearer access token, or, for machine clients:
  CITADEL_CLIENT_ID, CITADEL_CLIENT_SECRET, CITADEL_TOKEN_ENDPOINT   client credentials (token fetched and cached)
  CITADEL_API_KEY        the machine client's API key, sent as x-api-key

Exit codes: 0 ok, 1 usage, 2 API refusal, 3 scan verdict not clean, 4 transfer failed, 130 interrupted.`;

export const EXIT = { ok: 0, usage: 1, refused: 2, notClean: 3, failed: 4, interrupted: 130 } as const;

class UsageError extends Error {}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

const MiB = 1024 * 1024;
export const formatBytes = (n: number): string =>
  n >= 1024 ** 3
    ? `${(n / 1024 ** 3).toFixed(2)} GiB`
    : n >= MiB
      ? `${(n / MiB).toFixed(1)} MiB`
      : n >= 1024
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${n} B`;

const VERDICT: Record<string, string> = {
  clean: 'clean: no threat found and the content is the declared type',
  infected: 'infected: the malware scan found a threat; the file is quarantined',
  rejected: 'rejected: the content is not the declared type; the file is quarantined',
  scan_failed: 'scan failed: the scan could not complete; an operator has been alerted',
  scanning: 'still scanning',
};

function clientFromEnv(env: NodeJS.ProcessEnv): CitadelClient {
  const baseUrl = env.CITADEL_API_URL;
  if (!baseUrl)
    throw new UsageError('Set CITADEL_API_URL to the API base URL, e.g. https://api.example.com.');
  let token: string | (() => Promise<string>);
  if (env.CITADEL_TOKEN) token = env.CITADEL_TOKEN;
  else if (env.CITADEL_CLIENT_ID && env.CITADEL_CLIENT_SECRET && env.CITADEL_TOKEN_ENDPOINT) {
    token = clientCredentialsToken({
      tokenEndpoint: env.CITADEL_TOKEN_ENDPOINT,
      clientId: env.CITADEL_CLIENT_ID,
      clientSecret: env.CITADEL_CLIENT_SECRET,
    });
  } else {
    throw new UsageError(
      'Set CITADEL_TOKEN to an access token (or CITADEL_CLIENT_ID, CITADEL_CLIENT_SECRET and CITADEL_TOKEN_ENDPOINT for a machine client).',
    );
  }
  return new CitadelClient({ baseUrl, token, apiKey: env.CITADEL_API_KEY || undefined });
}

const one = (positionals: string[], what: string): string => {
  if (positionals.length !== 1) throw new UsageError(`Give exactly one ${what}.`);
  return positionals[0] as string;
};

const positiveInt = (text: string | undefined, name: string, max: number): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}.`);
  return n;
};

function progressPrinter(tty: boolean) {
  const started = Date.now();
  let lastAt = 0;
  let lastKey = '';
  let base: number | undefined;
  return (p: UploadProgress) => {
    const now = Date.now();
    base ??= p.bytesUploaded; // bytes S3 already held (resume) do not count towards the rate
    const done = p.partsDone === p.partsTotal;
    if (!tty && now - lastAt < 2000 && !done) return;
    const key = `${((p.bytesUploaded / p.bytesTotal) * 100).toFixed(1).padStart(5)}%  ${formatBytes(p.bytesUploaded)} / ${formatBytes(p.bytesTotal)}  parts ${p.partsDone}/${p.partsTotal}`;
    if (key === lastKey) return;
    lastAt = now;
    lastKey = key;
    const seconds = (now - started) / 1000;
    const line = seconds > 0.5 ? `${key}  ${formatBytes((p.bytesUploaded - base) / seconds)}/s` : key;
    if (tty) process.stderr.write(`\r${line}\x1b[K${done ? '\n' : ''}`);
    else err(line);
  };
}

function describeEvent(e: UploadEvent): string | undefined {
  switch (e.type) {
    case 'hashing':
      return 'hashing the file (SHA-256)…';
    case 'created':
      return `upload ${e.id}: ${e.partCount} part${e.partCount === 1 ? '' : 's'} of ${formatBytes(e.partSize)}`;
    case 'resumed':
      return `resuming upload ${e.id}: S3 already holds ${e.partsHeld} of ${e.partCount} parts`;
    case 'restarted':
      return `starting over: upload ${e.previousId} cannot continue (${e.reason})`;
    case 'part-resigned':
      return `part ${e.partNumber}: URL refused (${e.reason}), signing it again`;
    case 'part-retry':
      return `part ${e.partNumber}: ${e.reason}; retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s`;
    case 'completed':
      return `upload complete: ${e.file.id} is ${e.file.state}`;
    default:
      return undefined;
  }
}

async function upload(client: CitadelClient, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      type: { type: 'string' },
      name: { type: 'string' },
      concurrency: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      'scan-timeout': { type: 'string' },
      'state-dir': { type: 'string' },
      'no-resume': { type: 'boolean', default: false },
      sha256: { type: 'boolean', default: false },
      'limit-rate': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const path = one(positionals, 'file to upload');
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${path}: no such file.`);
  let rate: number | undefined;
  try {
    rate = values['limit-rate'] ? parseByteSize(values['limit-rate']) : undefined;
  } catch (e) {
    throw new UsageError(`--limit-rate: ${(e as Error).message}`);
  }
  const scanTimeout = positiveInt(values['scan-timeout'], 'scan-timeout', 86_400);
  const contentType = values.type ?? (await detectContentType(path));
  if (!values.type) err(`type: ${contentType} (sniffed; set --type to declare another)`);

  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let id: string | undefined;
  try {
    const result = await uploadFile(client, path, {
      contentType,
      filename: values.name,
      concurrency: positiveInt(values.concurrency, 'concurrency', 64),
      stateDir: values['state-dir'],
      resume: !values['no-resume'],
      sha256: values.sha256,
      rateLimitBytesPerSecond: rate,
      waitForScan: !values['no-wait'],
      scanTimeoutMs: scanTimeout === undefined ? undefined : scanTimeout * 1000,
      signal: controller.signal,
      keepOnAbort: true,
      onProgress: progressPrinter(process.stderr.isTTY === true),
      onEvent: (e) => {
        if (e.type === 'created' || e.type === 'resumed') id = e.id;
        const text = describeEvent(e);
        if (text) err(text);
        if (e.type === 'completed' && !values['no-wait']) err('waiting for the malware scan and type check…');
      },
    });
    const clean = result.file.state === 'clean' || (values['no-wait'] && result.file.state === 'scanning');
    if (values.json) out(JSON.stringify(result));
    else out(`${result.id}  ${result.file.state}  ${formatBytes(result.file.size)}  ${result.file.filename}`);
    if (!values['no-wait']) err(`verdict: ${VERDICT[result.file.state] ?? result.file.state}`);
    return clean ? EXIT.ok : EXIT.notClean;
  } catch (error) {
    if (isAbortError(error) && controller.signal.aborted) {
      err(
        `\ninterrupted. The upload is kept: run the same command again to resume${id ? `, or \`citadel abort ${id}\` to discard it` : ''}.`,
      );
      return EXIT.interrupted;
    }
    if (error instanceof ScanTimeoutError) {
      if (values.json)
        out(JSON.stringify({ id: error.fileId, state: error.lastState, error: error.message }));
      err(error.message);
      return EXIT.notClean;
    }
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

const fileLine = (f: ApiFile): string =>
  `${f.id}  ${f.state.padEnd(11)}  ${formatBytes(f.size).padStart(10)}  ${f.createdAt}  ${f.filename}`;

async function status(client: CitadelClient, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const id = one(positionals, 'file id');
  const file = await client.getFile(id);
  let upload: { partSize: number | null; partCount: number | null; partsHeld: number } | undefined;
  if (file.state === 'uploading') {
    const u = await client.getUpload(id);
    upload = { partSize: u.partSize, partCount: u.partCount, partsHeld: u.parts.length };
  }
  if (values.json) out(JSON.stringify({ file, ...(upload ? { upload } : {}) }));
  else {
    out(fileLine(file));
    if (upload) out(`  uploading: S3 holds ${upload.partsHeld} of ${upload.partCount} parts`);
    else if (VERDICT[file.state]) out(`  ${VERDICT[file.state]}`);
  }
  return EXIT.ok;
}

async function list(client: CitadelClient, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean', default: false },
      owner: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new UsageError('ls takes no arguments.');
  const limit = positiveInt(values.limit, 'limit', 100);
  let page: { items: ApiFile[]; nextCursor: string | null };
  if (values.all) {
    const items: ApiFile[] = [];
    for await (const f of client.iterateFiles({ limit: limit ?? 100, owner: values.owner })) items.push(f);
    page = { items, nextCursor: null };
  } else {
    page = await client.listFiles({ limit, cursor: values.cursor, owner: values.owner });
  }
  if (values.json) out(JSON.stringify(page));
  else {
    for (const f of page.items) out(fileLine(f));
    if (page.nextCursor) err(`more: citadel ls --cursor ${page.nextCursor}`);
  }
  return EXIT.ok;
}

async function download(client: CitadelClient, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, json: { type: 'boolean', default: false } },
  });
  const id = one(positionals, 'file id');
  const result = await downloadFile(client, id, resolve(values.output ?? '.'));
  if (values.json) out(JSON.stringify({ id, path: result.path, bytes: result.bytes, sha256: result.sha256 }));
  else out(`${result.path}  ${formatBytes(result.bytes)}  sha256 ${result.sha256}`);
  return EXIT.ok;
}

async function simple(
  args: string[],
  action: (id: string) => Promise<void>,
  done: (id: string) => Record<string, unknown>,
  message: (id: string) => string,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const id = one(positionals, 'file id');
  await action(id);
  if (values.json) out(JSON.stringify(done(id)));
  else out(message(id));
  return EXIT.ok;
}

/** Runs one command; returns the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...args] = argv;
  const json = args.includes('--json');
  try {
    if (command === undefined || ['help', '--help', '-h'].includes(command)) {
      (command === undefined ? err : out)(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (args.includes('--help') || args.includes('-h')) {
      out(USAGE);
      return EXIT.ok;
    }
    const commands: Record<string, (c: CitadelClient) => Promise<number>> = {
      upload: (c) => upload(c, args),
      status: (c) => status(c, args),
      ls: (c) => list(c, args),
      download: (c) => download(c, args),
      abort: (c) =>
        simple(
          args,
          (id) => c.abortUpload(id),
          (id) => ({ id, aborted: true }),
          (id) => `${id} aborted`,
        ),
      rm: (c) =>
        simple(
          args,
          (id) => c.deleteFile(id),
          (id) => ({ id, deleted: true }),
          (id) => `${id} deleted`,
        ),
    };
    const run = commands[command];
    if (!run) throw new UsageError(`Unknown command "${command}".`);
    return await run(clientFromEnv(env));
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`citadel: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (error instanceof CitadelProblemError) {
      err(`citadel: ${error.title} (${error.status}): ${error.detail}`);
      for (const f of error.errors) err(`  ${f.in} ${f.path}: ${f.message}`);
      if (error.requestId) err(`  request id: ${error.requestId}`);
      if (json) out(JSON.stringify({ error: error.problem }));
      return EXIT.refused;
    }
    const message =
      error instanceof StorageRequestError || error instanceof FileChangedError
        ? error.message
        : `${(error as Error).message ?? String(error)}${(error as { cause?: Error }).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`;
    err(`citadel: ${message}`);
    if (json) out(JSON.stringify({ error: { message } }));
    return EXIT.failed;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await main(process.argv.slice(2)));
}
