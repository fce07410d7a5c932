/**
 * A small evaluator of the synthesized `AWS::WAFv2::WebACL` rules Citadel uses, to run Citadel's own requests
 * (and abuse) through them offline. It implements, from the WAF developer guide:
 * - rules in priority order; a Block or Allow ends evaluation, Count adds labels and goes on; default action;
 * - byte match (EXACTLY, STARTS_WITH, ENDS_WITH, CONTAINS, CONTAINS_WORD), regex match (PCRE subset without
 *   capturing groups, as WAF), size constraint, label match (LABEL, NAMESPACE), and/or/not;
 * - fields: method, URI path, query string, single header, body and JSON body, with the body inspection limit of
 *   the protected resource type (16 KB unless `AssociationConfig` raises it) and oversize handling;
 *   JSON body: included paths or all, VALUE/KEY/ALL scope, invalid-JSON fallback (duplicate keys are invalid);
 * - text transformations NONE, LOWERCASE, NORMALIZE_PATH, URL_DECODE, COMPRESS_WHITE_SPACE;
 * - rate-based rules: scope-down, IP or custom header/IP keys (requests missing a key are not counted), a sliding
 *   window of `EvaluationWindowSec`, matching when the count including this request is over `Limit`;
 * - managed rule groups from the committed table (`waf-managed-rules.ts`), with `RuleActionOverrides`,
 *   `ExcludedRules`, the group's override action and scope-down;
 * - a blocking rule's custom response: status, headers and the body named from `CustomResponseBodies`.
 * Anything else in a template (a statement, field, transformation or managed group it does not know) throws, so
 * a new kind of rule cannot pass unexamined.
 *
 * Rate counting is exact here; WAF estimates ("applies rate limiting near the limit … does not guarantee an exact
 * limit match", and may take up to about 30 s to react), so scenarios report each rule's peak against its limit.
 */
import { MANAGED_RULE_GROUPS, type ManagedRuleGroup } from './waf-managed-rules';

/** CloudFormation template JSON: untyped; every access in the model checks what it reads. */
export type Json = any;

/** One web request as the protected resource forwards it to WAF. */
export interface WafRequest {
  /** Seconds since the scenario began. */
  readonly at: number;
  readonly ip: string;
  readonly method: string;
  /** URI path as sent, e.g. `/prod/v1/uploads/<id>/complete`. */
  readonly path: string;
  /** Query string without `?`. */
  readonly query?: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** What the request is, for reports. */
  readonly what: string;
  /** IP reputation lists the source address is on (scenario input; Citadel's clients are on none). */
  readonly listedAs?: readonly string[];
}

/** What managed rules see of a request. */
export interface InspectedRequest {
  readonly method: string;
  readonly path: string;
  readonly query?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The whole body's size. */
  readonly bodyBytes: number;
  /** The part of the body WAF receives: the first `inspectionLimit` bytes. */
  readonly visibleBody?: string;
  readonly listedAs: ReadonlySet<string>;
}

export interface Verdict {
  readonly action: 'ALLOW' | 'BLOCK';
  /** The terminating rule (`Group:Rule` for a managed rule), if any. */
  readonly rule?: string;
  /** HTTP status WAF answers with (403 unless a custom response sets it); undefined when allowed. */
  readonly status?: number;
  readonly labels: readonly string[];
  /** Rules that matched with Count. */
  readonly counted: readonly string[];
  /** A blocking rule's custom response: its headers (names as written) and body. */
  readonly response?: { readonly headers: Readonly<Record<string, string>>; readonly body?: string };
}

/** Body inspection limits by `AssociationConfig` value. */
const INSPECTION_BYTES: Record<string, number> = {
  KB_16: 16 * 1024,
  KB_32: 32 * 1024,
  KB_48: 48 * 1024,
  KB_64: 64 * 1024,
};
const DEFAULT_INSPECTION_BYTES = 16 * 1024;

export type ProtectedResource = 'API_GATEWAY' | 'COGNITO_USER_POOL';

const only = <T>(obj: Json, what: string): [string, T] => {
  const keys = Object.keys(obj ?? {});
  if (keys.length !== 1) throw new Error(`${what}: expected exactly one key, got ${JSON.stringify(obj)}`);
  return [keys[0] as string, obj[keys[0] as string] as T];
};

/** WAF's NORMALIZE_PATH: collapses `//`, drops `/./`, resolves `x/../` not at the beginning. */
function normalizePath(input: string): string {
  const collapsed = input.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (const segment of collapsed.split('/')) {
    if (segment === '.') continue;
    if (segment === '..' && out.length > 1) {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return out.join('/');
}

function transform(value: string, transformations: Json[]): string {
  const ordered = [...(transformations ?? [])].sort((a, b) => a.Priority - b.Priority);
  let v = value;
  for (const t of ordered) {
    switch (t.Type) {
      case 'NONE':
        break;
      case 'LOWERCASE':
        v = v.toLowerCase();
        break;
      case 'NORMALIZE_PATH':
        v = normalizePath(v);
        break;
      case 'URL_DECODE':
        v = v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
        break;
      case 'COMPRESS_WHITE_SPACE':
        v = v.replace(/[\t\n\f\r\v ]+/g, ' ');
        break;
      default:
        throw new Error(`the WAF model does not implement text transformation ${t.Type}: add it`);
    }
  }
  return v;
}

/** A JSON parser that, like WAF's, refuses duplicate keys (WAF "might be forced to stop for … duplicate keys"). */
function parseJsonStrict(text: string): unknown {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at ${i}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const key = value();
        if (typeof key !== 'string') fail('object key must be a string');
        if (Object.hasOwn(obj, key as string)) fail(`duplicate key ${key as string}`);
        ws();
        if (text[i++] !== ':') fail('expected :');
        obj[key as string] = value();
        ws();
        const sep = text[i++];
        if (sep === '}') return obj;
        if (sep !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('expected , or ]');
      }
    }
    const rest = text.slice(i);
    const literal = /^(?:"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(rest);
    if (!literal) return fail('unexpected token');
    i += literal[0].length;
    return JSON.parse(literal[0]);
  };
  const root = value();
  ws();
  if (i !== text.length) fail('trailing content');
  if (root === null || typeof root !== 'object') fail('root is not an object or array');
  return root;
}

/** Leaf values (as text) and keys under `node`. */
function collect(node: unknown, scope: 'VALUE' | 'KEY' | 'ALL', out: string[]): void {
  if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (!Array.isArray(node) && scope !== 'VALUE') out.push(k);
      collect(v, scope, out);
    }
  } else if (scope !== 'KEY') {
    out.push(node === null ? 'null' : String(node));
  }
}

function pointer(root: unknown, path: string): unknown {
  if (path === '') return root;
  let node: unknown = root;
  for (const raw of path.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node as object, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** What a field yields: strings to test, or a forced outcome (oversize/invalid handling). */
type FieldValue = { readonly values: readonly string[] } | { readonly forced: boolean };

/**
 * One web ACL, evaluated request by request (rate-based rules keep state between requests of a scenario).
 */
export class WebAclModel {
  private readonly rules: Json[];
  private readonly inspectionBytes: number;
  private readonly defaultAction: 'ALLOW' | 'BLOCK';
  private readonly bodies: Readonly<Record<string, { Content: string }>>;
  private readonly rate = new Map<string, Map<string, number[]>>();
  /** Highest count each rate rule reached for any key. */
  readonly ratePeaks = new Map<string, { peak: number; limit: number; window: number }>();

  constructor(
    readonly name: string,
    acl: Json,
    resource: ProtectedResource,
    private readonly groups: readonly ManagedRuleGroup[] = MANAGED_RULE_GROUPS,
  ) {
    if (acl?.Scope !== 'REGIONAL') throw new Error(`${name}: only REGIONAL web ACLs are modelled`);
    this.rules = [...acl.Rules].sort((a: Json, b: Json) => a.Priority - b.Priority);
    this.bodies = acl.CustomResponseBodies ?? {};
    const limit = acl.AssociationConfig?.RequestBody?.[resource]?.DefaultSizeInspectionLimit;
    if (limit !== undefined && INSPECTION_BYTES[limit] === undefined)
      throw new Error(`${name}: unknown body inspection limit ${limit}`);
    this.inspectionBytes =
      limit === undefined ? DEFAULT_INSPECTION_BYTES : (INSPECTION_BYTES[limit] as number);
    const [action] = only(acl.DefaultAction, `${name} DefaultAction`);
    this.defaultAction = action === 'Block' ? 'BLOCK' : 'ALLOW';
    for (const rule of this.rules) {
      const rbs = rule.Statement?.RateBasedStatement;
      if (rbs) this.ratePeaks.set(rule.Name, { peak: 0, limit: rbs.Limit, window: rbs.EvaluationWindowSec });
    }
  }

  /** The body inspection limit this ACL gets from its resource type. */
  get bodyInspectionBytes(): number {
    return this.inspectionBytes;
  }

  evaluate(request: WafRequest): Verdict {
    const labels: string[] = [];
    const counted: string[] = [];
    for (const rule of this.rules) {
      const statement = rule.Statement;
      if (statement.ManagedRuleGroupStatement) {
        const hit = this.managedGroup(rule, request, labels, counted);
        if (hit) return { ...hit, labels, counted };
        continue;
      }
      if (!this.statement(statement, request, labels, rule.Name)) continue;
      for (const l of rule.RuleLabels ?? []) labels.push(l.Name);
      const [kind, spec] = only<Json>(rule.Action, `${this.name} ${rule.Name} Action`);
      if (kind === 'Count') {
        counted.push(rule.Name);
        continue;
      }
      if (kind === 'Allow') return { action: 'ALLOW', rule: rule.Name, labels, counted };
      if (kind === 'Block')
        return {
          action: 'BLOCK',
          rule: rule.Name,
          status: spec?.CustomResponse?.ResponseCode ?? 403,
          labels,
          counted,
          ...(spec?.CustomResponse ? { response: this.customResponse(spec.CustomResponse, rule.Name) } : {}),
        };
      throw new Error(`${this.name} ${rule.Name}: the model does not implement action ${kind}`);
    }
    return this.defaultAction === 'ALLOW'
      ? { action: 'ALLOW', labels, counted }
      : { action: 'BLOCK', status: 403, labels, counted };
  }

  /** The headers and body WAF sends for a custom response (the body from `CustomResponseBodies`). */
  private customResponse(response: Json, rule: string): NonNullable<Verdict['response']> {
    const headers: Record<string, string> = {};
    for (const h of response.ResponseHeaders ?? []) headers[h.Name] = h.Value;
    const key = response.CustomResponseBodyKey;
    if (key !== undefined && this.bodies[key] === undefined)
      throw new Error(`${this.name} ${rule}: custom response body ${key} is not defined in the ACL`);
    return { headers, ...(key === undefined ? {} : { body: this.bodies[key]?.Content }) };
  }

  private inspected(request: WafRequest): InspectedRequest {
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    return {
      method: request.method,
      path: request.path,
      query: request.query,
      headers: request.headers,
      bodyBytes: body?.length ?? 0,
      visibleBody: body?.subarray(0, this.inspectionBytes).toString('utf8'),
      listedAs: new Set(request.listedAs ?? []),
    };
  }

  private managedGroup(
    rule: Json,
    request: WafRequest,
    labels: string[],
    counted: string[],
  ): Omit<Verdict, 'labels' | 'counted'> | undefined {
    const mrg = rule.Statement.ManagedRuleGroupStatement;
    const group = this.groups.find((g) => g.vendor === mrg.VendorName && g.name === mrg.Name);
    if (!group)
      throw new Error(
        `${this.name} ${rule.Name}: no model of managed rule group ${mrg.VendorName}/${mrg.Name}: add its documented rules to test/support/wiring/waf-managed-rules.ts`,
      );
    if (mrg.ScopeDownStatement && !this.statement(mrg.ScopeDownStatement, request, labels, rule.Name)) return;
    const overrides = new Map<string, string>();
    for (const o of mrg.RuleActionOverrides ?? []) {
      if (!group.rules.some((r) => r.name === o.Name))
        throw new Error(
          `${this.name} ${rule.Name}: overrides ${o.Name}, which ${group.name} does not document`,
        );
      overrides.set(o.Name, only(o.ActionToUse, `${o.Name} ActionToUse`)[0].toUpperCase());
    }
    for (const e of mrg.ExcludedRules ?? []) overrides.set(e.Name, 'COUNT');
    const [override] = only(rule.OverrideAction, `${this.name} ${rule.Name} OverrideAction`);
    const inspected = this.inspected(request);
    for (const r of group.rules) {
      if (!r.matches(inspected)) continue;
      labels.push(r.label);
      const action = override === 'Count' ? 'COUNT' : (overrides.get(r.name) ?? r.action);
      if (action === 'COUNT') {
        counted.push(`${group.name}:${r.name}`);
        continue;
      }
      if (action === 'BLOCK') return { action: 'BLOCK', rule: `${group.name}:${r.name}`, status: 403 };
      if (action === 'ALLOW') return { action: 'ALLOW', rule: `${group.name}:${r.name}` };
      throw new Error(`${this.name} ${r.name}: the model does not implement action ${action}`);
    }
    return;
  }

  private statement(s: Json, request: WafRequest, labels: readonly string[], rule: string): boolean {
    const [kind, spec] = only<Json>(s, `${this.name} ${rule} statement`);
    switch (kind) {
      case 'AndStatement':
        return spec.Statements.every((x: Json) => this.statement(x, request, labels, rule));
      case 'OrStatement':
        return spec.Statements.some((x: Json) => this.statement(x, request, labels, rule));
      case 'NotStatement':
        return !this.statement(spec.Statement, request, labels, rule);
      case 'LabelMatchStatement': {
        const key: string = spec.Key;
        if (spec.Scope === 'LABEL') return labels.some((l) => l === key || l.endsWith(`:${key}`));
        if (spec.Scope === 'NAMESPACE')
          return labels.some((l) => l.startsWith(key.endsWith(':') ? key : `${key}:`));
        throw new Error(`${rule}: label match scope ${spec.Scope}`);
      }
      case 'ByteMatchStatement':
        return this.matchField(spec, request, rule, (v) =>
          byteMatch(v, spec.PositionalConstraint, spec.SearchString),
        );
      case 'RegexMatchStatement': {
        const regex = wafRegex(spec.RegexString, rule);
        return this.matchField(spec, request, rule, (v) => regex.test(v));
      }
      case 'SizeConstraintStatement':
        return this.sizeConstraint(spec, request, rule);
      case 'RateBasedStatement':
        return this.rateBased(spec, request, labels, rule);
      default:
        throw new Error(`${this.name} ${rule}: the WAF model does not implement ${kind}: add it`);
    }
  }

  /** Applies `test` to the transformed field values; oversize and invalid-JSON handling can force the result. */
  private matchField(spec: Json, request: WafRequest, rule: string, test: (v: string) => boolean): boolean {
    const field = this.field(spec.FieldToMatch, request, rule);
    if ('forced' in field) return field.forced;
    return field.values.some((v) => test(transform(v, spec.TextTransformations)));
  }

  private field(fieldToMatch: Json, request: WafRequest, rule: string): FieldValue {
    const [kind, spec] = only<Json>(fieldToMatch, `${this.name} ${rule} FieldToMatch`);
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const oversize = (body?.length ?? 0) > this.inspectionBytes;
    const visible = body?.subarray(0, this.inspectionBytes).toString('utf8') ?? '';
    const onOversize = (): FieldValue | undefined => {
      if (!oversize) return undefined;
      const handling = spec.OversizeHandling ?? 'CONTINUE';
      if (handling === 'MATCH') return { forced: true };
      if (handling === 'NO_MATCH') return { forced: false };
      if (handling !== 'CONTINUE') throw new Error(`${rule}: oversize handling ${handling}`);
      return undefined;
    };
    switch (kind) {
      case 'Method':
        return { values: [request.method] };
      case 'UriPath':
        return { values: [request.path] };
      case 'QueryString':
        return { values: [request.query ?? ''] };
      case 'SingleHeader': {
        const value = request.headers[String(spec.Name).toLowerCase()];
        // A missing header matches nothing.
        return value === undefined ? { forced: false } : { values: [value] };
      }
      case 'Body':
        return onOversize() ?? { values: [visible] };
      case 'JsonBody': {
        const forced = onOversize();
        if (forced) return forced;
        let doc: unknown;
        try {
          doc = parseJsonStrict(visible);
        } catch {
          switch (spec.InvalidFallbackBehavior) {
            case 'MATCH':
              return { forced: true };
            case 'NO_MATCH':
              return { forced: false };
            case 'EVALUATE_AS_STRING':
              return { values: [visible] };
            default:
              throw new Error(
                `${rule}: JSON body without InvalidFallbackBehavior is evaluated up to the first parse error; the model needs an explicit fallback`,
              );
          }
        }
        const scope = spec.MatchScope as 'VALUE' | 'KEY' | 'ALL';
        const values: string[] = [];
        const nodes = spec.MatchPattern?.All
          ? [doc]
          : (spec.MatchPattern?.IncludedPaths ?? [])
              .map((p: string) => pointer(doc, p))
              .filter((n: unknown) => n !== undefined);
        for (const node of nodes) collect(node, scope, values);
        return { values };
      }
      default:
        throw new Error(`${this.name} ${rule}: the WAF model does not implement field ${kind}: add it`);
    }
  }

  private sizeConstraint(spec: Json, request: WafRequest, rule: string): boolean {
    const field = this.field(spec.FieldToMatch, request, rule);
    if ('forced' in field) return field.forced;
    const size = Math.max(
      0,
      ...field.values.map((v) => Buffer.byteLength(transform(v, spec.TextTransformations), 'utf8')),
    );
    const n = spec.Size as number;
    switch (spec.ComparisonOperator) {
      case 'GT':
        return size > n;
      case 'GE':
        return size >= n;
      case 'LT':
        return size < n;
      case 'LE':
        return size <= n;
      case 'EQ':
        return size === n;
      case 'NE':
        return size !== n;
      default:
        throw new Error(`${rule}: comparison ${spec.ComparisonOperator}`);
    }
  }

  private rateBased(spec: Json, request: WafRequest, labels: readonly string[], rule: string): boolean {
    if (spec.ScopeDownStatement && !this.statement(spec.ScopeDownStatement, request, labels, rule))
      return false;
    let key: string;
    if (spec.AggregateKeyType === 'IP') key = request.ip;
    else if (spec.AggregateKeyType === 'CUSTOM_KEYS') {
      const parts: string[] = [];
      for (const k of spec.CustomKeys) {
        const [kind, keySpec] = only<Json>(k, `${rule} custom key`);
        if (kind === 'IP') parts.push(request.ip);
        else if (kind === 'Header') {
          const value = request.headers[String(keySpec.Name).toLowerCase()];
          // "Web requests that are missing any of the components specified in the aggregation keys are omitted."
          if (value === undefined) return false;
          parts.push(transform(value, keySpec.TextTransformations));
        } else throw new Error(`${rule}: the WAF model does not implement custom key ${kind}`);
      }
      key = JSON.stringify(parts);
    } else throw new Error(`${rule}: aggregate key type ${spec.AggregateKeyType}`);
    const window = spec.EvaluationWindowSec ?? 300;
    let byKey = this.rate.get(rule);
    if (!byKey) {
      byKey = new Map();
      this.rate.set(rule, byKey);
    }
    const times = (byKey.get(key) ?? []).filter((t) => t > request.at - window);
    times.push(request.at);
    byKey.set(key, times);
    const peak = this.ratePeaks.get(rule);
    if (peak && times.length > peak.peak) peak.peak = times.length;
    return times.length > spec.Limit;
  }
}

function byteMatch(value: string, constraint: string, search: string): boolean {
  switch (constraint) {
    case 'EXACTLY':
      return value === search;
    case 'STARTS_WITH':
      return value.startsWith(search);
    case 'ENDS_WITH':
      return value.endsWith(search);
    case 'CONTAINS':
      return value.includes(search);
    case 'CONTAINS_WORD':
      return new RegExp(
        `(?:^|[^A-Za-z0-9_])${search.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:$|[^A-Za-z0-9_])`,
      ).test(value);
    default:
      throw new Error(`positional constraint ${constraint}`);
  }
}

/**
 * A WAF regex as a JS RegExp. Refuses what WAF refuses (capturing groups, backreferences) and lookarounds, which
 * WAF supports only in part ("some zero-width assertions, but not all"), so a pattern here means the same to both.
 */
function wafRegex(pattern: string, rule: string): RegExp {
  if (/(^|[^\\])\((?!\?:)/.test(pattern) || /\\[1-9]/.test(pattern))
    throw new Error(
      `${rule}: WAF does not support capturing groups, backreferences or all lookarounds: ${pattern}`,
    );
  return new RegExp(pattern);
}
