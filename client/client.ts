/**
 * The typed Citadel API client: one method per route, typed and validated with the contract's zod schemas.
 * Browser-safe: it uses only `fetch` (no Node built-ins), so web apps can bundle it with the Uppy helper.
 */
import type * as z from 'zod';
import { getFile as getFileRoute } from '../contract/api/files';
import {
  abortUpload as abortUploadRoute,
  completeUpload as completeUploadRoute,
  createUpload as createUploadRoute,
  deleteFile as deleteFileRoute,
  downloadFile as downloadFileRoute,
  getUpload as getUploadRoute,
  listFiles as listFilesRoute,
  type signRequestBody,
  signUploadParts as signUploadPartsRoute,
  signUploadRequest as signUploadRequestRoute,
} from '../contract/api/uploads';
import { MAX_JSON_BODY_BYTES, PROBLEM_CONTENT_TYPE, REQUEST_ID_HEADER } from '../contract/http';
import type { FieldError, Problem } from '../contract/problems';
import { isIdempotent, type RouteDefinition } from '../contract/route';
import { CitadelProblemError, CitadelResponseError } from './errors';
import {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  type RetryPolicy,
  sleep,
} from './retry';

export type ApiFile = z.output<typeof getFileRoute.response.schema>;
export type CreateUploadInput = z.input<typeof createUploadRoute.body>;
export type UploadCreated = z.output<typeof createUploadRoute.response.schema>;
export type SignedParts = z.output<typeof signUploadPartsRoute.response.schema>;
export type UploadStatus = z.output<typeof getUploadRoute.response.schema>;
export type CompletedPart = { readonly partNumber: number; readonly etag: string };
export type FilePage = z.output<typeof listFilesRoute.response.schema>;
export type ListFilesInput = { readonly cursor?: string; readonly limit?: number; readonly owner?: string };
export type DownloadLink = z.output<typeof downloadFileRoute.response.schema>;
export type SignUploadRequestInput = z.input<typeof signRequestBody>;
export type SignedUploadRequest = z.output<typeof signUploadRequestRoute.response.schema>;

/** A bearer token, or a function that returns a current one (called before every request). */
export type TokenSource = string | (() => Promise<string> | string);

export interface CitadelClientOptions {
  /** The API's base URL, e.g. `https://api.example.com` (a trailing slash or a stage path is fine). */
  readonly baseUrl: string;
  readonly token: TokenSource;
  /** Usage-plan API key of a machine client, sent as `x-api-key` (metering and throttling only). */
  readonly apiKey?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * Retries of idempotent calls on network errors, timeouts, 429 (honouring Retry-After) and 502/503/504;
   * calls that are not safe to repeat are retried only when they certainly did no work (see
   * {@link CitadelClient.call}).
   */
  readonly retry?: RetryPolicy;
  /** Per-attempt timeout (ms); a timed-out attempt counts as a network error. @default 30000 */
  readonly timeoutMs?: number;
  /**
   * Refuse responses carrying fields the contract does not know. By default such fields are dropped, so an
   * API that gained a field does not break older clients; any other mismatch is always refused.
   * @default false
   */
  readonly strictResponses?: boolean;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

interface CallInput {
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string | number | undefined>;
  readonly body?: unknown;
  /** Overrides the route's idempotency for this call (a route whose body decides, like the signing route). */
  readonly idempotent?: boolean;
}

/**
 * Codes of `fetch` failures (Node's undici: the `cause` of its `TypeError: fetch failed`) raised before a
 * connection existed, so before any byte of the request left: the server cannot have acted on it.
 * ECONNRESET, "other side closed" (UND_ERR_SOCKET) and timeouts are not among them: the request may have
 * been received. Browsers give no cause at all, so there every network failure counts as "may have arrived".
 */
const NEVER_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', // nothing listens
  'ENOTFOUND', // no such host
  'EAI_AGAIN', // DNS lookup failed for now
  'UND_ERR_CONNECT_TIMEOUT', // the TCP connection was never established
]);

/** True when `error`, thrown by `fetch`, proves the request never reached the server. */
export function neverSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown; errors?: unknown } } | undefined)?.cause;
  if (!cause || typeof cause !== 'object') return false;
  // Node tries each address of a host in turn and reports an AggregateError when all of them fail.
  const causes = Array.isArray(cause.errors) && cause.errors.length > 0 ? cause.errors : [cause];
  return causes.every((c) => NEVER_SENT_CODES.has(String((c as { code?: unknown } | null)?.code)));
}

/**
 * A call that is not safe to repeat failed after its request may have reached the API (a timeout, a dropped
 * connection): it was not retried, and whether the API acted on it is unknown. `cause` holds the failure.
 */
export class CitadelRequestOutcomeUnknownError extends Error {
  constructor(
    readonly operationId: string,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'CitadelRequestOutcomeUnknownError';
  }
}

/** Path parameters substituted into `/v1/files/{id}`, each URL-encoded. */
const expandPath = (path: string, params: Record<string, string> = {}): string =>
  path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new TypeError(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(value);
  });

/** A fetch failure in a few words: its cause's code or message (`ECONNRESET`, `other side closed`). */
const describe = (error: unknown): string => {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = cause?.message ?? cause?.code;
  return typeof detail === 'string' && detail ? detail : String((error as Error)?.message ?? error);
};

const isProblem = (v: unknown): v is Problem =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Problem).status === 'number' &&
  typeof (v as Problem).title === 'string';

/**
 * A typed client of the Citadel API.
 *
 * @example
 * const citadel = new CitadelClient({ baseUrl: process.env.CITADEL_API_URL, token: process.env.CITADEL_TOKEN });
 * const file = await citadel.getFile(id);
 */
export class CitadelClient {
  readonly baseUrl: string;
  private readonly token: TokenSource;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly retry: Required<RetryPolicy>;
  private readonly timeoutMs: number;
  private readonly strictResponses: boolean;

  constructor(options: CitadelClientOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) {
      throw new TypeError(
        `baseUrl must be an http(s) URL, e.g. https://api.example.com (got "${options.baseUrl}")`,
      );
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.apiKey = options.apiKey;
    // Bound: browsers throw "Illegal invocation" when fetch is called off `window`.
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.strictResponses = options.strictResponses ?? false;
  }

  /** `POST /v1/uploads`: declares a file; the server picks the key and the part size. */
  createUpload(input: CreateUploadInput, options?: CallOptions): Promise<UploadCreated> {
    return this.call(createUploadRoute, { body: input }, options);
  }

  /** `POST /v1/uploads/{id}/parts`: presigned UploadPart URLs (at most 500 per call, each for an exact size). */
  signParts(id: string, partNumbers: readonly number[], options?: CallOptions): Promise<SignedParts> {
    return this.call(signUploadPartsRoute, { params: { id }, body: { partNumbers } }, options);
  }

  /**
   * `POST /v1/uploads/sign`: presigns one S3 request a browser builds (Uppy 6), within Citadel's rules.
   * `create`/`put` declare the file and return the server-generated key; the others name an upload the
   * caller owns by that key and S3's upload id. `parts` signs up to 100 part URLs in one call.
   * `create`/`put` are not safe to repeat (each declares a new file); the other operations only sign.
   */
  signUploadRequest(input: SignUploadRequestInput, options?: CallOptions): Promise<SignedUploadRequest> {
    const declares = input.operation === 'create' || input.operation === 'put';
    return this.call(signUploadRequestRoute, { body: input, idempotent: !declares }, options);
  }

  /** `GET /v1/uploads/{id}`: the upload's state and the parts S3 already holds. */
  getUpload(id: string, options?: CallOptions): Promise<UploadStatus> {
    return this.call(getUploadRoute, { params: { id } }, options);
  }

  /**
   * `POST /v1/uploads/{id}/complete`; `parts` (optional) are checked against what S3 holds. The server completes
   * from what S3 holds either way, so the ETags are a cross-check: when naming them all would exceed the API's
   * body limit (which WAF enforces), they are left out rather than have the call refused.
   */
  completeUpload(id: string, parts?: readonly CompletedPart[], options?: CallOptions): Promise<ApiFile> {
    const named = parts && new TextEncoder().encode(JSON.stringify({ parts })).length <= MAX_JSON_BODY_BYTES;
    return this.call(completeUploadRoute, { params: { id }, body: named ? { parts } : {} }, options);
  }

  /** `DELETE /v1/uploads/{id}`: S3 drops every stored part. */
  async abortUpload(id: string, options?: CallOptions): Promise<void> {
    await this.call(abortUploadRoute, { params: { id } }, options);
  }

  /** `GET /v1/files`: one page, newest first. */
  listFiles(input: ListFilesInput = {}, options?: CallOptions): Promise<FilePage> {
    return this.call(listFilesRoute, { query: { ...input } }, options);
  }

  /** Every file, page after page. */
  async *iterateFiles(input: Omit<ListFilesInput, 'cursor'> = {}, options?: CallOptions) {
    let cursor: string | undefined;
    do {
      const page = await this.listFiles({ ...input, cursor }, options);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** `GET /v1/files/{id}`: metadata and state. */
  getFile(id: string, options?: CallOptions): Promise<ApiFile> {
    return this.call(getFileRoute, { params: { id } }, options);
  }

  /** `GET /v1/files/{id}/download`: a presigned GET (5 minutes); only for `clean` files. */
  getDownloadLink(id: string, options?: CallOptions): Promise<DownloadLink> {
    return this.call(downloadFileRoute, { params: { id } }, options);
  }

  /** `DELETE /v1/files/{id}`. */
  async deleteFile(id: string, options?: CallOptions): Promise<void> {
    await this.call(deleteFileRoute, { params: { id } }, options);
  }

  /**
   * Calls one route, retrying with jittered backoff (429 and 503 after their `Retry-After`) when that is safe:
   *
   * - An idempotent call (GET, PUT, DELETE, and the POSTs whose route says `idempotent`, such as
   *   `signParts` and `completeUpload`) is retried after network errors, timeouts, 429 and 502/503/504.
   * - A call that is not safe to repeat (`createUpload`, the signing route's `create`/`put`: each declares a
   *   new file) is retried only when the first attempt certainly did no work: the connection was never made
   *   (connection refused, DNS failure; see {@link neverSent}), 429 (throttled before the API ran), or 503
   *   with `Retry-After` (the API's "dependency unavailable", raised before anything was stored). After a
   *   timeout or a dropped connection it throws {@link CitadelRequestOutcomeUnknownError}; a 502 or 504
   *   (the gateway lost the answer, not the request) is thrown as the {@link CitadelProblemError} it is.
   *   Either way the API may have acted: a retry could declare the file twice and orphan the first.
   *
   * Throws {@link CitadelProblemError} for every refusal and {@link CitadelResponseError} for a success body
   * the contract does not allow.
   */
  async call<TP extends z.ZodType, TQ extends z.ZodType, TB extends z.ZodType, TR extends z.ZodType>(
    route: RouteDefinition<TP, TQ, TB, TR>,
    input: CallInput,
    options: CallOptions = {},
  ): Promise<z.output<TR>> {
    const url = new URL(`${this.baseUrl}${expandPath(route.path, input.params)}`);
    for (const [k, v] of Object.entries(input.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    const idempotent = input.idempotent ?? isIdempotent(route);
    const signal = options.signal;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const headers: Record<string, string> = {
        accept: `application/json, ${PROBLEM_CONTENT_TYPE}`,
        authorization: `Bearer ${typeof this.token === 'function' ? await this.token() : this.token}`,
      };
      if (this.apiKey) headers['x-api-key'] = this.apiKey;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const timeout = AbortSignal.timeout(this.timeoutMs);
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method: route.method,
          headers,
          body,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        // The caller's abort ends it; a timeout or a network failure is retried when that is safe.
        if (signal?.aborted) throw signal.reason;
        if (!idempotent && !neverSent(error)) {
          const why =
            (error as Error).name === 'TimeoutError'
              ? `no answer within ${this.timeoutMs} ms`
              : describe(error);
          throw new CitadelRequestOutcomeUnknownError(
            route.operationId,
            `${route.operationId} (${route.method} ${route.path}) failed after the request may have reached the API (${why}); it was not retried because repeating it could act twice. Check whether it took effect before trying again.`,
            { cause: error },
          );
        }
        if (attempt >= this.retry.retries) throw error;
        await sleep(backoffDelay(attempt, this.retry), signal);
        continue;
      }
      const requestId = response.headers.get(REQUEST_ID_HEADER) ?? undefined;
      if (response.ok) return this.parseSuccess(route, response, requestId);
      const error = await this.toProblem(response, requestId);
      const retryable = idempotent
        ? RETRYABLE_STATUSES.has(response.status)
        : response.status === 429 || (response.status === 503 && error.retryAfterSeconds !== undefined);
      if (!retryable || attempt >= this.retry.retries) throw error;
      const waitMs =
        error.retryAfterSeconds !== undefined
          ? Math.min(this.retry.maxDelayMs, error.retryAfterSeconds * 1000) + Math.round(Math.random() * 100)
          : backoffDelay(attempt, this.retry);
      await sleep(waitMs, signal);
    }
  }

  private async parseSuccess<TR extends z.ZodType>(
    route: RouteDefinition<z.ZodType, z.ZodType, z.ZodType, TR>,
    response: Response,
    requestId: string | undefined,
  ): Promise<z.output<TR>> {
    const text = await response.text();
    if (response.status === 204 || text === '') {
      const parsed = route.response.schema.safeParse(undefined);
      if (parsed.success) return parsed.data;
      throw new CitadelResponseError(
        `${route.operationId}: the API answered ${response.status} with no body`,
        response.status,
        requestId,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new CitadelResponseError(
        `${route.operationId}: the API answered ${response.status} with a body that is not JSON`,
        response.status,
        requestId,
        { cause },
      );
    }
    const parsed = parseTolerant(route.response.schema, json, this.strictResponses);
    if (!parsed.success) {
      throw new CitadelResponseError(
        `${route.operationId}: the response does not match the contract (${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .join('; ')}); is the client older than the API?`,
        response.status,
        requestId,
        { cause: parsed.error },
      );
    }
    return parsed.data;
  }

  /** The response's problem document, or one made up from the status when the body is not one. */
  private async toProblem(response: Response, requestId: string | undefined): Promise<CitadelProblemError> {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const problem: Problem = isProblem(body)
      ? {
          type: typeof body.type === 'string' ? body.type : 'about:blank',
          title: body.title,
          status: body.status,
          detail: typeof body.detail === 'string' ? body.detail : '',
          instance: typeof body.instance === 'string' ? body.instance : (requestId ?? ''),
          ...(Array.isArray(body.errors) ? { errors: body.errors as FieldError[] } : {}),
        }
      : {
          type: 'about:blank',
          title: response.statusText || `HTTP ${response.status}`,
          status: response.status,
          detail: text.slice(0, 500) || `The API answered ${response.status} without a problem document.`,
          instance: requestId ?? '',
        };
    return new CitadelProblemError(problem, { requestId, retryAfterSeconds });
  }
}

type ParseResult<T extends z.ZodType> =
  | { success: true; data: z.output<T> }
  | { success: false; error: z.ZodError };

/**
 * Validates `value` with the contract's (strict) schema. Unless `strict`, fields the schema does not know
 * (`unrecognized_keys`, the only issue an API that gained a field causes) are removed and the value is
 * validated again; any other issue fails as it would have.
 */
export function parseTolerant<T extends z.ZodType>(
  schema: T,
  value: unknown,
  strict = false,
): ParseResult<T> {
  let parsed = schema.safeParse(value) as ParseResult<T>;
  if (strict || parsed.success) return parsed;
  // A copy, never the caller's object; a few rounds, because a union tried again may report keys deeper in.
  const candidate: unknown = structuredClone(value);
  for (let round = 0; round < 4 && !parsed.success; round++) {
    const { issues } = parsed.error;
    if (!issues.every((i) => i.code === 'unrecognized_keys')) return parsed;
    for (const issue of issues) {
      let target: unknown = candidate;
      for (const step of issue.path) target = (target as Record<PropertyKey, unknown> | undefined)?.[step];
      if (typeof target === 'object' && target !== null) {
        for (const key of (issue as z.core.$ZodIssueUnrecognizedKeys).keys) {
          delete (target as Record<string, unknown>)[key];
        }
      }
    }
    parsed = schema.safeParse(candidate) as ParseResult<T>;
  }
  return parsed;
}

/** Options of {@link clientCredentialsToken}. */
export interface ClientCredentialsOptions {
  /** The Cognito domain's `/oauth2/token` URL the API-client creation returned. */
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** e.g. `['citadel/files.read', 'citadel/files.write']`. @default every scope the client holds */
  readonly scopes?: readonly string[];
  readonly fetch?: typeof fetch;
}

/**
 * A token source for machine clients: OAuth client credentials against the Cognito token endpoint, cached
 * until a minute before the token expires.
 */
export function clientCredentialsToken(options: ClientCredentialsOptions): () => Promise<string> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let cached: { token: string; until: number } | undefined;
  let pending: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (options.scopes?.length) form.set('scope', options.scopes.join(' '));
    const basic = btoa(`${options.clientId}:${options.clientSecret}`);
    const response = await doFetch(options.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    if (!response.ok) {
      throw new Error(`The token endpoint refused the client credentials (${response.status}).`);
    }
    const json = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!json.access_token) throw new Error('The token endpoint returned no access_token.');
    cached = { token: json.access_token, until: Date.now() + ((json.expires_in ?? 3600) - 60) * 1000 };
    return json.access_token;
  };
  return async () => {
    if (cached && cached.until > Date.now()) return cached.token;
    pending ??= refresh().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
