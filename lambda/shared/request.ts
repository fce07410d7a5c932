import type { APIGatewayProxyEvent } from 'aws-lambda';
import type * as z from 'zod';
import { MAX_JSON_BODY_BYTES } from '../../contract/http';
import type { FieldError } from '../../contract/problems';
import type { RouteDefinition } from '../../contract/route';
import {
  BadRequestError,
  NotAcceptableError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './errors';
import { header } from './http';

export interface ParsedRequest<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
}

const JSON_MEDIA = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const ACCEPTABLE =
  /(^|,)\s*(\*\/\*|application\/\*|application\/json|application\/problem\+json)\s*(;[^,]*)?(?=,|$)/i;

function toFieldErrors(where: FieldError['in'], error: z.ZodError): FieldError[] {
  return error.issues.slice(0, 20).map((issue) => ({
    in: where,
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

function queryOf(event: APIGatewayProxyEvent): Record<string, string> {
  const multi = event.multiValueQueryStringParameters ?? {};
  const single = event.queryStringParameters ?? {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(single)) {
    const all = multi[key];
    if (all && new Set(all).size > 1)
      throw new BadRequestError(`Query parameter "${key}" was given more than once.`);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function bodyText(event: APIGatewayProxyEvent): string {
  if (event.body === null || event.body === undefined) return '';
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > MAX_JSON_BODY_BYTES) {
    throw new PayloadTooLargeError(`Request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes.`);
  }
  return raw.toString('utf8');
}

/**
 * Validates an API Gateway proxy event against a route's schemas. Every failure is a typed 4xx
 * domain error; nothing here can produce a 5xx for any input.
 */
export function parseRequest<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  route: RouteDefinition<P, Q, B>,
  event: APIGatewayProxyEvent,
): ParsedRequest<z.output<P>, z.output<Q>, z.output<B>> {
  const accept = header(event, 'accept');
  if (accept !== undefined && accept.trim() !== '' && !ACCEPTABLE.test(accept))
    throw new NotAcceptableError();

  const errors: FieldError[] = [];

  let params: unknown = {};
  if (route.params) {
    const result = route.params.safeParse(event.pathParameters ?? {});
    if (result.success) params = result.data;
    else errors.push(...toFieldErrors('path', result.error));
  }

  const rawQuery = queryOf(event);
  let query: unknown = {};
  if (route.query) {
    const result = route.query.safeParse(rawQuery);
    if (result.success) query = result.data;
    else errors.push(...toFieldErrors('query', result.error));
  } else if (Object.keys(rawQuery).length > 0) {
    throw new BadRequestError('This operation takes no query parameters.');
  }

  const text = bodyText(event);
  let body: unknown;
  if (route.body) {
    const contentType = header(event, 'content-type');
    if (!contentType || !JSON_MEDIA.test(contentType.trim())) throw new UnsupportedMediaTypeError();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BadRequestError('The request body is not valid JSON.');
    }
    const result = route.body.safeParse(json);
    if (result.success) body = result.data;
    else errors.push(...toFieldErrors('body', result.error));
  } else if (text.trim() !== '') {
    throw new BadRequestError('This operation takes no request body.');
  }

  if (errors.length > 0) throw new ValidationError(errors);
  return { params, query, body } as ParsedRequest<z.output<P>, z.output<Q>, z.output<B>>;
}
