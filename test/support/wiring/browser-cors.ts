/**
 * Whether a browser page can read every error it can cause, from each origin the stage allows, and from no other:
 * WAF's own refusals (its custom responses) and API Gateway's (the gateway responses of the public API, resolved
 * for the request as API Gateway maps them). A page reads a cross-origin answer only when it carries
 * `Access-Control-Allow-Origin` equal to the page's origin (Fetch standard, CORS check); `*` is never used.
 */
import { problemTypeUri } from '../../../contract/problems';
import type { StageConfig, StageName } from '../../../lib/config';
import type { CfnTemplate } from './stages';
import type { AclDiscovery } from './waf-acls';
import type { Json, WafRequest } from './waf-evaluator';
import { browserOversize, foreignOrigins, hammering, run, type ScenarioResult } from './waf-traffic';

export interface BrowserReport {
  readonly scenarios: readonly (ScenarioResult & { readonly expected: string })[];
  /** Gateway response types checked × origins. */
  readonly gatewayChecks: number;
  readonly problems: readonly string[];
}

const ACAO = 'Access-Control-Allow-Origin';

/** A header of WAF's custom response, by name, whatever its case. */
const headerOf = (headers: Readonly<Record<string, string>> | undefined, name: string) =>
  Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

/** The public API's gateway responses: type → the headers API Gateway maps for them. */
function gatewayResponses(stage: StageName, templates: Readonly<Record<string, CfnTemplate>>) {
  const out = new Map<string, Record<string, string>>();
  for (const template of Object.values(templates)) {
    const apis = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::ApiGateway::RestApi' && (r.Properties as Json)?.Name === `citadel-${stage}`,
    );
    for (const [apiId] of apis) {
      for (const r of Object.values(template.Resources)) {
        const p = r.Properties as Json;
        if (r.Type !== 'AWS::ApiGateway::GatewayResponse' || p?.RestApiId?.Ref !== apiId) continue;
        out.set(p.ResponseType, p.ResponseParameters ?? {});
      }
    }
  }
  return out;
}

/**
 * The value API Gateway sends for a gateway response header mapped as `mapping`: a quoted static value, or a
 * request header (`method.request.header.<name>`; absent when the request has none).
 */
function resolved(mapping: string | undefined, request: WafRequest): string | undefined {
  if (mapping === undefined) return undefined;
  const header = /^method\.request\.header\.(.+)$/.exec(mapping)?.[1];
  if (header) return request.headers[header.toLowerCase()];
  const literal = /^'(.*)'$/.exec(mapping)?.[1];
  if (literal === undefined) throw new Error(`gateway response header mapping ${mapping}: not modelled`);
  return literal.replace(/\\'/g, "'");
}

/** Expected refusals of browser requests, each of which must be readable from the page's own origin. */
interface Readable {
  readonly scenario: string;
  readonly requests: readonly WafRequest[];
  readonly rule: string;
  readonly blocked: number;
  readonly status: number;
}

export function browserChecks(
  found: AclDiscovery,
  stage: StageName,
  config: StageConfig,
  templates: Readonly<Record<string, CfnTemplate>>,
): BrowserReport {
  const problems: string[] = [];
  const scenarios: (ScenarioResult & { expected: string })[] = [];
  const origins = config.api.corsOrigins;
  const limit = config.api.perIpRateLimit.limit;
  const rateRule = found.acls.publicApi?.acl.Rules.find((r: { Name: string }) => r.Name === 'PerIpRateLimit');
  const hammer = Math.max(limit, rateRule?.Statement?.RateBasedStatement?.Limit ?? 0) * 2;

  // WAF's refusals of a page on an allowed origin: counted, then answered with that origin.
  const readable: Readable[] = origins.flatMap((origin) => {
    const [small, large] = browserOversize(stage, origin, 64 * 1024);
    return [
      {
        scenario: `a page on ${origin} hammering the public API: ${hammer} in a minute`,
        requests: hammering(stage, hammer, false, origin),
        rule: 'PerIpRateLimit',
        blocked: hammer - limit,
        status: 429,
      },
      {
        scenario: `a page on ${origin} sending 9,000 bytes to a small-body route`,
        requests: [small as WafRequest],
        rule: 'BodyOverCoreRuleSetLimit',
        blocked: 1,
        status: 413,
      },
      {
        scenario: `a page on ${origin} sending a complete body over the API limit`,
        requests: [large as WafRequest],
        rule: 'BodyOverApiLimit',
        blocked: 1,
        status: 413,
      },
    ];
  });
  for (const r of readable) {
    const result = run(found, 'publicApi', r.scenario, r.requests);
    const expected = `${r.blocked} refused by ${r.rule} (${r.status}), readable from the page's origin`;
    scenarios.push({ ...result, expected });
    const right = result.blocked.filter((b) => b.by.includes(r.rule) && b.status === r.status);
    if (right.length !== r.blocked || result.blocked.length !== r.blocked) {
      problems.push(
        `browser refusal not as expected: ${r.scenario}: expected ${r.blocked} refused by ${r.rule} (${r.status}); got ${result.blocked.length}, by ${[...new Set(result.blocked.map((b) => `${b.rule} (${b.status})`))].join(', ') || 'none'}`,
      );
    }
    const unreadable = result.blocked.filter((b) => headerOf(b.response?.headers, ACAO) !== b.origin);
    if (unreadable.length > 0) {
      const first = unreadable[0];
      problems.push(
        `a page on ${first?.origin} cannot read WAF's ${first?.status} (${first?.rule}): ${ACAO} is ${headerOf(first?.response?.headers, ACAO) ?? 'absent'}; the browser reports "Failed to fetch" (${unreadable.length} of ${result.blocked.length} refusals)`,
      );
    }
    const retry = result.blocked.filter((b) => b.status === 429);
    const hidden = retry.filter(
      (b) =>
        !headerOf(b.response?.headers, 'Retry-After') ||
        !/\bRetry-After\b/i.test(headerOf(b.response?.headers, 'Access-Control-Expose-Headers') ?? ''),
    );
    if (hidden.length > 0)
      problems.push(
        `a page on ${hidden[0]?.origin} cannot honour WAF's Retry-After: it is missing or not exposed (Access-Control-Expose-Headers) on ${hidden.length} 429s`,
      );
  }

  // A machine client (no Origin) is refused without any CORS header.
  const machine = run(
    found,
    'publicApi',
    `a machine client hammering the public API: ${hammer} in a minute`,
    hammering(stage, hammer, false),
  );
  scenarios.push({ ...machine, expected: `${hammer - limit} refused (429), no ${ACAO}` });
  if (machine.blocked.some((b) => headerOf(b.response?.headers, ACAO) !== undefined))
    problems.push(`WAF's refusal of a request without Origin carries ${ACAO}`);

  // Pages on any other origin: refused first, with a JSON problem, before anything else sees them.
  const foreign = foreignOrigins(stage, origins);
  const refused = run(found, 'publicApi', 'pages on origins the stage does not list', foreign);
  scenarios.push({ ...refused, expected: `all ${foreign.length} refused by ForeignOrigin (403)` });
  for (const b of refused.blocked) {
    let problem: { status?: number; type?: string } = {};
    try {
      problem = JSON.parse(b.response?.body ?? '');
    } catch {
      // reported below
    }
    if (
      b.rule !== 'ForeignOrigin' ||
      b.status !== 403 ||
      problem.status !== 403 ||
      problem.type !== problemTypeUri('forbidden')
    )
      problems.push(
        `a page on ${b.origin} is refused by ${b.rule} (${b.status}) without the foreign-origin problem`,
      );
    if (headerOf(b.response?.headers, ACAO) !== undefined)
      problems.push(`the refusal of a page on ${b.origin} carries ${ACAO}`);
  }

  // API Gateway's own errors, for what WAF lets through.
  const responses = gatewayResponses(stage, templates);
  if (responses.size === 0) problems.push('the public API has no gateway responses to check');
  let gatewayChecks = 0;
  const allowedBrowser = (origin: string): WafRequest => ({
    at: 0,
    ip: '198.51.100.77',
    method: 'GET',
    path: `/${stage}/v1/me`,
    headers: { origin, authorization: 'Bearer not-a-valid-token' },
    what: `GET /v1/me from ${origin}`,
  });
  const types = [...responses.keys()];
  const listed = (t: string[]) =>
    t.length === types.length ? `all ${t.length} (${t.slice(0, 3).join(', ')}, …)` : t.join(', ');
  for (const origin of origins) {
    const request = allowedBrowser(origin);
    const wrong = new Map<string, string[]>();
    for (const [type, params] of responses) {
      gatewayChecks++;
      const sent = resolved(params[`gatewayresponse.header.${ACAO}`], request) ?? 'absent';
      if (sent !== origin) wrong.set(sent, [...(wrong.get(sent) ?? []), type]);
    }
    for (const [sent, t] of wrong)
      problems.push(`a page on ${origin} cannot read API Gateway's errors ${listed(t)}: ${ACAO} is ${sent}`);
  }
  const passed = foreign.filter((f) => refused.allowed.includes(f.what));
  if (passed.length > 0)
    problems.push(
      `${passed.length} of ${foreign.length} pages on origins the stage does not list pass WAF (${passed.map((r) => r.headers.origin).join(', ')})`,
    );
  for (const r of passed) {
    const readable = types.filter(
      (type) => resolved(responses.get(type)?.[`gatewayresponse.header.${ACAO}`], r) === r.headers.origin,
    );
    if (readable.length > 0)
      problems.push(
        `a page on ${r.headers.origin}, an origin the stage does not list, can read API Gateway's errors ${listed(readable)}`,
      );
  }
  return { scenarios, gatewayChecks, problems: [...new Set(problems)] };
}
