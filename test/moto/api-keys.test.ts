/**
 * The API-key control function (`lambda/admin/control/api-keys.ts`, its exported `handler`) against moto's API
 * Gateway: a REST API with a deployed stage and the three tier usage plans of the Api stack (limits from the dev
 * config), named to the function through `CITADEL_USAGE_PLANS` as the stack does.
 *
 * moto 5.2 adds a key to a usage plan that does not exist, where API Gateway answers NotFoundException
 * ("Invalid Usage Plan ID specified"). A small proxy in front of moto adds that one rule (`planCheckingProxy`),
 * so the clean-up path after a failed association runs against moto's real state; the function's API Gateway
 * client reaches the proxy through the service-specific `AWS_ENDPOINT_URL_API_GATEWAY`.
 */
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateDeploymentCommand,
  CreateRestApiCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetApiKeysCommand,
  GetResourcesCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  PutIntegrationCommand,
  PutMethodCommand,
} from '@aws-sdk/client-api-gateway';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TIERS } from '../../contract/api/admin';
import { keyCreated, keyDisabled } from '../../lambda/admin/control-protocol';
import { dev } from '../../lib/config/dev';
import { lambdaContext } from '../support/lambda';
import { describeAgainstMoto } from '../support/moto';

type Tier = (typeof TIERS)[number];

interface Forwarded {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function forward(
  upstream: URL,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body?: Buffer,
): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path,
        headers: { ...headers, host: upstream.host },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Forwards everything to moto, except that CreateUsagePlanKey (`POST /usageplans/{id}/keys`) for a plan moto
 * does not have gets moto's own answer to GetUsagePlan for that id: 404 NotFoundException.
 */
async function planCheckingProxy(upstreamEndpoint: string) {
  const upstream = new URL(upstreamEndpoint);
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', async () => {
      try {
        const method = incoming.method ?? 'GET';
        const path = incoming.url ?? '/';
        const plan = method === 'POST' ? /^\/usageplans\/([^/?]+)\/keys$/.exec(path)?.[1] : undefined;
        let answer: Forwarded | undefined;
        if (plan) {
          const { 'content-length': _length, 'content-type': _type, ...headers } = incoming.headers;
          const found = await forward(upstream, 'GET', `/usageplans/${plan}`, headers);
          if (found.status === 404) answer = found;
        }
        answer ??= await forward(upstream, method, path, incoming.headers, Buffer.concat(chunks));
        outgoing.writeHead(answer.status, answer.headers).end(answer.body);
      } catch (error) {
        outgoing.writeHead(502).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describeAgainstMoto('API keys and usage plans against moto API Gateway', (moto) => {
  let apiKeys: typeof import('../../lambda/admin/control/api-keys');
  let apigateway: APIGatewayClient;
  let proxy: Awaited<ReturnType<typeof planCheckingProxy>>;
  let plans: Record<Tier, string>;

  const invoke = (request: unknown) => apiKeys.handler(request, lambdaContext());

  beforeAll(async () => {
    proxy = await planCheckingProxy(moto.server().endpoint);
    process.env.AWS_ENDPOINT_URL_API_GATEWAY = proxy.endpoint;
    process.env.CITADEL_STAGE = 'test';
    apigateway = new APIGatewayClient({});
    // The machine API: one method that needs an API key, deployed to a stage.
    const api = await apigateway.send(new CreateRestApiCommand({ name: 'citadel-test-machine' }));
    const restApiId = api.id as string;
    const { items = [] } = await apigateway.send(new GetResourcesCommand({ restApiId }));
    const resourceId = items.find((r) => r.path === '/')?.id as string;
    await apigateway.send(
      new PutMethodCommand({
        restApiId,
        resourceId,
        httpMethod: 'GET',
        authorizationType: 'NONE',
        apiKeyRequired: true,
      }),
    );
    await apigateway.send(
      new PutIntegrationCommand({ restApiId, resourceId, httpMethod: 'GET', type: 'MOCK' }),
    );
    await apigateway.send(new CreateDeploymentCommand({ restApiId, stageName: 'v1' }));
    const entries = [];
    for (const tier of TIERS) {
      const limits = dev.api.usagePlans[tier];
      const plan = await apigateway.send(
        new CreateUsagePlanCommand({
          name: `citadel-test-${tier}`,
          apiStages: [{ apiId: restApiId, stage: 'v1' }],
          throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
          quota: { limit: limits.quotaPerDay, period: 'DAY' },
        }),
      );
      entries.push([tier, plan.id as string]);
    }
    plans = Object.fromEntries(entries) as Record<Tier, string>;
    process.env.CITADEL_USAGE_PLANS = JSON.stringify(plans);
    apiKeys = await import('../../lambda/admin/control/api-keys');
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_API_GATEWAY;
    delete process.env.CITADEL_STAGE;
    delete process.env.CITADEL_USAGE_PLANS;
    apigateway?.destroy();
    await proxy?.close();
  });

  const keysNamed = async (name: string) =>
    (await apigateway.send(new GetApiKeysCommand({ nameQuery: name, includeValues: true }))).items ?? [];
  /** The plans `keyId` belongs to, by tier, read from every plan's key list. */
  const tiersOf = async (keyId: string) => {
    const tiers: Tier[] = [];
    for (const tier of TIERS) {
      const { items = [] } = await apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId: plans[tier] }));
      if (items.some((k) => k.id === keyId)) tiers.push(tier);
    }
    return tiers;
  };

  describe('create', () => {
    it('creates an enabled key in the tier’s usage plan and in no other', async () => {
      // Act
      const reply = keyCreated.parse(await invoke({ action: 'create', name: 'partner-a', tier: 'standard' }));

      // Assess
      const key = await apigateway.send(new GetApiKeyCommand({ apiKey: reply.keyId, includeValue: true }));
      expect(key).toMatchObject({
        id: reply.keyId,
        value: reply.value,
        name: 'citadel-test-partner-a',
        enabled: true,
        tags: { Project: 'Citadel', Tier: 'standard' },
      });
      expect(reply.value.length).toBeGreaterThanOrEqual(20);
      expect(await tiersOf(reply.keyId)).toEqual(['standard']);
      const { items = [] } = await apigateway.send(new GetUsagePlansCommand({ keyId: reply.keyId }));
      expect(items.map((p) => p.id)).toEqual([plans.standard]);
      expect(items[0]?.apiStages).toEqual([expect.objectContaining({ stage: 'v1' })]);
    });

    it('deletes the key it just created when the plan refuses it, and rethrows', async () => {
      // Prepare: the premium tier names a plan API Gateway does not have.
      const saved = process.env.CITADEL_USAGE_PLANS;
      process.env.CITADEL_USAGE_PLANS = JSON.stringify({ ...plans, premium: 'nosuchplan' });
      try {
        // Act
        const run = invoke({ action: 'create', name: 'orphan', tier: 'premium' });
        // Assess
        await expect(run).rejects.toMatchObject({
          name: 'NotFoundException',
          message: 'Invalid Usage Plan ID specified',
        });
        expect(await keysNamed('citadel-test-orphan')).toEqual([]);
      } finally {
        process.env.CITADEL_USAGE_PLANS = saved;
      }
    });

    it('(moto alone would accept the plan that does not exist: why the proxy adds the rule)', async () => {
      // Prepare: straight to moto, without the proxy.
      const direct = new APIGatewayClient({ endpoint: moto.server().endpoint });
      const key = await direct.send(
        new CreateApiKeyCommand({ name: 'citadel-test-unchecked', enabled: true }),
      );
      // Act
      const planKey = await direct.send(
        new CreateUsagePlanKeyCommand({
          usagePlanId: 'nosuchplan',
          keyId: key.id as string,
          keyType: 'API_KEY',
        }),
      );
      // Assess: if this ever fails, moto checks the plan itself and `planCheckingProxy` can go.
      expect(planKey.id).toBe(key.id);
      // And the clean-up check above would see a key left behind.
      expect((await keysNamed('citadel-test-unchecked')).map((k) => k.id)).toEqual([key.id]);
      direct.destroy();
    });
  });

  describe('disable', () => {
    it('disables a key, which stays in its plan', async () => {
      // Prepare
      const { keyId } = keyCreated.parse(
        await invoke({ action: 'create', name: 'partner-b', tier: 'basic' }),
      );
      // Act
      const reply = await invoke({ action: 'disable', keyId });
      // Assess
      expect(keyDisabled.parse(reply)).toEqual({ disabled: true });
      expect((await apigateway.send(new GetApiKeyCommand({ apiKey: keyId }))).enabled).toBe(false);
      expect(await tiersOf(keyId)).toEqual(['basic']);
    });

    it('answers {disabled:true} for a key API Gateway does not have, changing nothing', async () => {
      // Prepare
      const before = (await apigateway.send(new GetApiKeysCommand({ includeValues: true }))).items;
      // Act
      const reply = await invoke({ action: 'disable', keyId: 'nosuchkey1' });
      // Assess
      expect(keyDisabled.parse(reply)).toEqual({ disabled: true });
      expect((await apigateway.send(new GetApiKeysCommand({ includeValues: true }))).items).toEqual(before);
      await expect(apigateway.send(new GetApiKeyCommand({ apiKey: 'nosuchkey1' }))).rejects.toMatchObject({
        name: 'NotFoundException',
      });
    });
  });
});
