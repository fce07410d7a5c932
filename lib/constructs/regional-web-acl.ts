import {
  ArnFormat,
  type aws_kms as kms,
  aws_logs as logs,
  RemovalPolicy,
  Stack,
  aws_wafv2 as wafv2,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { SECURITY_HEADERS } from '../../contract/http';
import { problemTypeUri } from '../../contract/problems';
import { deploymentSuffix } from './citadel-stack';

/** A WAF rate-based rule: at most `limit` requests per `windowSeconds` per aggregation key. */
export interface RateRule {
  /** Rule and metric name, PascalCase. */
  readonly name: string;
  /** WAF's floor is 10. */
  readonly limit: number;
  /** WAF evaluates over 60, 120, 300 or 600 seconds. */
  readonly windowSeconds: 60 | 120 | 300 | 600;
  /** Count per client IP, or per value of a header (e.g. `x-api-key`). @default 'IP' */
  readonly aggregateBy?: 'IP' | { readonly header: string };
  /** Only requests matching this statement count toward the limit. @default - all requests */
  readonly scopeDown?: wafv2.CfnWebACL.StatementProperty;
}

export interface RegionalWebAclProps {
  /** Short name used in metric names and the log group: `aws-waf-logs-<name>`. Must be unique per account/region. */
  readonly name: string;
  readonly rateRules: readonly RateRule[];
  /** AWS managed rule groups evaluated before the rate rules. @default Common, KnownBadInputs, AmazonIpReputationList */
  readonly managedRuleGroups?: readonly string[];
  /** Encrypts the WAF log group. */
  readonly logsKey: kms.IKey;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

const DEFAULT_MANAGED = [
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesAmazonIpReputationList',
];

/** JSON body WAF returns for rate-limited requests (WAF can send application/json, not problem+json). */
const RATE_LIMITED_BODY = JSON.stringify({
  type: problemTypeUri('tooManyRequests'),
  title: 'Too many requests',
  status: 429,
  detail: 'Rate limit exceeded for this client. Retry after the number of seconds in Retry-After.',
});

/**
 * A regional WAF web ACL: AWS managed rule groups, then rate-based rules that answer 429 with a
 * problem body, with sampled requests, metrics and logs (authorization headers redacted).
 */
export class RegionalWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RegionalWebAclProps) {
    super(scope, id);
    if (props.rateRules.length === 0) {
      throw new Error(
        `RegionalWebAcl ${id}: give at least one rate rule; an ACL without one cannot throttle abuse.`,
      );
    }
    for (const r of props.rateRules) {
      if (r.limit < 10)
        throw new Error(`RegionalWebAcl ${id}: rate rule ${r.name} needs limit >= 10 (WAF's floor).`);
    }
    const managed = props.managedRuleGroups ?? DEFAULT_MANAGED;
    const metric = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${name}`.replace(/[^A-Za-z0-9-]/g, '-'),
    });

    const rules: wafv2.CfnWebACL.RuleProperty[] = managed.map((groupName, i) => ({
      name: groupName,
      priority: i,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: groupName } },
      visibilityConfig: metric(groupName),
    }));
    props.rateRules.forEach((r, i) => {
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
      rules.push({
        name: r.name,
        priority: managed.length + i,
        action: {
          block: {
            customResponse: {
              responseCode: 429,
              customResponseBodyKey: 'rateLimited',
              responseHeaders: [
                { name: 'Retry-After', value: String(r.windowSeconds) },
                ...Object.entries(SECURITY_HEADERS).map(([name, value]) => ({ name, value })),
              ],
            },
          },
        },
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
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: `Citadel ${props.name}: AWS managed rules and rate limits`,
      customResponseBodies: { rateLimited: { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY } },
      visibilityConfig: metric('WebAcl'),
      rules,
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

  /** Protects a regional resource (API Gateway stage, Cognito user pool). */
  associate(id: string, resourceArn: string): wafv2.CfnWebACLAssociation {
    return new wafv2.CfnWebACLAssociation(this, id, { resourceArn, webAclArn: this.webAcl.attrArn });
  }
}
