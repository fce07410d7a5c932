/**
 * bench:cold's inputs and outputs, kept apart from the benchmark so a fast test can check them: the API Gateway
 * REST proxy event of one request (built by the local gateway's own `toProxyEvent`, with the claim map its Cognito
 * authorizer passes), the Lambda context, the script a fresh Node process runs, and the line it reports.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Role } from '../contract/roles';
import type { RouteDefinition } from '../contract/route';
import type { DevTokenIssuer } from '../local/dev-tokens';
import { authorizerClaims, compileRoutes, matchRoute, toProxyEvent } from '../local/gateway';
import { LocalContext } from '../local/lambda-context';

export interface RequestInput {
  /** The request path, e.g. `/v1/files/<id>`; it must match `route`. */
  readonly path: string;
  /** A JSON body (sent as `application/json`). @default none */
  readonly body?: unknown;
  /** The Cognito authorizer's claim map ({@link authorizerClaimsFor}). */
  readonly claims: Record<string, string>;
  readonly requestId: string;
}

/** The REST proxy event API Gateway sends `route`'s function for this request, as the local gateway builds it. */
export function proxyEvent(route: RouteDefinition, input: RequestInput): APIGatewayProxyEvent {
  const match = matchRoute(compileRoutes([route]), route.method, input.path);
  if (match.kind !== 'route') {
    throw new Error(`${route.method} ${input.path} is not ${route.method} ${route.path}`);
  }
  const body = input.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(input.body));
  return toProxyEvent({
    method: route.method,
    path: input.path,
    query: new URLSearchParams(),
    headers: {
      host: 'api.citadel.example',
      accept: 'application/json',
      'user-agent': 'citadel-bench-cold',
      ...(input.body === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(body.length) }),
    },
    body,
    sourceIp: '203.0.113.10',
    compiled: match.compiled,
    pathParameters: match.pathParameters,
    claims: input.claims,
    requestId: input.requestId,
    stage: 'bench',
  });
}

/** The claims API Gateway's Cognito authorizer passes for a person in `role`: a dev token, verified, as strings. */
export async function authorizerClaimsFor(
  tokens: DevTokenIssuer,
  role: Role,
): Promise<Record<string, string>> {
  return authorizerClaims(await tokens.verify(await tokens.mint({ role })));
}

/**
 * The Lambda context of one invocation: the local server's own (`LocalContext`), whose fields are its JSON form;
 * the child process adds the methods.
 */
export const lambdaContext = (route: RouteDefinition, requestId: string): LocalContext =>
  new LocalContext(`citadel-bench-${route.operationId}`, requestId, route);

/** Prefix of the line the child prints; the handler's own log lines and EMF metrics share its stdout. */
export const RESULT_MARKER = 'BENCH_COLD_RESULT ';

/**
 * What a fresh `node --input-type=module -e` process runs, as `node -e SCRIPT <bundle> <event> <context> <status>`:
 * import the bundle (and let module-init microtasks finish, as bench:bundles does), invoke the handler once, and
 * read `performance.now()` (milliseconds since this process started: Node's time origin) when the import is done
 * and when the response is in hand. A status other than the expected one fails the process with the response.
 * It exits at once: the pool's connection and the SDK's keep-alive socket would hold the event loop open.
 */
export const CHILD_SCRIPT = `
const [file, eventJson, contextJson, expected] = process.argv.slice(1);
const mod = await import(file);
await new Promise((r) => setImmediate(r));
const loadedMs = performance.now();
const handler = mod.handler ?? mod.default?.handler;
const deadline = Date.now() + 10000;
const context = { ...JSON.parse(contextJson), getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done() {}, fail() {}, succeed() {} };
const response = await handler(JSON.parse(eventJson), context);
const firstMs = performance.now();
if (!response || response.statusCode !== Number(expected)) {
  process.stderr.write('expected ' + expected + ', got ' + JSON.stringify(response) + '\\n');
  process.exit(1);
}
process.stdout.write('\\n${RESULT_MARKER}' + JSON.stringify({ loadedMs, firstMs, statusCode: response.statusCode, body: response.body }) + '\\n');
process.exit(0);
`;

export interface ChildResult {
  /** Process start to the bundle imported and initialised. */
  readonly loadedMs: number;
  /** Process start to the first response in hand. */
  readonly firstMs: number;
  readonly statusCode: number;
  readonly body: string;
}

/** The child's result line among everything else it printed; throws when there is none or it is malformed. */
export function parseChildOutput(stdout: string): ChildResult {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error(`no ${RESULT_MARKER.trim()} line in:\n${stdout.slice(-2000)}`);
  const result = JSON.parse(line.slice(RESULT_MARKER.length)) as Partial<ChildResult>;
  const { loadedMs, firstMs, statusCode, body } = result;
  if (
    typeof loadedMs !== 'number' ||
    typeof firstMs !== 'number' ||
    typeof statusCode !== 'number' ||
    typeof body !== 'string' ||
    !(loadedMs > 0 && firstMs >= loadedMs)
  ) {
    throw new Error(`malformed result line: ${line}`);
  }
  return { loadedMs, firstMs, statusCode, body };
}
