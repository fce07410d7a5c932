/**
 * WAF's limits the stage config and the web ACL construct both apply, in one place without aws-cdk-lib so the
 * config schema can import them.
 */

/** WAF rate-based rules count over one of these windows (seconds). */
export const WAF_RATE_WINDOWS = [60, 120, 300, 600] as const;
/** WAF's floor for a rate-based rule's limit. */
export const WAF_RATE_LIMIT_FLOOR = 10;
/** WAF's quota of custom response headers per web ACL ("AWS WAF quotas", developer guide). */
export const WAF_MAX_CUSTOM_RESPONSE_HEADERS = 100;
/**
 * The most browser origins the public API's ACL can answer readably. Its foreign-origin rule and four refusals
 * (two 413 body limits, the per-IP and the recovery 429s) with the security headers take 32 custom response
 * headers, and each origin 32 more (its own copy of each refusal): 96 for two origins. The construct also counts
 * what it builds and refuses more than WAF's 100.
 */
export const MAX_BROWSER_ORIGINS = 2;
