/**
 * `citadel`: the command line client. Run with `npx tsx client/cli.ts …` or `npm run citadel -- …`.
 * The API URL and token come from `--api` and `--token` (`--token env:NAME` reads `$NAME`), else from the
 * environment. Human progress goes to stderr; `--json` prints one JSON document on stdout.
 *
 * Exit codes: 0 ok · 1 usage or configuration · 2 the API refused (problem detail and request id printed)
 * · 3 the scan verdict is not clean (or did not arrive in time) · 4 transfer failed (network, storage)
 * · 130 interrupted (an upload is kept for resuming, unless --no-resume; a download leaves nothing behind).
 */
import { fstat, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ApiFile, CitadelClient, clientCredentialsToken } from './client';
import {
  CitadelProblemError,
  DownloadTargetError,
  FileChangedError,
  isAbortError,
  ScanTimeoutError,
  StorageRequestError,
} from './errors';
import { parseByteSize } from './transfer';
import {
  downloadFile,
  type UploadEvent,
  type UploadFileResult,
  type UploadProgress,
  type UploadSource,
  uploadFile,
} from './upload';

const USAGE = `Usage: citadel <command> [options]

Commands:
  upload <file>      Upload a file (resumable: run the same command again after an interruption)
  upload -           Upload stdin (not resumable); a pipe needs --size
      --type <mime>        declared media type (default: sniffed from the bytes, else application/octet-stream;
                           stdin: application/octet-stream). The stage accepts only its listed types
      --name <filename>    display name, at most 255 characters (default: the file's name; stdin: "stdin")
      --size <bytes>       stdin only: its exact size, e.g. 1048576 or 3GiB
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
      --force              replace a file already there (without it, an existing file is left alone, exit 1)
  abort <id>         Abort an upload in progress
  rm <id>            Delete a file

Every command takes (before or after the command name):
  --api <url>          the API's base URL, e.g. https://api.example.com (default: $CITADEL_API_URL)
  --token <token>      a bearer access token (default: $CITADEL_TOKEN, else client credentials)
  --token env:NAME     read the token from the environment variable NAME: it stays out of shell
                       history and the process list, e.g. --token env:MY_CITADEL_TOKEN
  --json               one JSON document on stdout
Flags win over the environment.

Upload progress goes to stderr: a bar with bytes, rate (last 5 s) and ETA on a terminal; elsewhere
(CI, logs) one line every 2 s and one at the end.

Environment:
  CITADEL_API_URL        the API's base URL (unless --api is given)
  CITADEL_TOKEN          a bearer access token (unless --token is given), or, for machine clients:
  CITADEL_CLIENT_ID, CITADEL_CLIENT_SECRET, CITADEL_TOKEN_ENDPOINT   client credentials (token fetched and cached)
  CITADEL_API_KEY        the machine client's API key, sent as x-api-key

Exit codes: 0 ok, 1 usage, configuration or input (a missing, empty or existing file), 2 API refusal,
3 scan verdict not clean, 4 transfer failed, 130 interrupted (with --json, a JSON document says what was kept).

From npm, run it as \`npm run -s citadel -- …\`: without -s, npm prints its own header on stdout.`;

export const EXIT = { ok: 0, usage: 1, refused: 2, notClean: 3, failed: 4, interrupted: 130 } as const;

class UsageError extends Error {}
/** The API URL or the token is missing or unusable: the message says which and how to give it. */
class ConfigError extends UsageError {}
/** A file to read or write is not usable (missing, a directory, empty, already there): the message says why. */
class InputError extends UsageError {}

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
  scan_failed:
    'scan failed: the scan could not complete; the file stays unreadable until an administrator reviews it',
  scanning: 'still scanning',
};

/** The options every command takes, before or after the command name. */
const GLOBAL_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

interface GlobalFlags {
  readonly api?: string;
  readonly token?: string;
}

/** Checks an API base URL: http(s), a host, no query or fragment (paths are appended to it); drops a trailing `/v1`. */
function apiUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      `${source}: "${text}" is not a URL; give the API's base URL, e.g. https://api.example.com.`,
    );
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname)
    throw new ConfigError(
      `${source}: "${text}" is not an http(s) URL; give the API's base URL, e.g. https://api.example.com.`,
    );
  if (url.search || url.hash)
    throw new ConfigError(`${source}: "${text}" has a query or fragment; give only the API's base URL.`);
  // Every route starts with /v1: a base URL that already ends with it (copied from a route) means the API above.
  return text.replace(/\/+$/, '').replace(/\/v1$/, '');
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `--token env:NAME` reads NAME from the environment; anything else is the token itself. */
function tokenFlag(value: string, env: NodeJS.ProcessEnv): string {
  if (!value.startsWith('env:')) {
    if (!value) throw new ConfigError('--token is empty; give a token, or env:NAME to read it from $NAME.');
    return value;
  }
  const name = value.slice('env:'.length);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new ConfigError(`--token ${value}: "${name}" is not an environment variable name.`);
  const token = env[name];
  if (!token)
    throw new ConfigError(`--token ${value}: the environment variable ${name} is not set (or is empty).`);
  return token;
}

/** The client for one run: flags win over the environment. */
function connect(flags: GlobalFlags, env: NodeJS.ProcessEnv): CitadelClient {
  let baseUrl: string;
  if (flags.api !== undefined) baseUrl = apiUrl(flags.api, '--api');
  else if (env.CITADEL_API_URL) baseUrl = apiUrl(env.CITADEL_API_URL, 'CITADEL_API_URL');
  else
    throw new ConfigError(
      'No API URL: give --api <url> or set CITADEL_API_URL, e.g. https://api.example.com.',
    );
  let token: string | (() => Promise<string>);
  if (flags.token !== undefined) token = tokenFlag(flags.token, env);
  else if (env.CITADEL_TOKEN) token = env.CITADEL_TOKEN;
  else if (env.CITADEL_CLIENT_ID && env.CITADEL_CLIENT_SECRET && env.CITADEL_TOKEN_ENDPOINT) {
    const tokenEndpoint = env.CITADEL_TOKEN_ENDPOINT;
    const fetchToken = clientCredentialsToken({
      tokenEndpoint,
      clientId: env.CITADEL_CLIENT_ID,
      clientSecret: env.CITADEL_CLIENT_SECRET,
    });
    // Name the token endpoint when it cannot be reached, so the failure is not blamed on the API.
    token = () =>
      fetchToken().catch((error: unknown) => {
        if (isFetchFailure(error))
          throw new Error(`cannot reach the token endpoint ${tokenEndpoint} (${causeMessage(error)})`);
        throw error;
      });
  } else {
    throw new ConfigError(
      'No token: give --token <token> (or --token env:NAME), or set CITADEL_TOKEN (or CITADEL_CLIENT_ID, CITADEL_CLIENT_SECRET and CITADEL_TOKEN_ENDPOINT for a machine client).',
    );
  }
  const { protocol, hostname } = new URL(baseUrl);
  if (protocol === 'http:' && !LOOPBACK.has(hostname))
    err(`warning: ${baseUrl} is plain http: the token crosses the network unencrypted.`);
  return new CitadelClient({ baseUrl, token, apiKey: env.CITADEL_API_KEY || undefined });
}

/** `fetch` could not reach the server at all (DNS, refused, reset): the API, or the token endpoint. */
const isFetchFailure = (error: unknown): error is TypeError =>
  error instanceof TypeError && error.message === 'fetch failed';

const causeMessage = (error: Error): string =>
  (error.cause as Error | undefined)?.message ||
  (error.cause as { code?: string } | undefined)?.code ||
  error.message;

/**
 * Splits `argv` into the command and its arguments. Global options may come first (`citadel --api URL ls`);
 * they are handed on to the command, which parses them with its own options.
 */
function splitCommand(argv: readonly string[]): { command: string | undefined; args: string[] } {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--api' || a === '--token') {
      leading.push(a, ...argv.slice(i + 1, i + 2));
      i++;
    } else if (a.startsWith('--api=') || a.startsWith('--token=') || a === '--json') leading.push(a);
    else break;
  }
  return { command: argv[i], args: [...leading, ...argv.slice(i + 1)] };
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

/** What one progress line shows. */
export interface ProgressView {
  /** Bytes S3 holds, including those it already held when a resumed upload started. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** The recent transfer rate in bytes per second; 0 while unknown. */
  readonly rateBps: number;
}

/** Seconds as `m:ss` or `h:mm:ss`; `>99h` beyond that, `--:--` when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.ceil(seconds);
  if (s >= 100 * 3600) return '>99h';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const formatRate = (bps: number): string =>
  bps > 0 && Number.isFinite(bps) ? `${formatBytes(bps < 1024 ? Math.round(bps) : bps)}/s` : '-- B/s';

/** The fields of a progress line; their widths depend on the total only, so columns never jump about. */
function progressFields(v: ProgressView) {
  const total = Math.max(0, v.bytesTotal);
  const done = Math.min(total, Math.max(0, v.bytesDone));
  const permille = total === 0 ? 1000 : Math.min(1000, Math.floor((done * 1000) / total));
  const rate = v.rateBps > 0 && Number.isFinite(v.rateBps) ? v.rateBps : 0;
  const totalText = formatBytes(total);
  return {
    fraction: total === 0 ? 1 : done / total,
    percent: `${(permille / 10).toFixed(1)}%`,
    done: formatBytes(done),
    total: totalText,
    /** Every amount up to the total fits: KiB and MiB amounts take up to 10 characters ("1023.9 KiB"). */
    doneWidth: Math.max(10, totalText.length),
    rate: formatRate(rate),
    eta: rate > 0 ? formatEta((total - done) / rate) : '--:--',
  };
}

const PERCENT_WIDTH = 6; // "100.0%"
const RATE_WIDTH = 12; // "1023.9 MiB/s"
const ETA_WIDTH = 8; // "99:59:59"
const MIN_BAR = 10;
const MAX_BAR = 60;

/**
 * One progress line at most `width` characters wide, e.g.
 * `[#########----------]   48.2%    1.45 GiB / 3.00 GiB   212.4 MiB/s  ETA 0:07`.
 * The bar takes the room the text leaves (10 to 60 cells) and is dropped when there is too little; the
 * layout depends on `width` and the total only, so the bar's fill only grows as bytes do.
 */
export function renderProgress(v: ProgressView & { readonly width: number }): string {
  const width = Math.max(0, Math.floor(v.width));
  const f = progressFields(v);
  const text = `${f.percent.padStart(PERCENT_WIDTH)}  ${f.done.padStart(f.doneWidth)} / ${f.total}  ${f.rate.padStart(RATE_WIDTH)}  ETA ${f.eta}`;
  const room = PERCENT_WIDTH + 2 + f.doneWidth + 3 + f.total.length + 2 + RATE_WIDTH + 2 + 4 + ETA_WIDTH;
  const barWidth = Math.min(MAX_BAR, width - room - 4); // "[", "]" and two spaces
  let line: string;
  if (barWidth >= MIN_BAR) {
    const fill = Math.min(barWidth, Math.floor(barWidth * f.fraction));
    line = `[${'#'.repeat(fill)}${'-'.repeat(barWidth - fill)}]  ${text}`;
  } else if (room <= width) line = text;
  else line = `${f.percent.padStart(PERCENT_WIDTH)}  ETA ${f.eta}`;
  return line.slice(0, width).trimEnd();
}

/** The plain progress line for logs (no bar, no padding), e.g. `48.2%  1.45 GiB / 3.00 GiB  parts 12/24  212.4 MiB/s  ETA 0:07`. */
export function renderProgressLine(
  v: ProgressView & { readonly partsDone?: number; readonly partsTotal?: number },
): string {
  const f = progressFields(v);
  const parts = v.partsTotal === undefined ? '' : `  parts ${v.partsDone ?? 0}/${v.partsTotal}`;
  return `${f.percent}  ${f.done} / ${f.total}${parts}  ${f.rate}  ETA ${f.eta}`;
}

/**
 * A moving transfer rate: bytes per second over the last `windowMs`. Reports 0 until samples span
 * `minSpanMs`, so the first chunk's burst does not promise a wild ETA; falls towards 0 when bytes stop coming.
 */
export class RateMeter {
  private samples: Array<{ readonly t: number; readonly bytes: number }> = [];
  /** The first sample since the last reset, for the average. */
  private start: { readonly t: number; readonly bytes: number } | undefined;

  constructor(
    private readonly windowMs = 5000,
    private readonly minSpanMs = 1000,
  ) {}

  reset(): void {
    this.samples = [];
    this.start = undefined;
  }

  /** `bytes` is a running total (it may fall back when a failed part's bytes are taken back). */
  add(bytes: number, t: number): void {
    this.samples.push({ t, bytes });
    this.start ??= { t, bytes };
    // Keep one sample at or before the window's start, as its anchor.
    while (this.samples.length > 2 && (this.samples[1]?.t ?? t) <= t - this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window that ends at `now`. */
  rate(now: number): number {
    const last = this.samples.at(-1);
    const first = this.samples[0];
    if (!first || !last || !this.start || last.t - this.start.t < this.minSpanMs) return 0;
    let anchor = first;
    for (const s of this.samples) if (s.t <= now - this.windowMs) anchor = s;
    const span = Math.max(now, last.t) - anchor.t;
    return span > 0 ? Math.max(0, ((last.bytes - anchor.bytes) * 1000) / span) : 0;
  }

  /** Bytes per second over everything measured since the last reset. */
  average(): number {
    const last = this.samples.at(-1);
    const first = this.start;
    if (!first || !last || last.t <= first.t) return 0;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.t - first.t));
  }
}

export interface ProgressPrinterOptions {
  /** A terminal: redraw one bar in place. Otherwise print a plain line every `intervalMs` and at the end. */
  readonly tty: boolean;
  readonly write: (text: string) => void;
  /** The terminal's width. @default 80 */
  readonly columns?: () => number | undefined;
  readonly now?: () => number;
  /** @default 2000 */
  readonly intervalMs?: number;
}

/**
 * Upload progress for people. Bytes S3 already held when a resumed upload started (`bytesHeld`) count as
 * done but not towards the rate: the rate only measures what this run sends.
 */
export function createProgressPrinter(options: ProgressPrinterOptions) {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 2000;
  const meter = new RateMeter();
  let last: UploadProgress | undefined;
  let finished = false;
  let drawn = ''; // the bar on screen, without a newline after it
  let printedAt: number | undefined;

  const view = (p: UploadProgress, rateBps: number) => ({
    bytesDone: p.bytesUploaded,
    bytesTotal: p.bytesTotal,
    rateBps,
  });
  const draw = (line: string) => {
    if (line === drawn) return;
    options.write(`\r${line}\x1b[K`);
    drawn = line;
  };
  const render = (at: number) => {
    if (!last || finished) return;
    const done = last.partsDone === last.partsTotal && last.bytesUploaded >= last.bytesTotal;
    const rate = done ? meter.average() : meter.rate(at);
    if (options.tty) {
      draw(renderProgress({ ...view(last, rate), width: (options.columns?.() || 80) - 1 }));
      if (done) {
        options.write('\n');
        drawn = '';
      }
    } else if (done || printedAt === undefined || at - printedAt >= intervalMs) {
      options.write(
        `${renderProgressLine({ ...view(last, rate), partsDone: last.partsDone, partsTotal: last.partsTotal })}\n`,
      );
      printedAt = at;
    }
    if (done) finished = true;
  };

  return {
    /** A new upload (created, resumed or restarted): start over. */
    reset(): void {
      meter.reset();
      last = undefined;
      finished = false;
      printedAt = undefined;
    },
    progress(p: UploadProgress): void {
      const at = now();
      meter.add(p.bytesUploaded - p.bytesHeld, at);
      last = p;
      render(at);
    },
    /** Redraws (on a timer), so the rate and ETA move even while no bytes arrive. */
    tick(): void {
      if (options.tty) render(now());
    },
    /** A message between progress lines: on a terminal it goes above the bar, which is drawn again. */
    log(text: string): void {
      if (!drawn) {
        options.write(`${text}\n`);
        return;
      }
      options.write(`\r\x1b[K${text}\n`);
      const bar = drawn;
      drawn = '';
      draw(bar);
    },
    /** Ends the bar's line, if one is drawn. */
    end(): void {
      if (drawn) options.write('\n');
      drawn = '';
    },
  };
}

export type ProgressPrinter = ReturnType<typeof createProgressPrinter>;

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

type Connect = (flags: GlobalFlags) => CitadelClient;

const UPLOAD_OPTIONS = {
  ...GLOBAL_OPTIONS,
  type: { type: 'string' },
  name: { type: 'string' },
  size: { type: 'string' },
  concurrency: { type: 'string' },
  'no-wait': { type: 'boolean', default: false },
  'scan-timeout': { type: 'string' },
  'state-dir': { type: 'string' },
  'no-resume': { type: 'boolean', default: false },
  sha256: { type: 'boolean', default: false },
  'limit-rate': { type: 'string' },
} as const;

type UploadFlags = ReturnType<
  typeof parseArgs<{ options: typeof UPLOAD_OPTIONS; allowPositionals: true }>
>['values'];

/** What `upload` sends: a file path, or stdin (`-`) as a stream of a known size. */
interface UploadInput {
  readonly source: UploadSource;
  /** Streams only: the byte count the API declares first. */
  readonly size?: number;
  /** Streams only: the display name (a file's is its own name). */
  readonly filename?: string;
}

/**
 * The upload's input, or an {@link InputError} that says what is wrong with it: a missing path, a directory,
 * something that is not a regular file (a pipe is read with `-`), an empty file, stdin without a size.
 */
async function uploadInput(arg: string, values: UploadFlags): Promise<UploadInput> {
  const given = values.size === undefined ? undefined : byteCount(values.size);
  if (arg === '-') {
    // Redirected from a file (`< file`), stdin has a size; a pipe has none, and the API declares it first.
    const info = await new Promise<Stats | undefined>((r) => fstat(0, (e, st) => r(e ? undefined : st)));
    const size = given ?? (info?.isFile() ? info.size : undefined);
    if (size === undefined)
      throw new InputError(
        'upload -: stdin is a pipe, whose size is unknown until it ends; give it with --size <bytes> (the API declares the size before the first byte).',
      );
    if (size === 0)
      throw new InputError('upload -: stdin is empty (0 bytes); Citadel stores no empty files.');
    return { source: process.stdin, size, filename: values.name ?? 'stdin' };
  }
  const info = await stat(arg).catch(() => undefined);
  if (!info) throw new InputError(`${arg}: no such file.`);
  if (info.isDirectory()) throw new InputError(`${arg} is a directory: give a file (or - to read stdin).`);
  if (!info.isFile())
    throw new InputError(
      `${arg} is not a regular file (a pipe or a device): read it as stdin with \`upload - --size <bytes>\`.`,
    );
  if (info.size === 0) throw new InputError(`${arg} is empty (0 bytes); Citadel stores no empty files.`);
  if (given !== undefined && given !== info.size)
    throw new InputError(`--size ${given} does not match ${arg}, which has ${info.size} bytes.`);
  return { source: arg };
}

/** `--size`: a whole number of bytes, or a size like `3GiB`. */
function byteCount(text: string): number {
  try {
    const n = /^\d+$/.test(text) ? Number(text) : parseByteSize(text);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  } catch {
    // reported below
  }
  throw new UsageError(`--size must be a number of bytes, e.g. 1048576 or 3GiB; got "${text}".`);
}

/** Ctrl-C or TERM aborts `controller` while `run` runs. */
async function interruptible<T>(controller: AbortController, run: () => Promise<T>): Promise<T> {
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await run();
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** What an upload run learned from its events: the upload's id, and whether an interrupted one was kept. */
interface UploadWatch {
  id?: string;
  /** undefined: no upload was created before the interruption. */
  kept?: boolean;
}

/** The progress printer and the event handler that reports an upload on stderr. */
function uploadReporter(values: UploadFlags, watch: UploadWatch) {
  const tty = process.stderr.isTTY === true;
  const progress = createProgressPrinter({
    tty,
    write: (text) => process.stderr.write(text),
    columns: () => process.stderr.columns,
  });
  const onEvent = (e: UploadEvent) => {
    if (e.type === 'created' || e.type === 'resumed') watch.id = e.id;
    if (e.type === 'aborted') watch.kept = e.kept;
    if (e.type === 'created' || e.type === 'resumed' || e.type === 'restarted') progress.reset();
    if (e.type === 'created' && !values.type)
      progress.log(`type: ${e.contentType} (sniffed; set --type to declare another)`);
    const text = describeEvent(e);
    if (text) progress.log(text);
    if (e.type === 'completed' && !values['no-wait'])
      progress.log('waiting for the malware scan and type check…');
  };
  return { progress, onEvent, tty };
}

async function upload(args: string[], connect: Connect): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: UPLOAD_OPTIONS });
  const client = connect(values);
  const input = await uploadInput(one(positionals, 'file to upload (or - for stdin)'), values);
  let rate: number | undefined;
  try {
    rate = values['limit-rate'] ? parseByteSize(values['limit-rate']) : undefined;
  } catch (e) {
    throw new UsageError(`--limit-rate: ${(e as Error).message}`);
  }
  const scanTimeout = positiveInt(values['scan-timeout'], 'scan-timeout', 86_400);
  const controller = new AbortController();
  const watch: UploadWatch = {};
  const { progress, onEvent, tty } = uploadReporter(values, watch);
  const redraw = tty ? setInterval(() => progress.tick(), 1000) : undefined;
  redraw?.unref();
  try {
    const result = await interruptible(controller, () =>
      uploadFile(client, input.source, {
        contentType: values.type,
        filename: values.name ?? input.filename,
        size: input.size,
        concurrency: positiveInt(values.concurrency, 'concurrency', 64),
        stateDir: values['state-dir'],
        resume: !values['no-resume'],
        sha256: values.sha256,
        rateLimitBytesPerSecond: rate,
        waitForScan: !values['no-wait'],
        scanTimeoutMs: scanTimeout === undefined ? undefined : scanTimeout * 1000,
        signal: controller.signal,
        keepOnAbort: true,
        onProgress: (p) => progress.progress(p),
        onEvent,
      }),
    );
    progress.end();
    return uploaded(result, values);
  } catch (error) {
    progress.end();
    if (isAbortError(error) && controller.signal.aborted) return uploadInterrupted(values, watch);
    if (error instanceof ScanTimeoutError) {
      if (values.json)
        out(JSON.stringify({ id: error.fileId, state: error.lastState, error: error.message }));
      err(error.message);
      return EXIT.notClean;
    }
    throw error;
  } finally {
    clearInterval(redraw);
  }
}

/** Prints a finished upload; exit 0 when it is clean (or, with --no-wait, scanning), 3 otherwise. */
function uploaded(result: UploadFileResult, values: UploadFlags): number {
  const clean = result.file.state === 'clean' || (values['no-wait'] && result.file.state === 'scanning');
  if (values.json) out(JSON.stringify(result));
  else out(`${result.id}  ${result.file.state}  ${formatBytes(result.file.size)}  ${result.file.filename}`);
  if (!values['no-wait']) err(`verdict: ${VERDICT[result.file.state] ?? result.file.state}`);
  return clean ? EXIT.ok : EXIT.notClean;
}

/** Says what became of an interrupted upload (with --json, as one JSON document too); exit 130. */
function uploadInterrupted(values: UploadFlags, { id, kept }: UploadWatch): number {
  if (kept)
    err(
      `interrupted. The upload is kept: run the same command again to resume${id ? `, or \`citadel abort ${id}\` to discard it` : ''}.`,
    );
  else if (kept === false)
    err(
      `interrupted. Upload ${id} was discarded${values['no-resume'] ? ' (--no-resume: nothing could resume it)' : ''}.`,
    );
  else err('interrupted before any upload was created.');
  if (values.json) out(JSON.stringify({ interrupted: true, id: id ?? null, kept: kept ?? false }));
  return EXIT.interrupted;
}

const fileLine = (f: ApiFile): string =>
  `${f.id}  ${f.state.padEnd(11)}  ${formatBytes(f.size).padStart(10)}  ${f.createdAt}  ${f.filename}`;

async function status(args: string[], connect: Connect): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: GLOBAL_OPTIONS });
  const client = connect(values);
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

async function list(args: string[], connect: Connect): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...GLOBAL_OPTIONS,
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean', default: false },
      owner: { type: 'string' },
    },
  });
  const client = connect(values);
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

async function download(args: string[], connect: Connect): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...GLOBAL_OPTIONS,
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean', default: false },
    },
  });
  const client = connect(values);
  const id = one(positionals, 'file id');
  // Ctrl-C or a TERM stops the transfer; the temporary file is removed, the target is left untouched.
  const controller = new AbortController();
  try {
    const result = await interruptible(controller, () =>
      downloadFile(client, id, resolve(values.output ?? '.'), {
        signal: controller.signal,
        overwrite: values.force,
      }),
    );
    if (values.json)
      out(JSON.stringify({ id, path: result.path, bytes: result.bytes, sha256: result.sha256 }));
    else out(`${result.path}  ${formatBytes(result.bytes)}  sha256 ${result.sha256}`);
    return EXIT.ok;
  } catch (error) {
    if (isAbortError(error) && controller.signal.aborted) {
      err('interrupted. Nothing was written: the partial download was removed.');
      if (values.json) out(JSON.stringify({ interrupted: true, id, written: false }));
      return EXIT.interrupted;
    }
    if (error instanceof DownloadTargetError) throw new InputError(error.message);
    throw error;
  }
}

async function simple(
  args: string[],
  connect: Connect,
  action: (client: CitadelClient, id: string) => Promise<void>,
  done: (id: string) => Record<string, unknown>,
  message: (id: string) => string,
): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: GLOBAL_OPTIONS });
  const client = connect(values);
  const id = one(positionals, 'file id');
  await action(client, id);
  if (values.json) out(JSON.stringify(done(id)));
  else out(message(id));
  return EXIT.ok;
}

/** Runs one command; returns the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { command, args } = splitCommand(argv);
  const json = args.includes('--json');
  let baseUrl: string | undefined;
  const connectOnce: Connect = (flags) => {
    const client = connect(flags, env);
    baseUrl = client.baseUrl;
    return client;
  };
  try {
    if (command === undefined || ['help', '--help', '-h'].includes(command)) {
      (command === undefined ? err : out)(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (args.includes('--help') || args.includes('-h')) {
      out(USAGE);
      return EXIT.ok;
    }
    const commands: Record<string, () => Promise<number>> = {
      upload: () => upload(args, connectOnce),
      status: () => status(args, connectOnce),
      ls: () => list(args, connectOnce),
      download: () => download(args, connectOnce),
      abort: () =>
        simple(
          args,
          connectOnce,
          (c, id) => c.abortUpload(id),
          (id) => ({ id, aborted: true }),
          (id) => `${id} aborted`,
        ),
      rm: () =>
        simple(
          args,
          connectOnce,
          (c, id) => c.deleteFile(id),
          (id) => ({ id, deleted: true }),
          (id) => `${id} deleted`,
        ),
    };
    const run = commands[command];
    if (!run) throw new UsageError(`Unknown command "${command}".`);
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`citadel: ${error.message}\nRun \`citadel --help\` for the options.`);
      return EXIT.usage;
    }
    if (error instanceof InputError) {
      err(`citadel: ${error.message}`);
      if (json) out(JSON.stringify({ error: { message: error.message } }));
      return EXIT.usage;
    }
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
    let code: number = EXIT.failed;
    let message: string;
    if (isFetchFailure(error)) {
      // No answer at all from the API: a host that does not exist is a configuration error, the rest network.
      const cause = error.cause as { code?: string } | undefined;
      const where = `the API at ${baseUrl ?? 'the configured URL'}`;
      if (cause?.code === 'ENOTFOUND') {
        code = EXIT.usage;
        message = `cannot reach ${where}: no such host (${causeMessage(error)}). Check --api or CITADEL_API_URL.`;
      } else message = `cannot reach ${where} (${causeMessage(error)})`;
    } else if (error instanceof StorageRequestError || error instanceof FileChangedError)
      message = error.message;
    else
      message = `${(error as Error).message ?? String(error)}${(error as { cause?: Error }).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`;
    err(`citadel: ${message}`);
    if (json) out(JSON.stringify({ error: { message } }));
    return code;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await main(process.argv.slice(2)));
}
