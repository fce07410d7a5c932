/**
 * The AWS managed rule groups Citadel's web ACLs use, modelled from their public documentation only: each rule's
 * documented limit, or the example patterns the documentation gives. AWS publishes no more ("enough information
 * to use the rules while not providing information that bad actors could use to circumvent the rules"), so:
 *
 * WHAT THIS MODEL CANNOT SEE
 * - The internals of pattern rules. Cross-site scripting rules run WAF's XSS engine, LFI/RFI/SSRF/Log4J/Java
 *   deserialization rules run undisclosed signatures. The model matches the documented examples (and, for the
 *   SSRF rules, which document no pattern, the EC2 metadata address). A legitimate request that passes here can
 *   still be matched by a signature AWS does not disclose; WAF's sampled requests and the per-rule metrics are
 *   where that would show.
 * - Rule versions and rules AWS adds later: the tables reflect the documentation pages cited below.
 * - The IP reputation lists' contents (Amazon threat intelligence): the model takes the listed addresses from the
 *   scenario, and Citadel's clients are assumed to be on no list.
 *
 * Every rule: name, label, default action, what the documentation says, what the model matches, and the source.
 */
import type { InspectedRequest } from './waf-evaluator';

export type ManagedAction = 'BLOCK' | 'COUNT';

export interface ManagedRule {
  readonly name: string;
  readonly label: string;
  readonly action: ManagedAction;
  /** What the documentation says the rule inspects (paraphrased closely). */
  readonly documented: string;
  /** What this model matches, from the documented limit or example patterns. */
  readonly modeled: string;
  readonly matches: (request: InspectedRequest) => boolean;
}

export interface ManagedRuleGroup {
  readonly vendor: 'AWS';
  readonly name: string;
  readonly source: string;
  readonly rules: readonly ManagedRule[];
}

const CRS_SOURCE =
  'https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html#aws-managed-rule-groups-baseline-crs';
const KBI_SOURCE =
  'https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html#aws-managed-rule-groups-baseline-known-bad-inputs';
const IP_REP_SOURCE =
  'https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-ip-rep.html#aws-managed-rule-groups-ip-rep-amazon';

const bytes = (s: string | undefined): number => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));
const has = (s: string | undefined, re: RegExp): boolean => s !== undefined && re.test(s);
/** The query string's values, URL-decoded where they decode. */
const queryValues = (r: InspectedRequest): string[] =>
  [...new URLSearchParams(r.query ?? '').values()].map((v) => v);

// Documented example patterns, as regexes (case-insensitive where the examples are words).
const XSS = /<script|<[a-z!/?][^>]*>|javascript:/i; // example `<script>alert("hello")</script>`; any HTML tag
const LFI = /\.\.[/\\]/; // example `../../`
const RFI = /(?:https?|ftps?|file):\/\/\d{1,3}(?:\.\d{1,3}){3}/i; // schemes with an IPv4 host
const EC2_METADATA = /169\.254\.169\.254|fd00:ec2::254/i; // no pattern documented: the metadata address
const RESTRICTED_EXTENSION = /\.(?:log|ini)(?:$|[^a-z0-9])/i; // examples `.log`, `.ini`
const BAD_BOTS = /nessus|nmap/i; // examples `nessus`, `nmap`
const JAVA_DESERIALIZATION = /java\.lang\.runtime|getruntime\(\)\.exec/i; // example `(java.lang.Runtime).getRuntime().exec("whoami")`
const LOG4J = /\$\{jndi:/i; // example `${jndi:ldap://example.com/}`

const headerText = (r: InspectedRequest): string =>
  Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');

export const CORE_RULE_SET: ManagedRuleGroup = {
  vendor: 'AWS',
  name: 'AWSManagedRulesCommonRuleSet',
  source: CRS_SOURCE,
  rules: [
    {
      name: 'NoUserAgent_HEADER',
      label: 'awswaf:managed:aws:core-rule-set:NoUserAgent_Header',
      action: 'BLOCK',
      documented: 'requests that are missing the HTTP User-Agent header',
      modeled: 'no user-agent header',
      matches: (r) => r.headers['user-agent'] === undefined,
    },
    {
      name: 'UserAgent_BadBots_HEADER',
      label: 'awswaf:managed:aws:core-rule-set:BadBots_Header',
      action: 'BLOCK',
      documented: 'User-Agent values that indicate a bad bot; examples nessus, nmap',
      modeled: 'user-agent contains nessus or nmap',
      matches: (r) => has(r.headers['user-agent'], BAD_BOTS),
    },
    {
      name: 'SizeRestrictions_QUERYSTRING',
      label: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_QueryString',
      action: 'BLOCK',
      documented: 'URI query strings over 2,048 bytes',
      modeled: 'query string > 2048 bytes',
      matches: (r) => bytes(r.query) > 2048,
    },
    {
      name: 'SizeRestrictions_Cookie_HEADER',
      label: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Cookie_Header',
      action: 'BLOCK',
      documented: 'cookie headers over 10,240 bytes',
      modeled: 'cookie header > 10240 bytes',
      matches: (r) => bytes(r.headers.cookie) > 10240,
    },
    {
      name: 'SizeRestrictions_BODY',
      label: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body',
      action: 'BLOCK',
      documented: 'request bodies over 8 KB (8,192 bytes)',
      modeled: 'body > 8192 bytes',
      matches: (r) => r.bodyBytes > 8192,
    },
    {
      name: 'SizeRestrictions_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_URIPath',
      action: 'BLOCK',
      documented: 'URI paths over 1,024 bytes',
      modeled: 'URI path > 1024 bytes',
      matches: (r) => bytes(r.path) > 1024,
    },
    {
      name: 'EC2MetaDataSSRF_BODY',
      label: 'awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body',
      action: 'BLOCK',
      documented:
        'attempts to exfiltrate EC2 metadata from the body (no pattern given); inspects the body up to the inspection limit, oversize Continue',
      modeled: 'the visible body names the EC2 metadata address',
      matches: (r) => has(r.visibleBody, EC2_METADATA),
    },
    {
      name: 'EC2MetaDataSSRF_COOKIE',
      label: 'awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Cookie',
      action: 'BLOCK',
      documented: 'attempts to exfiltrate EC2 metadata from the cookies (no pattern given)',
      modeled: 'cookie header names the EC2 metadata address',
      matches: (r) => has(r.headers.cookie, EC2_METADATA),
    },
    {
      name: 'EC2MetaDataSSRF_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_URIPath',
      action: 'BLOCK',
      documented: 'attempts to exfiltrate EC2 metadata from the URI path (no pattern given)',
      modeled: 'URI path names the EC2 metadata address',
      matches: (r) => has(r.path, EC2_METADATA),
    },
    {
      name: 'EC2MetaDataSSRF_QUERYARGUMENTS',
      label: 'awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_QueryArguments',
      action: 'BLOCK',
      documented: 'attempts to exfiltrate EC2 metadata from the query arguments (no pattern given)',
      modeled: 'a query value names the EC2 metadata address',
      matches: (r) => queryValues(r).some((v) => EC2_METADATA.test(v)),
    },
    {
      name: 'GenericLFI_QUERYARGUMENTS',
      label: 'awswaf:managed:aws:core-rule-set:GenericLFI_QueryArguments',
      action: 'BLOCK',
      documented: 'Local File Inclusion in the query arguments, e.g. path traversal ../../',
      modeled: 'a query value contains ../ or ..\\',
      matches: (r) => queryValues(r).some((v) => LFI.test(v)),
    },
    {
      name: 'GenericLFI_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:GenericLFI_URIPath',
      action: 'BLOCK',
      documented: 'Local File Inclusion in the URI path, e.g. ../../',
      modeled: 'URI path contains ../ or ..\\',
      matches: (r) => has(r.path, LFI),
    },
    {
      name: 'GenericLFI_BODY',
      label: 'awswaf:managed:aws:core-rule-set:GenericLFI_Body',
      action: 'BLOCK',
      documented:
        'Local File Inclusion in the body, e.g. ../../; up to the inspection limit, oversize Continue',
      modeled: 'the visible body contains ../ or ..\\',
      matches: (r) => has(r.visibleBody, LFI),
    },
    {
      name: 'RestrictedExtensions_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:RestrictedExtensions_URIPath',
      action: 'BLOCK',
      documented: 'URI paths with system file extensions unsafe to read or run; examples .log, .ini',
      modeled: 'URI path contains .log or .ini as an extension',
      matches: (r) => has(r.path, RESTRICTED_EXTENSION),
    },
    {
      name: 'RestrictedExtensions_QUERYARGUMENTS',
      label: 'awswaf:managed:aws:core-rule-set:RestrictedExtensions_QueryArguments',
      action: 'BLOCK',
      documented: 'query arguments with system file extensions; examples .log, .ini',
      modeled: 'a query value contains .log or .ini as an extension',
      matches: (r) => queryValues(r).some((v) => RESTRICTED_EXTENSION.test(v)),
    },
    {
      name: 'GenericRFI_QUERYARGUMENTS',
      label: 'awswaf:managed:aws:core-rule-set:GenericRFI_QueryArguments',
      action: 'BLOCK',
      documented:
        'Remote File Inclusion in query values: http://, https://, ftp://, ftps://, file:// with an IPv4 host',
      modeled: 'a query value holds such a URL with an IPv4 host',
      matches: (r) => queryValues(r).some((v) => RFI.test(v)),
    },
    {
      name: 'GenericRFI_BODY',
      label: 'awswaf:managed:aws:core-rule-set:GenericRFI_Body',
      action: 'BLOCK',
      documented:
        'Remote File Inclusion in the body (URL schemes with an IPv4 host); up to the inspection limit',
      modeled: 'the visible body holds such a URL with an IPv4 host',
      matches: (r) => has(r.visibleBody, RFI),
    },
    {
      name: 'GenericRFI_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:GenericRFI_URIPath',
      action: 'BLOCK',
      documented: 'Remote File Inclusion in the URI path (URL schemes with an IPv4 host)',
      modeled: 'URI path holds such a URL with an IPv4 host',
      matches: (r) => has(r.path, RFI),
    },
    {
      name: 'CrossSiteScripting_COOKIE',
      label: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_Cookie',
      action: 'BLOCK',
      documented: 'WAF\'s XSS match statement on cookie values; example <script>alert("hello")</script>',
      modeled: 'cookie header contains an HTML tag or javascript:',
      matches: (r) => has(r.headers.cookie, XSS),
    },
    {
      name: 'CrossSiteScripting_QUERYARGUMENTS',
      label: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_QueryArguments',
      action: 'BLOCK',
      documented: "WAF's XSS match statement on query values",
      modeled: 'a query value contains an HTML tag or javascript:',
      matches: (r) => queryValues(r).some((v) => XSS.test(v)),
    },
    {
      name: 'CrossSiteScripting_BODY',
      label: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body',
      action: 'BLOCK',
      documented: "WAF's XSS match statement on the body; up to the inspection limit, oversize Continue",
      modeled:
        'the visible body contains an HTML tag or javascript: (JSON quotes, \\" escapes and hex are neither)',
      matches: (r) => has(r.visibleBody, XSS),
    },
    {
      name: 'CrossSiteScripting_URIPATH',
      label: 'awswaf:managed:aws:core-rule-set:CrossSiteScripting_URIPath',
      action: 'BLOCK',
      documented: "WAF's XSS match statement on the URI path",
      modeled: 'URI path contains an HTML tag or javascript:',
      matches: (r) => has(r.path, XSS),
    },
  ],
};

export const KNOWN_BAD_INPUTS: ManagedRuleGroup = {
  vendor: 'AWS',
  name: 'AWSManagedRulesKnownBadInputsRuleSet',
  source: KBI_SOURCE,
  rules: [
    {
      name: 'JavaDeserializationRCE_HEADER',
      label: 'awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Header',
      action: 'BLOCK',
      documented:
        'Java deserialization RCE in header keys and values; example (java.lang.Runtime).getRuntime().exec',
      modeled: 'a header names java.lang.Runtime or getRuntime().exec',
      matches: (r) => JAVA_DESERIALIZATION.test(headerText(r)),
    },
    {
      name: 'JavaDeserializationRCE_BODY',
      label: 'awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Body',
      action: 'BLOCK',
      documented: 'Java deserialization RCE in the body; up to the inspection limit, oversize Continue',
      modeled: 'the visible body names java.lang.Runtime or getRuntime().exec',
      matches: (r) => has(r.visibleBody, JAVA_DESERIALIZATION),
    },
    {
      name: 'JavaDeserializationRCE_URIPATH',
      label: 'awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_URIPath',
      action: 'BLOCK',
      documented: 'Java deserialization RCE in the URI path',
      modeled: 'URI path names java.lang.Runtime or getRuntime().exec',
      matches: (r) => has(r.path, JAVA_DESERIALIZATION),
    },
    {
      name: 'JavaDeserializationRCE_QUERYSTRING',
      label: 'awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_QueryString',
      action: 'BLOCK',
      documented: 'Java deserialization RCE in the query string',
      modeled: 'query string names java.lang.Runtime or getRuntime().exec',
      matches: (r) => has(r.query, JAVA_DESERIALIZATION),
    },
    {
      name: 'Host_localhost_HEADER',
      label: 'awswaf:managed:aws:known-bad-inputs:Host_Localhost_Header',
      action: 'BLOCK',
      documented: 'a Host header indicating localhost; example localhost',
      modeled: 'host header contains localhost',
      matches: (r) => has(r.headers.host, /localhost/i),
    },
    {
      name: 'PROPFIND_METHOD',
      label: 'awswaf:managed:aws:known-bad-inputs:Propfind_Method',
      action: 'BLOCK',
      documented: 'the HTTP method PROPFIND',
      modeled: 'method is PROPFIND',
      matches: (r) => r.method.toUpperCase() === 'PROPFIND',
    },
    {
      name: 'ExploitablePaths_URIPATH',
      label: 'awswaf:managed:aws:known-bad-inputs:ExploitablePaths_URIPath',
      action: 'BLOCK',
      documented: 'exploitable web application paths; example web-inf',
      modeled: 'URI path contains web-inf',
      matches: (r) => has(r.path, /web-inf/i),
    },
    {
      name: 'Log4JRCE_HEADER',
      label: 'awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header',
      action: 'BLOCK',
      documented:
        'the Log4j vulnerability in header keys and values; example \u0024{jndi:ldap://example.com/}',
      modeled: 'a header contains \u0024{jndi:',
      matches: (r) => LOG4J.test(headerText(r)),
    },
    {
      name: 'Log4JRCE_QUERYSTRING',
      label: 'awswaf:managed:aws:known-bad-inputs:Log4JRCE_QueryString',
      action: 'BLOCK',
      documented: 'the Log4j vulnerability in the query string',
      modeled: 'query string contains \u0024{jndi:',
      matches: (r) => has(r.query, LOG4J),
    },
    {
      name: 'Log4JRCE_BODY',
      label: 'awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body',
      action: 'BLOCK',
      documented: 'the Log4j vulnerability in the body; up to the inspection limit, oversize Continue',
      modeled: 'the visible body contains \u0024{jndi:',
      matches: (r) => has(r.visibleBody, LOG4J),
    },
    {
      name: 'Log4JRCE_URIPATH',
      label: 'awswaf:managed:aws:known-bad-inputs:Log4JRCE_URIPath',
      action: 'BLOCK',
      documented: 'the Log4j vulnerability in the URI path',
      modeled: 'URI path contains \u0024{jndi:',
      matches: (r) => has(r.path, LOG4J),
    },
  ],
};

export const AMAZON_IP_REPUTATION: ManagedRuleGroup = {
  vendor: 'AWS',
  name: 'AWSManagedRulesAmazonIpReputationList',
  source: IP_REP_SOURCE,
  rules: [
    {
      name: 'AWSManagedIPReputationList',
      label: 'awswaf:managed:aws:amazon-ip-list:AWSManagedIPReputationList',
      action: 'BLOCK',
      documented: 'IP addresses identified as bots (Amazon threat intelligence)',
      modeled: "the scenario lists the source IP as a bot's",
      matches: (r) => r.listedAs.has('AWSManagedIPReputationList'),
    },
    {
      name: 'AWSManagedReconnaissanceList',
      label: 'awswaf:managed:aws:amazon-ip-list:AWSManagedReconnaissanceList',
      action: 'BLOCK',
      documented: 'IP addresses performing reconnaissance against AWS resources',
      modeled: 'the scenario lists the source IP as a reconnaissance source',
      matches: (r) => r.listedAs.has('AWSManagedReconnaissanceList'),
    },
    {
      name: 'AWSManagedIPDDoSList',
      label: 'awswaf:managed:aws:amazon-ip-list:AWSManagedIPDDoSList',
      action: 'COUNT',
      documented: 'IP addresses actively engaging in DDoS activities (default action Count)',
      modeled: 'the scenario lists the source IP as a DDoS source',
      matches: (r) => r.listedAs.has('AWSManagedIPDDoSList'),
    },
  ],
};

/** Every managed rule group the model knows; an ACL using any other fails evaluation. */
export const MANAGED_RULE_GROUPS: readonly ManagedRuleGroup[] = [
  CORE_RULE_SET,
  KNOWN_BAD_INPUTS,
  AMAZON_IP_REPUTATION,
];
