/**
 * Redaction of secrets and tokens before anything reaches the logs.
 * Keys are matched by name; string values are scanned for bearer tokens, JWTs and presigned signatures.
 */
import { originalStack } from './stack-trace';

const SENSITIVE_KEY =
  /(authori[sz]ation|password|passwd|secret|token|cookie|api[-_]?key|credential|signature|session|private[-_]?key)/i;

const JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const SIGNED_QUERY = /(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi;

export const REDACTED = '[REDACTED]';

/** Masks tokens and presigned-URL signatures inside a free-text value. */
export const redactString = (value: string): string =>
  value.replace(JWT, REDACTED).replace(BEARER, `$1${REDACTED}`).replace(SIGNED_QUERY, `$1${REDACTED}`);

/**
 * Returns a copy of `value` with sensitive keys replaced by `[REDACTED]` and token-shaped strings masked.
 * Depth-limited and cycle-safe so a pathological object cannot stall a log call.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[Truncated]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) {
    // Error fields are not enumerable: keep what an operator needs, redacted like everything else.
    const { code } = value as { code?: unknown };
    return {
      name: value.name,
      message: redactString(value.message),
      ...(code === undefined ? {} : { code }),
      stack: value.stack ? redactString(originalStack(value.stack)) : undefined,
      ...(value.cause === undefined ? {} : { cause: redact(value.cause, depth + 1, seen) }),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] =
      SENSITIVE_KEY.test(key) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}
