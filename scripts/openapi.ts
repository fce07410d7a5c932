/**
 * Writes docs/openapi.yaml, the OpenAPI 3.1 description of Citadel's HTTP API, from the route table
 * (contract/routes.ts): no path is written by hand. Schemas come from the routes' zod schemas
 * (`z.toJSONSchema`, draft 2020-12, the dialect of OpenAPI 3.1).
 *
 *   npm run openapi            regenerate docs/openapi.yaml
 *   npm run openapi -- --check exit 1 (with a diff) when the committed file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod';
import { MACHINE_SCOPES } from '../contract/api/admin';
import {
  MAX_JSON_BODY_BYTES,
  PROBLEM_CONTENT_TYPE,
  REQUEST_ID_HEADER,
  SECURITY_HEADERS,
} from '../contract/http';
import {
  type FieldError,
  PROBLEM_TYPES,
  type Problem,
  type ProblemKind,
  problemTypeUri,
} from '../contract/problems';
import { qualifiedScope, ROLES, SCOPES, type Scope } from '../contract/roles';
import { pathParameterNames, type RouteDefinition, servesMachines } from '../contract/route';
import { routeList } from '../contract/routes';
import { STAGES } from '../lib/config/schema';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Where the generated document is committed. */
export const OPENAPI_FILE = path.join(ROOT, 'docs/openapi.yaml');

type JsonObject = { [key: string]: unknown };

const HTTP_METHOD_ORDER = ['get', 'put', 'post', 'delete', 'patch'] as const;

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const schemaRef = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const headerRef = (name: string): JsonObject => ({ $ref: `#/components/headers/${name}` });
const responseRef = (name: string): JsonObject => ({ $ref: `#/components/responses/${name}` });
/** RFC 6901 escaping of one reference token. */
const pointerToken = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

const packageVersion = (): string =>
  (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// ---------------------------------------------------------------------------------------------------------
// Problem details (contract/problems.ts). The zod mirror below is checked against the `Problem` and
// `FieldError` interfaces at compile time, so the documented shape cannot drift from the contract.

const FIELD_ERROR_LOCATIONS = ['body', 'query', 'path', 'header'] as const;

const fieldErrorSchema = z.strictObject({
  in: z.enum(FIELD_ERROR_LOCATIONS).describe('Where the offending value was.'),
  path: z.string().describe('Dotted path of the field inside its location, or `(root)`.'),
  message: z.string().describe('What is wrong with it, written for the API client.'),
});

const problemSchema = z
  .object({
    type: z
      .string()
      .describe(
        'Stable problem type URN (`urn:citadel:problem:<kind>`); clients switch on it, never on title.',
      ),
    title: z.string().describe('Short summary of the problem type.'),
    status: z
      .number()
      .int()
      .min(400)
      .max(599)
      .describe('The HTTP status, always equal to the response status.'),
    detail: z.string().describe('Explanation of this occurrence, written for the API client.'),
    instance: z
      .string()
      .describe("The request id (API Gateway's): quote it to support to find the request in the logs."),
    errors: z
      .array(fieldErrorSchema)
      .optional()
      .describe('Field-level failures of a `validation` problem (at most 20).'),
  })
  .describe('RFC 9457 problem details: the body of every error response (`application/problem+json`).');

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const problemMatchesContract: Same<
  z.infer<typeof problemSchema>,
  Omit<Problem, 'errors'> & { errors?: FieldError[] }
> &
  Same<z.infer<typeof fieldErrorSchema>, FieldError> = true;
void problemMatchesContract;

/** The body WAF sends for its rate-based rules: it cannot template the request id, so there is no `instance`. */
const rateLimitedSchema = problemSchema
  .omit({ instance: true, errors: true })
  .describe(
    'Rate-limit body sent by the web ACL (AWS WAF): a problem without `instance`, as `application/json`.',
  );

// ---------------------------------------------------------------------------------------------------------
// Response headers.

const SECURITY_HEADER_COMPONENTS = Object.entries(SECURITY_HEADERS).map(([name, value]) => ({
  name,
  component: name.replace(/-/g, ''),
  value,
}));

const securityHeaders = (): JsonObject =>
  Object.fromEntries(SECURITY_HEADER_COMPONENTS.map((h) => [h.name, headerRef(h.component)]));

const headerComponents = (): JsonObject => ({
  ...Object.fromEntries(
    SECURITY_HEADER_COMPONENTS.map((h) => [
      h.component,
      {
        description: "Security header carried by every response, including API Gateway's and WAF's own.",
        required: true,
        schema: { type: 'string', const: h.value },
      },
    ]),
  ),
  RequestId: {
    description: "API Gateway's request id: the correlation id in the logs and the `instance` of problems.",
    required: true,
    schema: { type: 'string' },
  },
  ProblemRequestId: {
    description:
      "API Gateway's request id, on errors produced by a handler. Errors produced by API Gateway itself " +
      '(authorizer, throttling, validation, routing) cannot set it: there the request id is the `instance`.',
    required: false,
    schema: { type: 'string' },
  },
  RetryAfter: {
    description: 'Seconds to wait before retrying (sent by the web ACL on 429 and by handlers on 503).',
    required: false,
    schema: { type: 'integer', minimum: 0 },
  },
  WwwAuthenticate: {
    description: 'Bearer challenge, sent when a handler refuses the token.',
    required: false,
    schema: { type: 'string', const: 'Bearer' },
  },
  Allow: {
    description: 'The methods the resource supports.',
    required: true,
    schema: { type: 'string' },
  },
});

// ---------------------------------------------------------------------------------------------------------
// Error responses: one reusable response per status, listing the problem types it can carry.

interface ProblemResponse {
  readonly status: number;
  readonly name: string;
  readonly kinds: readonly ProblemKind[];
  readonly description: string;
  /** `detail` of the documented example. */
  readonly example: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const PROBLEM_RESPONSES: readonly ProblemResponse[] = [
  {
    status: 400,
    name: 'BadRequest',
    kinds: ['badRequest', 'validation'],
    description:
      'The request is malformed or fails the route schema (a `validation` problem lists each field in ' +
      '`errors`). Unknown or repeated query parameters, and bodies on operations that take none, are refused.',
    example: '1 field failed validation: limit must be a whole number from 1 to 100. See errors.',
  },
  {
    status: 401,
    name: 'Unauthorized',
    kinds: ['unauthorized'],
    description: 'No access token, or an invalid or expired one.',
    example: 'A valid access token is required.',
    headers: { 'WWW-Authenticate': 'WwwAuthenticate' },
  },
  {
    status: 403,
    name: 'Forbidden',
    kinds: ['forbidden'],
    description:
      "The token lacks the operation's scopes or the caller's role is too low, the API key is missing or " +
      'invalid (machine API), or the web ACL blocked the request.',
    example: 'You are not allowed to do this.',
  },
  {
    status: 404,
    name: 'NotFound',
    kinds: ['notFound'],
    description: 'No such resource (or one the caller may not see).',
    example: 'No such resource.',
  },
  {
    status: 405,
    name: 'MethodNotAllowed',
    kinds: ['methodNotAllowed'],
    description: 'The resource does not support the request method; `Allow` lists those it does.',
    example: 'This resource supports GET, OPTIONS.',
    headers: { Allow: 'Allow' },
  },
  {
    status: 406,
    name: 'NotAcceptable',
    kinds: ['notAcceptable'],
    description: '`Accept` excludes both `application/json` and `application/problem+json`.',
    example: 'This API answers application/json and application/problem+json only.',
  },
  {
    status: 413,
    name: 'PayloadTooLarge',
    kinds: ['payloadTooLarge'],
    description: `The request body exceeds ${MAX_JSON_BODY_BYTES} bytes.`,
    example: `Request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes.`,
  },
  {
    status: 415,
    name: 'UnsupportedMediaType',
    kinds: ['unsupportedMediaType'],
    description: 'The body is not sent as `application/json`.',
    example: 'Send the body as application/json.',
  },
  {
    status: 429,
    name: 'TooManyRequests',
    kinds: ['tooManyRequests'],
    description:
      'Throttled: stage or usage-plan limits (API Gateway, `application/problem+json`) or per-IP / per-key ' +
      'rate rules of the web ACL (`application/json` with `Retry-After`).',
    example: 'Too Many Requests',
    headers: { 'Retry-After': 'RetryAfter' },
  },
  {
    status: 500,
    name: 'InternalError',
    kinds: ['internal'],
    description: 'Unexpected error; quote `instance` to support. No internals are disclosed.',
    example: 'An unexpected error occurred. Quote the instance (request id) when you contact support.',
  },
  {
    status: 502,
    name: 'BadGateway',
    kinds: ['internal'],
    description: 'The integration failed (API Gateway could not get a valid answer from the handler).',
    example: 'Internal server error',
  },
  {
    status: 503,
    name: 'ServiceUnavailable',
    kinds: ['serviceUnavailable'],
    description: 'A dependency (database, identity provider, key management) is unavailable; retry later.',
    example: 'The database is unavailable; retry later.',
    headers: { 'Retry-After': 'RetryAfter' },
  },
  {
    status: 504,
    name: 'GatewayTimeout',
    kinds: ['gatewayTimeout'],
    description: 'The handler did not answer in time.',
    example: 'Endpoint request timed out',
  },
];

const problemExample = (kind: ProblemKind, status: number, detail: string): JsonObject => ({
  type: problemTypeUri(kind),
  title: PROBLEM_TYPES[kind].title,
  status,
  detail,
  instance: 'c1a3f6a2-7d4e-4b9f-9a51-0f7a2d6b8e10',
  ...(kind === 'validation'
    ? { errors: [{ in: 'path', path: 'id', message: 'must be a file id (UUID)' }] }
    : {}),
});

const problemResponseComponent = (r: ProblemResponse): JsonObject => {
  const kinds = r.kinds.map((k) => `\`${problemTypeUri(k)}\``).join(', ');
  const last = r.kinds[r.kinds.length - 1] as ProblemKind;
  const problem = { schema: schemaRef('Problem'), example: problemExample(last, r.status, r.example) };
  return {
    description: `${r.description} Problem type${r.kinds.length > 1 ? 's' : ''}: ${kinds}.`,
    headers: {
      ...securityHeaders(),
      [REQUEST_ID_HEADER]: headerRef('ProblemRequestId'),
      ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([name, c]) => [name, headerRef(c)])),
    },
    content:
      r.status === 429
        ? { [PROBLEM_CONTENT_TYPE]: problem, 'application/json': { schema: schemaRef('RateLimited') } }
        : { [PROBLEM_CONTENT_TYPE]: problem },
  };
};

/** The error statuses an operation can answer, from what its route declares. */
export const problemStatuses = (route: RouteDefinition): number[] => {
  const statuses = [400, 403, 405, 406, 429, 500, 502, 504];
  if (route.auth.kind === 'authenticated') statuses.push(401);
  if (pathParameterNames(route.path).length > 0) statuses.push(404);
  if (route.body) statuses.push(413, 415);
  if ((route.needs ?? []).length > 0) statuses.push(503);
  return statuses.sort((a, b) => a - b);
};

// ---------------------------------------------------------------------------------------------------------
// Schemas from zod.

/**
 * Adds the JSON Schema of `schema` to `schemas` as `name`. `$defs` that zod emits (schemas registered with
 * an id, recursive ones) are hoisted into `components.schemas` so every `$ref` resolves within the document.
 */
function addSchema(
  schemas: Record<string, JsonObject>,
  name: string,
  schema: z.ZodType,
  io: 'input' | 'output',
): JsonObject {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'throw',
  }) as JsonObject;
  const { $schema: _dialect, $defs, ...rest } = json;
  const rewritten = JSON.parse(
    JSON.stringify(rest).replace(
      /"#\/\$defs\/([^"]+)"/g,
      (_m, def: string) => `"#/components/schemas/${def}"`,
    ),
  ) as JsonObject;
  for (const [def, value] of Object.entries(($defs ?? {}) as Record<string, JsonObject>)) {
    const hoisted = JSON.parse(
      JSON.stringify(value).replace(
        /"#\/\$defs\/([^"]+)"/g,
        (_m, d: string) => `"#/components/schemas/${d}"`,
      ),
    ) as JsonObject;
    const existing = schemas[def];
    if (existing && JSON.stringify(existing) !== JSON.stringify(hoisted)) {
      throw new Error(`openapi: two different schemas are both named "${def}"`);
    }
    schemas[def] = hoisted;
  }
  if (schemas[name]) throw new Error(`openapi: schema name "${name}" is used twice`);
  schemas[name] = rewritten;
  return rewritten;
}

const objectProperties = (
  json: JsonObject,
  where: string,
): { properties: JsonObject; required: string[] } => {
  if (json.type !== 'object' || typeof json.properties !== 'object' || json.properties === null) {
    throw new Error(`openapi: ${where} must be a zod object schema`);
  }
  return {
    properties: json.properties as JsonObject,
    required: (json.required as string[] | undefined) ?? [],
  };
};

// ---------------------------------------------------------------------------------------------------------
// Servers and security.

const serverUrl = 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}';
const serverVariables = (api: string): JsonObject => ({
  restApiId: { default: 'restApiId', description: `Id of the ${api} REST API (stack Api, console or CLI).` },
  region: { default: 'us-east-1', description: 'AWS region of the deployment.' },
  stage: { default: 'dev', enum: [...STAGES], description: 'Stage name, also the base path.' },
});
const PUBLIC_SERVER: JsonObject = {
  url: serverUrl,
  description:
    'Public API (`citadel-<stage>`): every operation; people sign in through Cognito, browsers are allowed ' +
    "the stage's CORS origins.",
  variables: serverVariables('citadel-<stage>'),
};
const MACHINE_SERVER: JsonObject = {
  url: serverUrl,
  description:
    'Machine API (`citadel-<stage>-machine`): public operations and those open to machine clients ' +
    "(`x-citadel-machines: true`); every authenticated call also needs the client's usage-plan API key in `x-api-key`.",
  variables: serverVariables('citadel-<stage>-machine'),
};

const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'files.read': 'List, read and download files',
  'files.write': 'Upload and delete files',
  admin: 'Administer API clients and users',
};

const securitySchemes = (): JsonObject => {
  const scopes = Object.fromEntries(SCOPES.map((s) => [qualifiedScope(s), SCOPE_DESCRIPTIONS[s]]));
  return {
    cognito: {
      type: 'oauth2',
      description:
        'Amazon Cognito user pool (`{domain}` is the managed-login domain, `citadel-<stage>-<account>.auth.' +
        '<region>.amazoncognito.com`). People use the authorization-code flow with PKCE (S256, public web ' +
        'client); machine clients use client credentials. Send the access token as `Authorization: Bearer`. ' +
        'API Gateway accepts a token carrying any one of the listed scopes; handlers then check the role ' +
        '(Cognito group) against `x-citadel-min-role`.',
      flows: {
        authorizationCode: {
          authorizationUrl: 'https://{domain}/oauth2/authorize',
          tokenUrl: 'https://{domain}/oauth2/token',
          refreshUrl: 'https://{domain}/oauth2/token',
          scopes,
        },
        clientCredentials: {
          tokenUrl: 'https://{domain}/oauth2/token',
          scopes: Object.fromEntries(MACHINE_SCOPES.map((s) => [qualifiedScope(s), SCOPE_DESCRIPTIONS[s]])),
        },
      },
    },
    apiKey: {
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
      description:
        'Usage-plan API key of a machine client (basic, standard or premium tier). Required, together with a ' +
        'Cognito token, by every authenticated operation of the machine API; it meters, Cognito authorizes.',
    },
  };
};

const security = (route: RouteDefinition, withApiKey: boolean): JsonObject[] =>
  route.auth.kind === 'public'
    ? []
    : route.auth.scopes.map((s) => ({ cognito: [qualifiedScope(s)], ...(withApiKey ? { apiKey: [] } : {}) }));

// ---------------------------------------------------------------------------------------------------------
// Operations.

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' };

const accessText = (route: RouteDefinition): string => {
  if (route.auth.kind === 'public')
    return servesMachines(route)
      ? 'Public: no token needed. Served by both APIs.'
      : 'Public: no token needed. For people: served by the public API only.';
  const listed = route.auth.scopes.map((s) => `\`${qualifiedScope(s)}\``);
  const scopes = listed.length === 1 ? listed[0] : `one of ${listed.join(', ')}`;
  const machines = route.auth.machines
    ? 'Machine clients may call it on the machine API (token and `x-api-key`), acting on their own resources.'
    : 'Not open to machine clients: served by the public API only.';
  return (
    `Requires an access token carrying ${scopes}. ` +
    `People need the role \`${route.auth.minRole}\` or above (${ROLES.join(' < ')}). ${machines}`
  );
};

function operation(route: RouteDefinition, schemas: Record<string, JsonObject>): JsonObject {
  const base = pascal(route.operationId);
  const parameters: JsonObject[] = [];

  const names = pathParameterNames(route.path);
  if (names.length > 0 || route.params) {
    if (!route.params)
      throw new Error(`openapi: ${route.operationId} has path parameters but no params schema`);
    const name = `${base}Params`;
    const { properties } = objectProperties(addSchema(schemas, name, route.params, 'input'), name);
    const declared = Object.keys(properties).sort();
    if (JSON.stringify(declared) !== JSON.stringify([...names].sort())) {
      throw new Error(`openapi: ${route.operationId}: params [${declared}] do not match ${route.path}`);
    }
    for (const p of names) {
      parameters.push({
        name: p,
        in: 'path',
        required: true,
        schema: { $ref: `#/components/schemas/${name}/properties/${pointerToken(p)}` },
      });
    }
  }
  if (route.query) {
    const name = `${base}Query`;
    const { properties, required } = objectProperties(addSchema(schemas, name, route.query, 'input'), name);
    for (const q of Object.keys(properties)) {
      parameters.push({
        name: q,
        in: 'query',
        required: required.includes(q),
        schema: { $ref: `#/components/schemas/${name}/properties/${pointerToken(q)}` },
      });
    }
  }

  let requestBody: JsonObject | undefined;
  if (route.body) {
    const name = `${base}Body`;
    const strict = addSchema(schemas, name, route.body, 'input').additionalProperties === false;
    requestBody = {
      description: `JSON, at most ${MAX_JSON_BODY_BYTES} bytes${strict ? '; unknown fields are refused' : ''}.`,
      required: true,
      content: { 'application/json': { schema: schemaRef(name) } },
    };
  }

  const { status } = route.response;
  let content: JsonObject | undefined;
  if (status !== 204) {
    const name = `${base}Response`;
    addSchema(schemas, name, route.response.schema, 'output');
    content = { 'application/json': { schema: schemaRef(name) } };
  }
  const byStatus = new Map(PROBLEM_RESPONSES.map((r) => [r.status, r]));
  const responses: JsonObject = {
    [String(status)]: {
      description: STATUS_TEXT[status] ?? `Status ${status}`,
      headers: { ...securityHeaders(), [REQUEST_ID_HEADER]: headerRef('RequestId') },
      ...(content ? { content } : {}),
    },
    ...Object.fromEntries(
      problemStatuses(route).map((s) => {
        const r = byStatus.get(s);
        if (!r) throw new Error(`openapi: no problem response for status ${s}`);
        return [String(s), responseRef(r.name)];
      }),
    ),
  };

  const machines = servesMachines(route);
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: accessText(route),
    tags: [tagOf(route)],
    ...(machines ? {} : { servers: [PUBLIC_SERVER] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
    security: security(route, false),
    ...(route.auth.kind === 'authenticated' ? { 'x-citadel-min-role': route.auth.minRole } : {}),
    'x-citadel-machines': machines,
    ...(route.auth.kind === 'authenticated' && machines
      ? { 'x-citadel-machine-security': security(route, true) }
      : {}),
  };
}

/** `/v1/admin/api-clients` → `admin`. */
const tagOf = (route: RouteDefinition): string => route.path.split('/').filter(Boolean)[1] ?? 'api';

const sortedObject = <T>(entries: Iterable<readonly [string, T]>): Record<string, T> =>
  Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

// ---------------------------------------------------------------------------------------------------------
// The document.

/** The OpenAPI document for `routes` (the route table by default), with a stable key order. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[] = routeList): JsonObject {
  const schemas: Record<string, JsonObject> = {};
  addSchema(schemas, 'Problem', problemSchema, 'output');
  addSchema(schemas, 'RateLimited', rateLimitedSchema, 'output');

  const seen = new Set<string>();
  const pathItems = new Map<string, Map<string, JsonObject>>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key) || seen.has(route.operationId)) {
      throw new Error(`openapi: duplicate route ${key} (${route.operationId})`);
    }
    seen.add(key).add(route.operationId);
    const item = pathItems.get(route.path) ?? new Map<string, JsonObject>();
    item.set(route.method.toLowerCase(), operation(route, schemas));
    pathItems.set(route.path, item);
  }
  const paths = sortedObject(
    [...pathItems].map(([p, item]) => {
      const ordered = HTTP_METHOD_ORDER.filter((m) => item.has(m)).map((m) => [m, item.get(m)] as const);
      return [p, Object.fromEntries(ordered)] as const;
    }),
  );
  const tags = [...new Set(routes.map(tagOf))].sort().map((name) => ({ name }));

  return {
    openapi: '3.1.0',
    info: {
      title: 'Citadel API',
      version: packageVersion(),
      summary: 'Secure serverless backend: files, identity and administration.',
      description: [
        'Generated from the route table (`contract/routes.ts`) by `scripts/openapi.ts`: do not edit by hand, run',
        '`npm run openapi`.',
        '',
        'Two REST APIs serve the same handlers:',
        '',
        '- **Public API** (`citadel-<stage>`): every operation, for people signed in with Cognito',
        '  (authorization code with PKCE); CORS for the stage origins.',
        '- **Machine API** (`citadel-<stage>-machine`): public operations and those marked',
        '  `x-citadel-machines: true`, for machine clients using the client-credentials grant. Every',
        '  authenticated call there also needs the client usage-plan API key in `x-api-key`',
        '  (`x-citadel-machine-security` states the full requirement).',
        '',
        'Authorization: API Gateway checks the Cognito access token and that it carries one of the',
        "operation's scopes (`security` lists the alternatives); the handler then checks the caller's role",
        '(Cognito group, `x-citadel-min-role`; guest < user < manager < admin).',
        '',
        'Every error is `application/problem+json` (RFC 9457, schema `Problem`); every response carries the',
        `security headers and, from handlers, \`${REQUEST_ID_HEADER}\`.`,
      ].join('\n'),
    },
    servers: [PUBLIC_SERVER, MACHINE_SERVER],
    tags,
    paths,
    components: {
      schemas: sortedObject(Object.entries(schemas)),
      responses: sortedObject(PROBLEM_RESPONSES.map((r) => [r.name, problemResponseComponent(r)] as const)),
      headers: sortedObject(Object.entries(headerComponents())),
      securitySchemes: securitySchemes(),
    },
  };
}

const HEADER =
  '# Generated by scripts/openapi.ts from contract/routes.ts. Do not edit: run `npm run openapi`.\n';

/** The YAML text of docs/openapi.yaml for `routes`. */
export function renderOpenApi(routes: readonly RouteDefinition[] = routeList): string {
  return HEADER + stringify(buildOpenApiDocument(routes), { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * A short unified-style diff of two texts: changed lines (`-` before, `+` after) with two lines of context,
 * in hunks headed by their line numbers. Common prefix and suffix are trimmed, then the middle is aligned
 * by longest common subsequence (or, when too large for that, shown as a block replacement).
 */
export function lineDiff(before: string, after: string, maxLines = 80): string {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  type Edit = { readonly op: ' ' | '-' | '+'; readonly text: string; readonly line: number };
  const middle: Edit[] = [];
  const width = y.length + 1;
  if (x.length * y.length <= 4_000_000) {
    const lcs = new Uint32Array((x.length + 1) * width);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        lcs[i * width + j] =
          x[i] === y[j]
            ? (lcs[(i + 1) * width + j + 1] as number) + 1
            : Math.max(lcs[(i + 1) * width + j] as number, lcs[i * width + j + 1] as number);
      }
    }
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) {
        middle.push({ op: ' ', text: x[i] as string, line: start + j + 1 });
        i++;
        j++;
      } else if (
        i < x.length &&
        (j >= y.length || (lcs[(i + 1) * width + j] as number) >= (lcs[i * width + j + 1] as number))
      ) {
        middle.push({ op: '-', text: x[i] as string, line: start + j + 1 });
        i++;
      } else {
        middle.push({ op: '+', text: y[j] as string, line: start + j + 1 });
        j++;
      }
    }
  } else {
    middle.push(...x.map((text) => ({ op: '-' as const, text, line: start + 1 })));
    middle.push(...y.map((text, k) => ({ op: '+' as const, text, line: start + k + 1 })));
  }
  const context = 2;
  const edits: Edit[] = [
    ...a.slice(Math.max(0, start - context), start).map((text, k) => ({
      op: ' ' as const,
      text,
      line: Math.max(0, start - context) + k + 1,
    })),
    ...middle,
    ...b.slice(endB, endB + context).map((text, k) => ({ op: ' ' as const, text, line: endB + k + 1 })),
  ];
  const out: string[] = [];
  let lastShown = -1;
  edits.forEach((edit, k) => {
    const nearChange = edits.slice(Math.max(0, k - context), k + context + 1).some((e) => e.op !== ' ');
    if (!nearChange) return;
    if (out.length === 0 || k !== lastShown + 1) out.push(`@@ generated line ${edit.line} @@`);
    out.push(`${edit.op} ${edit.text}`);
    lastShown = k;
  });
  return out.length > maxLines
    ? [...out.slice(0, maxLines), `… ${out.length - maxLines} more diff lines`].join('\n')
    : out.join('\n');
}

/** Why the committed document is stale (with a diff: `-` committed, `+` generated), or undefined when current. */
export function staleness(committed: string | undefined, generated: string): string | undefined {
  if (committed === generated) return undefined;
  const file = path.relative(ROOT, OPENAPI_FILE);
  if (committed === undefined) return `${file} does not exist. Run \`npm run openapi\` and commit it.`;
  return (
    `${file} is out of date with the route table. Run \`npm run openapi\` and commit the result.\n` +
    `--- ${file} (committed)\n+++ generated from contract/routes.ts\n${lineDiff(committed, generated)}`
  );
}

function main(argv: readonly string[]): number {
  const generated = renderOpenApi();
  if (argv.includes('--check')) {
    let committed: string | undefined;
    try {
      committed = readFileSync(OPENAPI_FILE, 'utf8');
    } catch {
      committed = undefined;
    }
    const problem = staleness(committed, generated);
    if (problem) {
      console.error(problem);
      return 1;
    }
    console.log(`${path.relative(ROOT, OPENAPI_FILE)} is up to date (${routeList.length} operations).`);
    return 0;
  }
  writeFileSync(OPENAPI_FILE, generated);
  console.log(`Wrote ${path.relative(ROOT, OPENAPI_FILE)} (${routeList.length} operations).`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
