/**
 * The CloudWatch Synthetics canary: `GET /v1/health` on each API, every 5 minutes, from outside AWS's network
 * path the clients use. A run fails (and the canary alarm counts it) unless every API answers 200 with a body the
 * contract accepts, `status: "ok"`, the stage it belongs to, and every security header of `contract/http.ts`
 * with its exact value.
 *
 * The machine API requires a usage-plan API key on every method. The canary uses its own key in the basic plan
 * (created by the Observability stack), whose value it reads from Secrets Manager at run time: it is metered,
 * throttled and rate-limited by WAF like any client, and its value never appears in code or configuration.
 *
 * Bundled by esbuild into `nodejs/node_modules/health-canary.js` (the layout Synthetics requires); it uses no
 * Synthetics library call, so it runs unchanged under a test. It logs JSON through the shared Powertools logger.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { healthResponse } from '../../contract/api/health';
import { SECURITY_HEADERS } from '../../contract/http';
import { logger } from '../shared/powertools';

/** One API the canary checks. */
const target = z.strictObject({
  name: z.string().min(1),
  /** The API's base URL, ending with `/` (its deployment stage), e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod/`. */
  url: z.url().refine((u) => u.startsWith('https://') && u.endsWith('/'), 'an https URL ending with /'),
  /** Secrets Manager ARN of the API key to send as `x-api-key`. @default no key */
  apiKeySecretArn: z.string().min(1).optional(),
});
export type CanaryTarget = z.infer<typeof target>;

const canaryEnv = z.object({
  CITADEL_STAGE: z.string().min(1),
  CITADEL_CANARY_TARGETS: z
    .string()
    .transform((s) => JSON.parse(s) as unknown)
    .pipe(z.array(target).min(1)),
});

export interface CanaryDeps {
  readonly fetch: typeof fetch;
  readonly secretValue: (arn: string) => Promise<string>;
}

/** What is wrong with one API's answer; empty when it is healthy. */
export async function checkApi(api: CanaryTarget, stage: string, deps: CanaryDeps): Promise<string[]> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (api.apiKeySecretArn) headers['x-api-key'] = await deps.secretValue(api.apiKeySecretArn);
  const response = await deps.fetch(new URL('v1/health', api.url), {
    method: 'GET',
    headers,
    signal: AbortSignal.timeout(10_000),
  });
  const problems: string[] = [];
  if (response.status !== 200) problems.push(`status ${response.status}, expected 200`);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    const actual = response.headers.get(name);
    if (actual !== value)
      problems.push(`header ${name} is ${actual === null ? 'missing' : JSON.stringify(actual)}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push('body is not JSON');
    return problems;
  }
  const parsed = healthResponse.safeParse(body);
  if (!parsed.success) {
    problems.push(
      `body does not match the contract: ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`,
    );
  } else {
    if (parsed.data.status !== 'ok') problems.push(`status is ${parsed.data.status}`);
    if (parsed.data.stage !== stage) problems.push(`stage is ${parsed.data.stage}, expected ${stage}`);
  }
  return problems;
}

/** Checks every API; throws (failing the canary run) with every problem found. */
export async function runCanary(env: NodeJS.ProcessEnv, deps: CanaryDeps): Promise<void> {
  const config = canaryEnv.parse(env);
  const failures: string[] = [];
  for (const api of config.CITADEL_CANARY_TARGETS) {
    try {
      const problems = await checkApi(api, config.CITADEL_STAGE, deps);
      for (const p of problems) failures.push(`${api.name}: ${p}`);
    } catch (error) {
      failures.push(`${api.name}: request failed: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) {
    logger.error('health check failed', { failures });
    throw new Error(`health check failed: ${failures.join('; ')}`);
  }
  logger.info('health check passed', { apis: config.CITADEL_CANARY_TARGETS.map((t) => t.name) });
}

let secrets: SecretsManagerClient | undefined;
const cache = new Map<string, string>();

/** Reads the API key's value once per execution environment. */
async function secretValue(arn: string): Promise<string> {
  const cached = cache.get(arn);
  if (cached !== undefined) return cached;
  secrets ??= new SecretsManagerClient({});
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
  if (!SecretString) throw new Error('the API key secret has no string value');
  cache.set(arn, SecretString);
  return SecretString;
}

/** The Synthetics entry point (`health-canary.handler`). */
export const handler = async (): Promise<void> => runCanary(process.env, { fetch, secretValue });
