import {
  ArnFormat,
  aws_cloudwatch as cloudwatch,
  Duration,
  type aws_kms as kms,
  aws_logs as logs,
  RemovalPolicy,
  Stack,
  aws_wafv2 as wafv2,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { SECURITY_HEADERS } from '../../contract/http';
import { PROBLEM_TYPES, problemTypeUri } from '../../contract/problems';
import {
  MAX_BROWSER_ORIGINS,
  WAF_MAX_CUSTOM_RESPONSE_HEADERS,
  WAF_RATE_LIMIT_FLOOR,
  WAF_RATE_WINDOWS,
} from '../config/waf-limits';
import { deploymentSuffix } from './citadel-stack';

/** A WAF rate-based rule: at most `limit` requests per `windowSeconds` per aggregation key. */
export interface RateRule {
  /** Rule and metric name, PascalCase. */
  readonly name: string;
  /** WAF's floor is 10. */
  readonly limit: number;
  /** WAF evaluates over 60, 120, 300 or 600 seconds. */
  readonly windowSeconds: number;
  /**
   * Count per client IP, or per value of a header (e.g. `x-api-key`). Requests without the header are not
   * counted by a header-keyed rule (WAF omits requests missing an aggregation key). @default 'IP'
   */
  readonly aggregateBy?: 'IP' | { readonly header: string };
  /** Only requests matching this statement count toward the limit. @default - all requests */
  readonly scopeDown?: wafv2.CfnWebACL.StatementProperty;
}

/** A route whose request body may exceed the core rule set's 8 KiB. */
export interface LargeBodyRoute {
  readonly method: string;
  /** API Gateway style path, e.g. `/v1/uploads/{id}/complete`. */
  readonly path: string;
}

/**
 * Request-body limits of an API: the core rule set's `SizeRestrictions_BODY` (8 KiB) is counted instead of
 * blocking, then enforced again for every route but `largeBodyRoutes`; every body over `maxBytes` is refused.
 */
export interface BodyLimits {
  /** The API's real limit (its handlers answer 413 above it). At most 64 KiB, WAF's largest inspection limit. */
  readonly maxBytes: number;
  /** Routes that legitimately carry bodies over 8 KiB (up to `maxBytes`). */
  readonly largeBodyRoutes: readonly LargeBodyRoute[];
}

/** What the web ACL protects: decides which body inspection limit `AssociationConfig` raises. */
export type ProtectedResourceType = 'API_GATEWAY' | 'COGNITO_USER_POOL';

export interface RegionalWebAclProps {
  /** Short name used in metric names and the log group: `aws-waf-logs-<name>`. Must be unique per account/region. */
  readonly name: string;
  /** What the ACL is associated with (API Gateway stages or a Cognito user pool). */
  readonly resourceType: ProtectedResourceType;
  readonly rateRules: readonly RateRule[];
  /** AWS managed rule groups evaluated before the rate rules. @default Common, KnownBadInputs, AmazonIpReputationList */
  readonly managedRuleGroups?: readonly string[];
  /**
   * Body limits: scope the core rule set's 8 KiB body rule to small-body routes and refuse bodies over
   * `maxBytes`. Needs the core rule set among `managedRuleGroups`.
   * @default - the core rule set's 8 KiB body rule applies to every request
   */
  readonly bodyLimits?: BodyLimits;
  /**
   * Browser origins allowed by CORS on the protected API. When given, a request with an `Origin` header naming
   * any other origin is refused (403, first rule), so the API's own error responses may echo the `Origin` of
   * every request that reaches them; and WAF's own refusals (413, 429) carry `Access-Control-Allow-Origin` for
   * each listed origin, so a browser page can read them. At most {@link MAX_BROWSER_ORIGINS}: each origin costs
   * a custom response per refusal, and WAF allows 100 custom response headers per web ACL.
   * @default - no origin rule, WAF's refusals carry no CORS headers (machine APIs, the user pool)
   */
  readonly browserOrigins?: readonly string[];
  /** Encrypts the WAF log group. */
  readonly logsKey: kms.IKey;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export const CORE_RULE_SET = 'AWSManagedRulesCommonRuleSet';
/** The core rule set's body-size rule: blocks bodies over 8 KB (8,192 bytes), and its label. */
export const CORE_RULE_SET_BODY_RULE = 'SizeRestrictions_BODY';
export const CORE_RULE_SET_MAX_BODY_BYTES = 8192;
export const CORE_RULE_SET_BODY_LABEL = 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body';

const DEFAULT_MANAGED = [
  CORE_RULE_SET,
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesAmazonIpReputationList',
];

/**
 * How much of a body API Gateway and Cognito forward to WAF: 16 KB by default, up to 64 KB in 16 KB steps
 * (WAF developer guide, "Managing body inspection size limits"). Requests whose body is larger than 16 KB
 * cost extra when the limit is raised.
 */
const INSPECTION_LIMITS = [
  ['KB_16', 16 * 1024],
  ['KB_32', 32 * 1024],
  ['KB_48', 48 * 1024],
  ['KB_64', 64 * 1024],
] as const;
const DEFAULT_INSPECTION_BYTES = 16 * 1024;

/** The smallest body inspection limit that lets WAF see `bytes` of a body. */
export function inspectionLimitFor(bytes: number): (typeof INSPECTION_LIMITS)[number] {
  const limit = INSPECTION_LIMITS.find(([, size]) => size >= bytes);
  if (!limit) {
    throw new Error(
      `WAF inspects at most ${INSPECTION_LIMITS[INSPECTION_LIMITS.length - 1]?.[1]} bytes of a body; a ${bytes}-byte limit cannot be enforced: lower it.`,
    );
  }
  return limit;
}

/**
 * A WAF regex (PCRE subset without capturing groups) matching the URI path of `path` with an optional first
 * segment: the stage name in an execute-api URL (`/dev/v1/...`) or none behind a custom domain.
 */
export function routePathPattern(path: string): string {
  const escaped = path
    .split(/(\{[A-Za-z0-9_]+\})/)
    .map((part) => (/^\{[A-Za-z0-9_]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return `^/?[^/]*${escaped}$`;
}

/**
 * Requests to one route: its method, and its path (behind a stage name or a custom domain). `spelling`
 * `'normalised'` (for limits) matches after URL-decoding and path normalisation, so an encoded or `//`-padded
 * spelling that API Gateway routes the same way still counts; `'exact'` (for exemptions) matches only the path as
 * the client sends it, so no odd spelling widens what is let through.
 */
export function routeRequests(
  route: LargeBodyRoute,
  spelling: 'normalised' | 'exact' = 'normalised',
): wafv2.CfnWebACL.StatementProperty {
  return {
    andStatement: {
      statements: [
        {
          byteMatchStatement: {
            fieldToMatch: { method: {} },
            positionalConstraint: 'EXACTLY',
            searchString: route.method,
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
        {
          regexMatchStatement: {
            fieldToMatch: { uriPath: {} },
            regexString: routePathPattern(route.path),
            textTransformations:
              spelling === 'normalised'
                ? [
                    { priority: 0, type: 'URL_DECODE' },
                    { priority: 1, type: 'NORMALIZE_PATH' },
                  ]
                : [{ priority: 0, type: 'NONE' }],
          },
        },
      ],
    },
  };
}

/** JSON bodies WAF sends itself (WAF can send application/json, not problem+json). */
const problemBody = (
  kind: 'tooManyRequests' | 'payloadTooLarge' | 'forbidden',
  title: string,
  detail: string,
) => JSON.stringify({ type: problemTypeUri(kind), title, status: PROBLEM_TYPES[kind].status, detail });

/** Label namespace of a refusal counted by its rule and answered by the rules after it. */
const REFUSED_LABEL = 'citadel:refused';

/** The `Origin` header matched exactly (browsers send it as the page's serialized origin). */
const originIs = (origin: string): wafv2.CfnWebACL.StatementProperty => ({
  byteMatchStatement: {
    fieldToMatch: { singleHeader: { Name: 'origin' } },
    positionalConstraint: 'EXACTLY',
    searchString: origin,
    textTransformations: [{ priority: 0, type: 'NONE' }],
  },
});

/**
 * A request whose `Origin` header is present and names none of `origins` (a missing header matches no
 * statement in WAF, so machine clients, which send none, never match).
 */
function foreignOrigin(origins: readonly string[]): wafv2.CfnWebACL.StatementProperty {
  const listed = origins.map(originIs);
  return {
    andStatement: {
      statements: [
        {
          sizeConstraintStatement: {
            fieldToMatch: { singleHeader: { Name: 'origin' } },
            comparisonOperator: 'GT',
            size: 0,
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
        {
          notStatement: {
            statement:
              listed.length === 1
                ? (listed[0] as wafv2.CfnWebACL.StatementProperty)
                : { orStatement: { statements: listed } },
          },
        },
      ],
    },
  };
}

type AclRule = Omit<wafv2.CfnWebACL.RuleProperty, 'priority'>;

/** The headers of a rule's custom response (none unless it blocks with one). */
const customHeaders = (rule: AclRule): readonly wafv2.CfnWebACL.CustomHTTPHeaderProperty[] => {
  const action = rule.action as wafv2.CfnWebACL.RuleActionProperty | undefined;
  const blocked = action?.block as wafv2.CfnWebACL.BlockActionProperty | undefined;
  const response = blocked?.customResponse as wafv2.CfnWebACL.CustomResponseProperty | undefined;
  return (response?.responseHeaders ?? []) as wafv2.CfnWebACL.CustomHTTPHeaderProperty[];
};

/**
 * `rule`, which blocks with a custom response, made readable from each browser origin: it counts and labels
 * instead, and the rules after it answer with its response plus `Access-Control-Allow-Origin` for the request's
 * own origin (one rule per origin: WAF cannot echo a header), or without it for any other request.
 */
function answeredPerOrigin(rule: AclRule, origins: readonly string[]): AclRule[] {
  const blocked = (rule.action as wafv2.CfnWebACL.RuleActionProperty)
    .block as wafv2.CfnWebACL.BlockActionProperty;
  const response = blocked.customResponse as wafv2.CfnWebACL.CustomResponseProperty;
  const headers = response.responseHeaders as wafv2.CfnWebACL.CustomHTTPHeaderProperty[];
  const label = `${REFUSED_LABEL}:${rule.name}`;
  const labelled: wafv2.CfnWebACL.StatementProperty = { labelMatchStatement: { scope: 'LABEL', key: label } };
  const visibility = rule.visibilityConfig as wafv2.CfnWebACL.VisibilityConfigProperty;
  const metric = (suffix: string) => ({ ...visibility, metricName: `${visibility.metricName}-${suffix}` });
  // Headers a page may read beyond the CORS-safelisted ones (Retry-After, on a 429).
  const exposed = headers.filter((h) => h.name === 'Retry-After').map((h) => h.name);
  return [
    { ...rule, action: { count: {} }, ruleLabels: [{ name: label }] },
    ...origins.map(
      (origin, i): AclRule => ({
        name: `${rule.name}-Origin${i + 1}`,
        action: {
          block: {
            customResponse: {
              ...response,
              responseHeaders: [
                ...headers,
                { name: 'Access-Control-Allow-Origin', value: origin },
                ...(exposed.length > 0
                  ? [{ name: 'Access-Control-Expose-Headers', value: exposed.join(', ') }]
                  : []),
              ],
            },
          },
        },
        statement: { andStatement: { statements: [labelled, originIs(origin)] } },
        visibilityConfig: metric(`Origin${i + 1}`),
      }),
    ),
    {
      name: `${rule.name}-Refused`,
      action: rule.action,
      statement: labelled,
      visibilityConfig: metric('Refused'),
    },
  ];
}

const block = (
  responseCode: number,
  customResponseBodyKey: string,
  extraHeaders: readonly { name: string; value: string }[] = [],
): wafv2.CfnWebACL.RuleActionProperty => ({
  block: {
    customResponse: {
      responseCode,
      customResponseBodyKey,
      responseHeaders: [
        ...extraHeaders,
        ...Object.entries(SECURITY_HEADERS).map(([name, value]) => ({ name, value })),
      ],
    },
  },
});

/**
 * A regional WAF web ACL: optional body limits, AWS managed rule groups, then rate-based rules that answer
 * 429 with a problem body, with sampled requests, metrics and logs (authorization headers redacted).
 */
export class RegionalWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;
  /**
   * The `WebACL` dimension of this ACL's CloudWatch metrics: WAF names it after the ACL's visibility-config
   * metric name (CloudFormation `VisibilityConfig.MetricName`: "a name of the Amazon CloudWatch metric dimension").
   */
  readonly metricName: string;
  /** The `Rule` dimension of each rule's metrics (its visibility-config metric name), in priority order. */
  readonly ruleMetricNames: readonly string[];

  constructor(scope: Construct, id: string, props: RegionalWebAclProps) {
    super(scope, id);
    if (props.rateRules.length === 0) {
      throw new Error(
        `RegionalWebAcl ${id}: give at least one rate rule; an ACL without one cannot throttle abuse.`,
      );
    }
    for (const r of props.rateRules) {
      if (!Number.isInteger(r.limit) || r.limit < WAF_RATE_LIMIT_FLOOR)
        throw new Error(
          `RegionalWebAcl ${id}: rate rule ${r.name} needs an integer limit >= 10 (WAF's floor).`,
        );
      if (!(WAF_RATE_WINDOWS as readonly number[]).includes(r.windowSeconds))
        throw new Error(
          `RegionalWebAcl ${id}: rate rule ${r.name} counts over ${r.windowSeconds} s; WAF offers ${WAF_RATE_WINDOWS.join(', ')} s.`,
        );
    }
    const managed = props.managedRuleGroups ?? DEFAULT_MANAGED;
    const bodyLimits = props.bodyLimits;
    if (bodyLimits && !managed.includes(CORE_RULE_SET)) {
      throw new Error(
        `RegionalWebAcl ${id}: bodyLimits scope the core rule set's body rule; include ${CORE_RULE_SET}.`,
      );
    }
    const origins = props.browserOrigins ?? [];
    if (origins.length > MAX_BROWSER_ORIGINS) {
      throw new Error(
        `RegionalWebAcl ${id}: ${origins.length} browser origins; WAF allows ${WAF_MAX_CUSTOM_RESPONSE_HEADERS} custom response headers per web ACL, which answer at most ${MAX_BROWSER_ORIGINS} origins readably. Serve the others from one of them (or behind one domain).`,
      );
    }
    if (origins.some((o) => o.includes('*'))) {
      throw new Error(`RegionalWebAcl ${id}: browser origins are exact; "*" is never allowed.`);
    }
    const inspection = bodyLimits ? inspectionLimitFor(bodyLimits.maxBytes) : undefined;
    const metric = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${name}`.replace(/[^A-Za-z0-9-]/g, '-'),
    });

    const rules: AclRule[] = [];
    if (origins.length > 0) {
      // First: a page on any other origin is refused before anything counts it. Machine clients send no Origin.
      rules.push({
        name: 'ForeignOrigin',
        action: block(403, 'foreignOrigin'),
        statement: foreignOrigin(origins),
        visibilityConfig: metric('ForeignOrigin'),
      });
    }
    /** A refusing rule, followed by its per-origin answers when browsers call this API. */
    const refusal = (rule: AclRule) =>
      rules.push(...(origins.length > 0 ? answeredPerOrigin(rule, origins) : [rule]));
    if (bodyLimits) {
      // Seen whole because the inspection limit is raised to cover it; anything larger is oversize and matches.
      refusal({
        name: 'BodyOverApiLimit',
        action: block(413, 'payloadTooLarge'),
        statement: {
          sizeConstraintStatement: {
            fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
            comparisonOperator: 'GT',
            size: bodyLimits.maxBytes,
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
        visibilityConfig: metric('BodyOverApiLimit'),
      });
    }
    for (const groupName of managed) {
      const countBodyRule = bodyLimits && groupName === CORE_RULE_SET;
      rules.push({
        name: groupName,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name: groupName,
            // Counted, not blocked: the rule's label is matched below for every route but the large-body ones.
            ...(countBodyRule
              ? { ruleActionOverrides: [{ name: CORE_RULE_SET_BODY_RULE, actionToUse: { count: {} } }] }
              : {}),
          },
        },
        visibilityConfig: metric(groupName),
      });
    }
    if (bodyLimits) {
      const largeBody = bodyLimits.largeBodyRoutes.map((route) => routeRequests(route, 'exact'));
      const labelled: wafv2.CfnWebACL.StatementProperty = {
        labelMatchStatement: { scope: 'LABEL', key: CORE_RULE_SET_BODY_LABEL },
      };
      const exempt: wafv2.CfnWebACL.StatementProperty | undefined =
        largeBody.length === 0
          ? undefined
          : largeBody.length === 1
            ? largeBody[0]
            : { orStatement: { statements: largeBody } };
      refusal({
        name: 'BodyOverCoreRuleSetLimit',
        action: block(413, 'smallBodyOnly'),
        statement: exempt
          ? { andStatement: { statements: [labelled, { notStatement: { statement: exempt } }] } }
          : labelled,
        visibilityConfig: metric('BodyOverCoreRuleSetLimit'),
      });
    }
    for (const r of props.rateRules) {
      const aggregate =
        r.aggregateBy === undefined || r.aggregateBy === 'IP'
          ? { aggregateKeyType: 'IP' }
          : {
              aggregateKeyType: 'CUSTOM_KEYS',
              customKeys: [
                {
                  header: {
                    name: r.aggregateBy.header,
                    textTransformations: [{ priority: 0, type: 'NONE' }],
                  },
                },
              ],
            };
      refusal({
        name: r.name,
        action: block(429, 'rateLimited', [{ name: 'Retry-After', value: String(r.windowSeconds) }]),
        statement: {
          rateBasedStatement: {
            limit: r.limit,
            evaluationWindowSec: r.windowSeconds,
            ...aggregate,
            ...(r.scopeDown ? { scopeDownStatement: r.scopeDown } : {}),
          },
        },
        visibilityConfig: metric(r.name),
      });
    }

    const responseHeaders = rules.reduce((n, r) => n + customHeaders(r).length, 0);
    if (responseHeaders > WAF_MAX_CUSTOM_RESPONSE_HEADERS) {
      throw new Error(
        `RegionalWebAcl ${id}: its custom responses carry ${responseHeaders} headers; WAF allows ${WAF_MAX_CUSTOM_RESPONSE_HEADERS} per web ACL. Fewer browser origins or rate rules.`,
      );
    }
    this.metricName = metric('WebAcl').metricName;
    // Rules that only count (a refusal answered per browser origin by the rules after it) never block.
    this.ruleMetricNames = rules
      .filter((r) => !(r.action as wafv2.CfnWebACL.RuleActionProperty | undefined)?.count)
      .map((r) => (r.visibilityConfig as wafv2.CfnWebACL.VisibilityConfigProperty).metricName);
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: `Citadel ${props.name}: AWS managed rules, body limits and rate limits`,
      customResponseBodies: {
        ...(origins.length > 0
          ? {
              foreignOrigin: {
                contentType: 'APPLICATION_JSON',
                content: problemBody(
                  'forbidden',
                  'Forbidden',
                  'This API answers browser pages only from the origins its stage lists; this page is on another origin.',
                ),
              },
            }
          : {}),
        rateLimited: {
          contentType: 'APPLICATION_JSON',
          content: problemBody(
            'tooManyRequests',
            'Too many requests',
            'Rate limit exceeded for this client. Retry after the number of seconds in Retry-After.',
          ),
        },
        ...(bodyLimits
          ? {
              payloadTooLarge: {
                contentType: 'APPLICATION_JSON',
                content: problemBody(
                  'payloadTooLarge',
                  'Payload too large',
                  `Request bodies are limited to ${bodyLimits.maxBytes} bytes.`,
                ),
              },
              smallBodyOnly: {
                contentType: 'APPLICATION_JSON',
                content: problemBody(
                  'payloadTooLarge',
                  'Payload too large',
                  `Request bodies on this route are limited to ${CORE_RULE_SET_MAX_BODY_BYTES} bytes.`,
                ),
              },
            }
          : {}),
      },
      // Only when the API's limit is over the 16 KB default: larger inspection is charged per request over 16 KB.
      ...(inspection && inspection[1] > DEFAULT_INSPECTION_BYTES
        ? {
            associationConfig: {
              requestBody: { [props.resourceType]: { defaultSizeInspectionLimit: inspection[0] } },
            },
          }
        : {}),
      visibilityConfig: metric('WebAcl'),
      rules: rules.map((rule, priority) => ({ ...rule, priority })),
    });

    // WAF only delivers to log groups named aws-waf-logs-*; the stage is part of `name`, and the stack's
    // deployment suffix keeps a retained group from blocking the stack's next deployment.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${props.name}-${deploymentSuffix(this)}`,
      encryptionKey: props.logsKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [{ singleHeader: { Name: 'authorization' } }, { singleHeader: { Name: 'x-api-key' } }],
    });
  }

  /** Requests this ACL allowed, in all (`rule` 'ALL') or by one rule's metric name (Sum over 5 minutes). */
  metricAllowedRequests(rule = 'ALL', props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('AllowedRequests', rule, props);
  }

  /** Requests this ACL blocked, in all (`rule` 'ALL') or by one rule's metric name (Sum over 5 minutes). */
  metricBlockedRequests(rule = 'ALL', props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('BlockedRequests', rule, props);
  }

  private metric(name: string, rule: string, props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/WAFV2',
      metricName: name,
      dimensionsMap: { WebACL: this.metricName, Rule: rule, Region: Stack.of(this).region },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * Protects a regional resource (API Gateway stage, Cognito user pool) with CloudFormation's own
   * `AWS::WAFv2::WebACLAssociation`, whose handler retries `WAFUnavailableEntityException` (a web ACL still
   * propagating) every 10 s for up to 25 minutes; the `Fn::GetAtt` on the ACL orders it after the ACL.
   */
  associate(id: string, resourceArn: string): wafv2.CfnWebACLAssociation {
    return new wafv2.CfnWebACLAssociation(this, id, { resourceArn, webAclArn: this.webAcl.attrArn });
  }
}
