/**
 * The catalogue of problem types (RFC 9457). Each `type` is a stable URN documented in
 * docs/problems.md; clients switch on it, never on `title` or `detail`.
 */
export const PROBLEM_TYPES = {
  badRequest: { status: 400, title: 'Bad request' },
  validation: { status: 400, title: 'Request validation failed' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  notFound: { status: 404, title: 'Not found' },
  methodNotAllowed: { status: 405, title: 'Method not allowed' },
  notAcceptable: { status: 406, title: 'Not acceptable' },
  conflict: { status: 409, title: 'Conflict' },
  payloadTooLarge: { status: 413, title: 'Payload too large' },
  unsupportedMediaType: { status: 415, title: 'Unsupported media type' },
  tooManyRequests: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  serviceUnavailable: { status: 503, title: 'Service unavailable' },
  gatewayTimeout: { status: 504, title: 'Upstream timed out' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_TYPES;

/** `urn:citadel:problem:not-found` for `notFound`. */
export const problemTypeUri = (kind: ProblemKind): string =>
  `urn:citadel:problem:${kind.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** One field-level validation failure, as carried in a `validation` problem's `errors`. */
export interface FieldError {
  readonly in: 'body' | 'query' | 'path' | 'header';
  readonly path: string;
  readonly message: string;
}

/** The JSON body of every error response. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The request id: quote it to support and find the request in the logs. */
  readonly instance: string;
  readonly errors?: readonly FieldError[];
}
