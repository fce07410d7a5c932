/**
 * Browser CORS, configured by a list of exact origins: preflights are answered for allowed origins (403 for
 * others, as S3 does), and actual responses to allowed origins carry `Access-Control-Allow-Origin`, exposing the
 * `ETag` header that browser multipart uploads need.
 */
import type { RequestContext } from './context';
import { S3Error } from './errors';

const ALLOWED_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];
const EXPOSED_HEADERS = 'ETag, x-amz-request-id, x-amz-id-2, x-amz-version-id';
const MAX_AGE_SECONDS = '3000';

function allowedOrigin(ctx: RequestContext, origins: readonly string[] | undefined): string | undefined {
  const origin = ctx.req.headers.origin;
  return origin !== undefined && origins?.includes(origin) ? origin : undefined;
}

/** Adds CORS headers to a non-preflight response when the request comes from an allowed origin. */
export function applyCors(ctx: RequestContext, origins: readonly string[] | undefined): void {
  const origin = allowedOrigin(ctx, origins);
  if (origin === undefined) return;
  ctx.res.setHeader('Access-Control-Allow-Origin', origin);
  ctx.res.setHeader('Access-Control-Allow-Credentials', 'true');
  ctx.res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS.join(', '));
  ctx.res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  ctx.res.setHeader('Access-Control-Max-Age', MAX_AGE_SECONDS);
  ctx.res.setHeader('Vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}

/**
 * Answers an `OPTIONS` preflight.
 * @throws S3Error `AccessForbidden` (403) when CORS is off, the origin is not allowed, or the method is not.
 */
export function answerPreflight(ctx: RequestContext, origins: readonly string[] | undefined): void {
  const requestMethod = ctx.req.headers['access-control-request-method'];
  if (ctx.req.headers.origin === undefined || requestMethod === undefined) {
    throw new S3Error('BadRequest', 400, 'Insufficient information. Origin request header needed.');
  }
  if (!origins || origins.length === 0) {
    throw new S3Error('AccessForbidden', 403, 'CORSResponse: CORS is not enabled for this bucket.', {
      Method: requestMethod,
      ResourceType: 'OBJECT',
    });
  }
  const origin = allowedOrigin(ctx, origins);
  if (origin === undefined || !ALLOWED_METHODS.includes(requestMethod.toUpperCase())) {
    throw new S3Error(
      'AccessForbidden',
      403,
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      { Method: requestMethod, ResourceType: 'OBJECT' },
    );
  }
  const requestedHeaders = ctx.req.headers['access-control-request-headers'];
  ctx.send(200, {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Credentials': 'true',
    'Access-Control-Allow-Methods': ALLOWED_METHODS.join(', '),
    ...(requestedHeaders ? { 'Access-Control-Allow-Headers': requestedHeaders } : {}),
    'Access-Control-Expose-Headers': EXPOSED_HEADERS,
    'Access-Control-Max-Age': MAX_AGE_SECONDS,
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  });
}
