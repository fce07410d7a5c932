/**
 * The WAF wiring checks over one stage's templates: Citadel's largest legitimate traffic must pass every rule of
 * the web ACL in front of it, and abuse must still be stopped. Each problem names the scenario, what was blocked
 * (or not) and by which rule, so a defect reintroduced in the config or the templates is reported by name.
 */
import { MAX_JSON_BODY_BYTES } from '../../../contract/http';
import type { StageConfig, StageName } from '../../../lib/config';
import { browserChecks } from './browser-cors';
import type { CfnTemplate } from './stages';
import { type AclDiscovery, findWebAcls, type ProtectedName } from './waf-acls';
import type { WafRequest } from './waf-evaluator';
import {
  clientCredentialsFlood,
  disguisedGuessing,
  factorEnrolment,
  hammering,
  largestUploadCalls,
  machineClientTokens,
  officeBehindOneAddress,
  officeRecoveries,
  oversizeBodies,
  passwordGuessing,
  premiumAtFullRate,
  recoveryGuessing,
  run,
  type ScenarioResult,
  srpGuessing,
  uppySigningTraffic,
} from './waf-traffic';

export interface StageInput {
  readonly stage: StageName;
  readonly config: StageConfig;
  readonly templates: Readonly<Record<string, CfnTemplate>>;
}

/** An abuse scenario and what must stop it: every request past the rule's limit blocked by `rule`. */
interface Abuse {
  readonly scenario: string;
  readonly acl: ProtectedName;
  readonly requests: readonly WafRequest[];
  readonly rule: string;
  /** How many must be blocked (all past the limit, counting exactly). */
  readonly blocked: number;
  readonly status: number;
}

export interface WafCheckReport {
  readonly legitimate: readonly ScenarioResult[];
  readonly abuse: readonly (ScenarioResult & { readonly expected: string })[];
  /** Empty when the web ACLs let Citadel through and stop the abuse. */
  readonly problems: readonly string[];
}

/** `rule`'s limit in the ACL in front of `acl`, if the ACL has that rate-based rule. */
const rateLimit = (found: AclDiscovery, acl: ProtectedName, rule: string): number | undefined =>
  found.acls[acl]?.acl.Rules.find((x: { Name: string }) => x.Name === rule)?.Statement?.RateBasedStatement
    ?.Limit;

/** How many requests within one minute an abuse scenario sends: twice the configured (or deployed) limit. */
const over = (found: AclDiscovery, acl: ProtectedName, rule: string, configured: { limit: number }): number =>
  Math.max(configured.limit, rateLimit(found, acl, rule) ?? 0) * 2;

/** `what`s of blocked requests with their counts, most frequent first. */
const kinds = (blocked: readonly { what: string }[]): string => {
  const counts = new Map<string, number>();
  for (const b of blocked) counts.set(b.what, (counts.get(b.what) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([what, n]) => `${what} ×${n}`)
    .join(', ');
};

/** The page the people's traffic comes from: the stage's first listed origin (the web ACL refuses others). */
const appOrigin = (config: StageConfig): string => config.api.corsOrigins[0] ?? 'https://app.example.com';

export async function wafChecks(input: StageInput): Promise<WafCheckReport> {
  const { stage, config, templates } = input;
  const found = findWebAcls(stage, templates);
  const problems = [...found.problems];
  if (!found.acls.publicApi || !found.acls.machineApi || !found.acls.userPool)
    return { legitimate: [], abuse: [], problems };

  const legitimate = [
    run(
      found,
      'publicApi',
      'largest upload through the client library (create, part URLs, complete)',
      await largestUploadCalls(stage, config, 'public'),
    ),
    run(
      found,
      'machineApi',
      'largest upload by a machine client (create, part URLs, complete)',
      await largestUploadCalls(stage, config, 'machine'),
    ),
    ...(await Promise.all(
      config.api.corsOrigins.map(async (origin) =>
        run(
          found,
          'publicApi',
          `browser on ${origin}: Uppy signing for the largest upload at 1 Gbit/s, page polling every 5 s`,
          await uppySigningTraffic(stage, config, origin),
        ),
      ),
    )),
    run(
      found,
      'machineApi',
      'premium tier at full rate and burst, one key, one address, 3 minutes',
      await premiumAtFullRate(stage, config),
    ),
    run(
      found,
      'userPool',
      `office of 100 behind one address for 2 hours: refreshes every ${config.identity.tokenValidityMinutes - 1} min, 6 sign-ins an hour (one typo each 20 min)`,
      officeBehindOneAddress(config),
    ),
    run(
      found,
      'publicApi',
      'office recoveries: 5 attempts (3 people, 2 mistyped codes) from one address in 10 minutes, with page polling',
      officeRecoveries(stage, appOrigin(config)),
    ),
    run(
      found,
      'userPool',
      'factor enrolment: a phone and an email verified (one mistyped code), the preference set, refreshes',
      factorEnrolment(config),
    ),
    run(
      found,
      'userPool',
      `20 machine clients behind one address: client-credentials tokens every ${config.identity.tokenValidityMinutes - 1} min for 2 hours`,
      await machineClientTokens(config),
    ),
  ];
  for (const r of legitimate) {
    if (r.blocked.length > 0) {
      const first = r.blocked[0];
      const rules = [...new Set(r.blocked.map((b) => b.rule))].join(', ');
      problems.push(
        `legitimate traffic blocked: ${r.scenario} (${r.acl}): ${r.blocked.length} of ${r.requests} requests, by ${rules} (${kinds(r.blocked)}); first: ${first?.what} at ${first?.at.toFixed(1)} s (${first?.status})`,
      );
    }
  }

  const bodies = (acl: 'publicApi' | 'machineApi'): Abuse[] => {
    const [atLimit, over1, far, small] = oversizeBodies(stage, MAX_JSON_BODY_BYTES);
    return [
      {
        scenario: 'complete body over the API limit',
        acl,
        requests: [over1 as WafRequest, far as WafRequest],
        rule: 'BodyOverApiLimit',
        blocked: 2,
        status: 413,
      },
      {
        scenario: 'body over 8 KiB on a small-body route',
        acl,
        requests: [small as WafRequest],
        rule: 'BodyOverCoreRuleSetLimit',
        blocked: 1,
        status: 413,
      },
      {
        scenario: 'complete body exactly at the API limit (passes)',
        acl,
        requests: [atLimit as WafRequest],
        rule: '(none)',
        blocked: 0,
        status: 0,
      },
    ];
  };
  const signIn = config.identity.signInRateLimit;
  const cc = config.identity.clientCredentialsRateLimit;
  const guesses = over(found, 'userPool', 'SignInRateLimit', signIn);
  const floods = over(found, 'userPool', 'ClientCredentialsRateLimit', cc);
  const recoveryGuesses = over(found, 'publicApi', 'RecoveryRateLimit', signIn);
  const publicHammer = over(found, 'publicApi', 'PerIpRateLimit', config.api.perIpRateLimit);
  const machineHammer = over(found, 'machineApi', 'PerIpRateLimit', config.api.machinePerIpRateLimit);
  const abuses: Abuse[] = [
    {
      scenario: `password guessing: ${guesses} POST /login from one address in a minute`,
      acl: 'userPool',
      requests: passwordGuessing(guesses),
      rule: 'SignInRateLimit',
      blocked: guesses - signIn.limit,
      status: 429,
    },
    {
      scenario: `password guessing through the API: ${guesses} SRP calls in a minute`,
      acl: 'userPool',
      requests: srpGuessing(guesses),
      rule: 'SignInRateLimit',
      blocked: guesses - signIn.limit,
      status: 429,
    },
    {
      scenario: `password guesses dressed as refreshes (duplicate AuthFlow): ${guesses} in a minute`,
      acl: 'userPool',
      requests: disguisedGuessing(guesses),
      rule: 'SignInRateLimit',
      blocked: guesses - signIn.limit,
      status: 429,
    },
    {
      scenario: `client-credentials flood: ${floods} in a minute from one address`,
      acl: 'userPool',
      requests: clientCredentialsFlood(floods),
      rule: 'ClientCredentialsRateLimit',
      blocked: floods - cc.limit,
      status: 429,
    },
    {
      scenario: `recovery guessing through the API: ${recoveryGuesses} POST /v1/auth/recover in a minute, half of them re-spelled`,
      acl: 'publicApi',
      requests: recoveryGuessing(stage, recoveryGuesses, appOrigin(config)),
      rule: 'RecoveryRateLimit',
      blocked: recoveryGuesses - signIn.limit,
      status: 429,
    },
    ...bodies('publicApi'),
    ...bodies('machineApi'),
    {
      scenario: `one address hammering the public API: ${publicHammer} in a minute`,
      acl: 'publicApi',
      requests: hammering(stage, publicHammer, false),
      rule: 'PerIpRateLimit',
      blocked: publicHammer - config.api.perIpRateLimit.limit,
      status: 429,
    },
    {
      scenario: `one address hammering the machine API with made-up keys: ${machineHammer} in a minute`,
      acl: 'machineApi',
      requests: hammering(stage, machineHammer, true),
      rule: 'PerIpRateLimit',
      blocked: machineHammer - config.api.machinePerIpRateLimit.limit,
      status: 429,
    },
  ];
  const abuse = abuses.map((a) => {
    const result = run(found, a.acl, a.scenario, a.requests);
    const expected = a.blocked === 0 ? 'all allowed' : `${a.blocked} blocked by ${a.rule} (${a.status})`;
    // `by`: a refusal counted by its rule and answered by the rules after it (per browser origin) is the rule's.
    const right = result.blocked.filter((b) => b.by.includes(a.rule) && b.status === a.status).length;
    if (right !== a.blocked || result.blocked.length !== a.blocked) {
      const got =
        result.blocked.length === 0
          ? 'none blocked'
          : `${result.blocked.length} blocked, by ${[...new Set(result.blocked.map((b) => `${b.rule} (${b.status})`))].join(', ')}`;
      problems.push(
        `abuse not stopped as expected: ${a.scenario} (${a.acl}): expected ${expected}; got ${got}`,
      );
    }
    return { ...result, expected };
  });
  const browsers = browserChecks(found, stage, config, templates);
  return {
    legitimate,
    abuse: [...abuse, ...browsers.scenarios],
    problems: [...problems, ...browsers.problems],
  };
}

/** A deep copy of `templates` with `change` applied to the template of the stack whose name ends with `suffix`. */
export function mutated(
  templates: Readonly<Record<string, CfnTemplate>>,
  suffix: string,
  change: (template: CfnTemplate) => void,
): Record<string, CfnTemplate> {
  const copy = structuredClone(templates) as Record<string, CfnTemplate>;
  const name = Object.keys(copy).find((n) => n.endsWith(suffix));
  if (!name) throw new Error(`no stack ending with ${suffix}`);
  change(copy[name] as CfnTemplate);
  return copy;
}
