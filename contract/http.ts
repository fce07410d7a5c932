/**
 * HTTP conventions shared by the Lambda runtime, API Gateway's own responses and the local server.
 */

/** Security headers carried by every response, including API Gateway's own 4xx/5xx. */
export const SECURITY_HEADERS = {
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const satisfies Record<string, string>;

/** Media type of every error body (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Header that echoes the correlation id (API Gateway's request id). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Largest JSON request body a handler accepts; uploads never pass through the API. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;
