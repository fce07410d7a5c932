/**
 * The seed systems' alerting thresholds, and the few numbers Citadel adds to make them alarm on rates honestly.
 * `docs/alarms.md` lists what each alarm does with them.
 */

/** API 5xx rate that pages (fraction of requests: API Gateway's `5XXError` Average is errors ÷ requests). */
export const API_5XX_RATE = 0.05;
/** API p99 latency: a ticket above the first, a page above the second. */
export const API_P99_WARNING_MS = 2000;
export const API_P99_CRITICAL_MS = 5000;
/** Share of sign-ins (Cognito) or API requests (401/403) that failed authentication, percent. */
export const AUTH_FAILURE_PERCENT = 20;
/** Share of finished uploads (completed or failed) that failed, percent. */
export const UPLOAD_FAILURE_PERCENT = 20;
/** Peak memory of an invocation, percent of the function's configured memory. */
export const FUNCTION_MEMORY_PERCENT = 90;
/** RDS: freeable memory below this share of the instance class's memory pages. */
export const DB_FREEABLE_MEMORY_FRACTION = 0.1;
export const DB_CPU_PERCENT = 80;
/** RDS: free storage below this share of the allocated storage. */
export const DB_FREE_STORAGE_FRACTION = 0.15;
/** RDS: connections above this share of the default `max_connections`. */
export const DB_CONNECTIONS_FRACTION = 0.8;

/**
 * Minimum-traffic guards: a rate is only evaluated when its denominator is larger than this in the period, so
 * 1 failure in 3 requests is not a 33% outage. Below the guard the datapoint is missing, and missing is OK.
 */
export const MIN_REQUESTS = 20;
export const MIN_SIGN_INS = 10;
export const MIN_FINISHED_UPLOADS = 4;
export const MIN_WAF_REQUESTS = 100;

/** Rotation is overdue this long after its schedule says it is due. */
export const ROTATION_GRACE_HOURS = 24;
