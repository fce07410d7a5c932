/**
 * The API-key control function (`lambda/admin/control/api-keys.ts`) against a mocked API Gateway management API.
 * Its answers are checked against the protocol the admin functions parse (`control-protocol.ts`).
 */
import {
  APIGatewayClient,
  BadRequestException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  NotFoundException,
  TooManyRequestsException,
  UpdateApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../../lambda/admin/control/api-keys';
import { keyCreated, keyDisabled } from '../../../lambda/admin/control-protocol';
import { ADMIN_ENV, FakeAdminAws, setAdminEnv } from '../../support/admin-aws';
import { lambdaContext } from '../../support/lambda';

const apigateway = mockClient(APIGatewayClient);
/** The admin tests' fake of this function (behind Lambda Invoke): it must speak the same protocol. */
const fake = new FakeAdminAws();
const PLANS = JSON.parse(ADMIN_ENV.CITADEL_USAGE_PLANS) as Record<string, string>;

const invoke = (request: unknown) => handler(request, lambdaContext());

beforeEach(() => {
  setAdminEnv();
  process.env.CITADEL_STAGE = 'test';
  apigateway.reset();
  apigateway.on(CreateApiKeyCommand).resolves({ id: 'k1a2b3c4d5', value: 'v'.repeat(40), enabled: true });
  apigateway.on(CreateUsagePlanKeyCommand).resolves({ id: 'k1a2b3c4d5', type: 'API_KEY' });
  apigateway.on(DeleteApiKeyCommand).resolves({});
  apigateway.on(UpdateApiKeyCommand).resolves({ id: 'k1a2b3c4d5', enabled: false });
});
afterAll(() => {
  apigateway.restore();
  fake.restore();
  delete process.env.CITADEL_STAGE;
});

describe('API-key control function', () => {
  it.each(['basic', 'standard', 'premium'] as const)(
    'creates an enabled key in the %s usage plan and answers its id and value',
    async (tier) => {
      // Act
      const reply = await invoke({ action: 'create', name: 'reporting', tier });
      // Assess
      expect(keyCreated.parse(reply)).toEqual({ keyId: 'k1a2b3c4d5', value: 'v'.repeat(40) });
      const created = apigateway.commandCalls(CreateApiKeyCommand);
      expect(created).toHaveLength(1);
      expect(created[0]?.args[0].input).toMatchObject({
        name: 'citadel-test-reporting',
        enabled: true,
        tags: { Project: 'Citadel', Tier: tier },
      });
      const planKeys = apigateway.commandCalls(CreateUsagePlanKeyCommand);
      expect(planKeys.map((c) => c.args[0].input)).toEqual([
        { usagePlanId: PLANS[tier], keyId: 'k1a2b3c4d5', keyType: 'API_KEY' },
      ]);
      expect(apigateway.commandCalls(DeleteApiKeyCommand)).toHaveLength(0);
    },
  );

  it('keeps key names within API Gateway’s 128 characters', async () => {
    await invoke({ action: 'create', name: 'n'.repeat(128), tier: 'basic' });
    const name = apigateway.commandCalls(CreateApiKeyCommand)[0]?.args[0].input.name ?? '';
    expect(name).toHaveLength(128);
    expect(name.startsWith('citadel-test-nnn')).toBe(true);
  });

  it('deletes the just-created key and rethrows when it cannot join the usage plan', async () => {
    // Prepare
    const failure = new TooManyRequestsException({ message: 'Too Many Requests', $metadata: {} });
    apigateway.on(CreateUsagePlanKeyCommand).rejects(failure);
    // Act
    const result = invoke({ action: 'create', name: 'reporting', tier: 'premium' });
    // Assess
    await expect(result).rejects.toBe(failure);
    expect(apigateway.commandCalls(DeleteApiKeyCommand).map((c) => c.args[0].input)).toEqual([
      { apiKey: 'k1a2b3c4d5' },
    ]);
  });

  it('still rethrows the usage-plan error when the clean-up delete fails too', async () => {
    const failure = new BadRequestException({ message: 'Invalid usage plan', $metadata: {} });
    apigateway.on(CreateUsagePlanKeyCommand).rejects(failure);
    apigateway
      .on(DeleteApiKeyCommand)
      .rejects(new TooManyRequestsException({ message: 'slow', $metadata: {} }));
    await expect(invoke({ action: 'create', name: 'reporting', tier: 'basic' })).rejects.toBe(failure);
    expect(apigateway.commandCalls(DeleteApiKeyCommand)).toHaveLength(1);
  });

  it('refuses a tier that has no usage plan, creating nothing', async () => {
    process.env.CITADEL_USAGE_PLANS = JSON.stringify({ basic: PLANS.basic });
    await expect(invoke({ action: 'create', name: 'reporting', tier: 'premium' })).rejects.toThrow(
      /no usage plan for tier premium/,
    );
    expect(apigateway.calls()).toHaveLength(0);
  });

  it('refuses an API Gateway answer without a key value', async () => {
    apigateway.on(CreateApiKeyCommand).resolves({ id: 'k1a2b3c4d5' });
    await expect(invoke({ action: 'create', name: 'reporting', tier: 'basic' })).rejects.toThrow(/no key/);
    expect(apigateway.commandCalls(CreateUsagePlanKeyCommand)).toHaveLength(0);
  });

  it('disables a key with a /enabled=false patch', async () => {
    // Act
    const reply = await invoke({ action: 'disable', keyId: 'k1a2b3c4d5' });
    // Assess
    expect(keyDisabled.parse(reply)).toEqual({ disabled: true });
    expect(apigateway.commandCalls(UpdateApiKeyCommand).map((c) => c.args[0].input)).toEqual([
      { apiKey: 'k1a2b3c4d5', patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }] },
    ]);
  });

  it('treats disabling a missing key (NotFoundException) as done', async () => {
    apigateway
      .on(UpdateApiKeyCommand)
      .rejects(new NotFoundException({ message: 'Invalid API Key identifier', $metadata: {} }));
    expect(await invoke({ action: 'disable', keyId: 'gone000000' })).toEqual({ disabled: true });
  });

  it('rethrows any other error while disabling (the caller must retry)', async () => {
    const failure = new TooManyRequestsException({ message: 'Too Many Requests', $metadata: {} });
    apigateway.on(UpdateApiKeyCommand).rejects(failure);
    await expect(invoke({ action: 'disable', keyId: 'k1a2b3c4d5' })).rejects.toBe(failure);
  });

  it.each([
    ['an unknown action', { action: 'enable', keyId: 'k1a2b3c4d5' }],
    ['no action', { keyId: 'k1a2b3c4d5' }],
    ['an unknown tier', { action: 'create', name: 'reporting', tier: 'gold' }],
    ['an empty name', { action: 'create', name: '', tier: 'basic' }],
    ['a name over 128 characters', { action: 'create', name: 'n'.repeat(129), tier: 'basic' }],
    ['an extra field', { action: 'disable', keyId: 'k1a2b3c4d5', enabled: true }],
    ['a missing key id', { action: 'disable' }],
    ['a non-object', 'disable k1a2b3c4d5'],
    ['null', null],
  ])('rejects %s without calling API Gateway', async (_name, request) => {
    await expect(invoke(request)).rejects.toThrow();
    expect(apigateway.calls()).toHaveLength(0);
  });

  it('answers exactly as the admin tests’ fake of it does (same protocol, same failure mode)', async () => {
    // Prepare
    const lambda = new LambdaClient({});
    const viaFake = async (request: unknown) => {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: ADMIN_ENV.CITADEL_API_KEY_FUNCTION,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(request)),
        }),
      );
      return {
        error: out.FunctionError,
        payload: JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8')),
      };
    };
    const create = { action: 'create', name: 'reporting', tier: 'standard' };
    // Act
    const real = await invoke(create);
    const faked = await viaFake(create);
    const realDisable = await invoke({ action: 'disable', keyId: 'k1a2b3c4d5' });
    const fakedDisable = await viaFake({ action: 'disable', keyId: faked.payload.keyId });
    const fakedInvalid = await viaFake({ action: 'enable', keyId: 'x' });
    // Assess
    expect(Object.keys(keyCreated.parse(real))).toEqual(Object.keys(keyCreated.parse(faked.payload)));
    expect(faked.error).toBeUndefined();
    expect(fake.keys.get(faked.payload.keyId)).toMatchObject({ enabled: false, usagePlanId: PLANS.standard });
    expect(keyDisabled.parse(realDisable)).toEqual(keyDisabled.parse(fakedDisable.payload));
    await expect(invoke({ action: 'enable', keyId: 'x' })).rejects.toThrow();
    expect(fakedInvalid).toMatchObject({ error: 'Unhandled', payload: { errorMessage: expect.any(String) } });
  });
});
