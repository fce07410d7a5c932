/**
 * The Secrets Manager double follows the documented staging-label rules, driven through the real SDK
 * client (aws-sdk-client-mock routes `send` to it). The rotation tests are only as good as this.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import type { RotationEvent } from '../../../lambda/rotation/handler';
import { InjectedRotationFailure, SecretsManagerDouble } from './secrets-manager-double';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({});
let double: SecretsManagerDouble;
let arn: string;

beforeEach(() => {
  sm.reset();
  double = new SecretsManagerDouble().attach(sm);
  arn = double.createSecret('citadel/test', { v: 0 });
});
afterAll(() => sm.restore());

const stages = async (secretId = arn) =>
  (await client.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
const put = (token: string, value: unknown, VersionStages?: string[]) =>
  client.send(
    new PutSecretValueCommand({
      SecretId: arn,
      ClientRequestToken: token,
      SecretString: JSON.stringify(value),
      ...(VersionStages ? { VersionStages } : {}),
    }),
  );
const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: Error) => error.name,
  );

describe('Secrets Manager double', () => {
  it('describes a new secret with one AWSCURRENT version and finds it by name or ARN', async () => {
    // Act
    const byName = await client.send(new DescribeSecretCommand({ SecretId: 'citadel/test' }));
    const value = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    // Assess
    expect(byName).toMatchObject({ ARN: arn, Name: 'citadel/test', RotationEnabled: true });
    expect(Object.values(byName.VersionIdsToStages ?? {})).toEqual([['AWSCURRENT']]);
    expect(value).toMatchObject({ ARN: arn, SecretString: '{"v":0}', VersionStages: ['AWSCURRENT'] });
    expect(await errorName(client.send(new DescribeSecretCommand({ SecretId: 'nope' })))).toBe(
      'ResourceNotFoundException',
    );
  });

  it('gets by stage or version id and answers ResourceNotFoundException for what is missing', async () => {
    // Prepare
    const first = double.versionWith(arn, 'AWSCURRENT') as string;
    const next = randomUUID();
    await put(next, { v: 1 }, ['AWSPENDING']);
    // Act / Assess
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' }))).VersionId,
    ).toBe(next);
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: first }))).SecretString,
    ).toBe('{"v":0}');
    expect(
      await errorName(
        client.send(
          new GetSecretValueCommand({ SecretId: arn, VersionId: first, VersionStage: 'AWSPENDING' }),
        ),
      ),
    ).toBe('ResourceNotFoundException');
    expect(
      await errorName(client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' }))),
    ).toBe('ResourceNotFoundException');
    expect(
      await errorName(client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: randomUUID() }))),
    ).toBe('ResourceNotFoundException');
  });

  it('makes PutSecretValue idempotent per ClientRequestToken', async () => {
    // Prepare
    const token = randomUUID();
    await put(token, { v: 1 }, ['AWSPENDING']);
    // Act
    const again = await put(token, { v: 1 }, ['AWSCURRENT']);
    const conflict = await errorName(put(token, { v: 2 }, ['AWSPENDING']));
    // Assess: the repeat was ignored (its VersionStages too); another value under the token is refused.
    expect(again.VersionStages).toEqual(['AWSPENDING']);
    expect(conflict).toBe('ResourceExistsException');
    expect((await stages())[token]).toEqual(['AWSPENDING']);
    expect(await errorName(put('short', { v: 3 }))).toBe('InvalidParameterException');
  });

  it('moves AWSCURRENT by PutSecretValue without stages, and AWSPREVIOUS follows the old current', async () => {
    // Prepare
    const first = double.versionWith(arn, 'AWSCURRENT') as string;
    const second = randomUUID();
    const third = randomUUID();
    // Act
    await put(second, { v: 2 });
    await put(third, { v: 3 });
    // Assess: the first version lost every label and dropped out of DescribeSecret.
    expect(await stages()).toEqual({ [second]: ['AWSPREVIOUS'], [third]: ['AWSCURRENT'] });
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: first }))).VersionStages,
    ).toEqual([]);
  });

  it('applies UpdateSecretVersionStage with the documented RemoveFromVersionId rules', async () => {
    // Prepare
    const first = double.versionWith(arn, 'AWSCURRENT') as string;
    const next = randomUUID();
    await put(next, { v: 1 }, ['AWSPENDING']);
    const move = (
      input: { MoveToVersionId?: string; RemoveFromVersionId?: string },
      VersionStage = 'AWSCURRENT',
    ) =>
      errorName(client.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage, ...input })));
    // Act / Assess
    expect(await move({ MoveToVersionId: next })).toBe('InvalidParameterException');
    expect(await move({ MoveToVersionId: next, RemoveFromVersionId: next })).toBe(
      'InvalidParameterException',
    );
    expect(await move({ RemoveFromVersionId: first })).toBe('InvalidParameterException');
    expect(await stages()).toEqual({ [first]: ['AWSCURRENT'], [next]: ['AWSPENDING'] });
    expect(await move({ MoveToVersionId: next, RemoveFromVersionId: first })).toBe('resolved');
    expect(await stages()).toEqual({ [first]: ['AWSPREVIOUS'], [next]: ['AWSPENDING', 'AWSCURRENT'] });
    expect(await move({ RemoveFromVersionId: next }, 'AWSPENDING')).toBe('resolved');
    expect(await stages()).toEqual({ [first]: ['AWSPREVIOUS'], [next]: ['AWSCURRENT'] });
  });

  it('keeps every label on at most one version and exactly one AWSCURRENT, whatever the operations', async () => {
    const labels = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS', 'custom'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), version: fc.nat(4), stages: fc.subarray(labels) }),
      fc.record({
        kind: fc.constant('move' as const),
        version: fc.nat(4),
        label: fc.constantFrom(...labels),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        // Prepare
        sm.reset();
        double = new SecretsManagerDouble().attach(sm);
        arn = double.createSecret('citadel/prop', { v: 0 });
        const ids = Array.from({ length: 5 }, () => randomUUID());
        // Act: valid and invalid requests alike (invalid ones must change nothing).
        for (const o of ops) {
          const id = ids[o.version] as string;
          if (o.kind === 'put')
            await put(id, { id }, o.stages.length ? o.stages : undefined).catch(() => undefined);
          else {
            const holder = double.versionWith(arn, o.label);
            await client
              .send(
                new UpdateSecretVersionStageCommand({
                  SecretId: arn,
                  VersionStage: o.label,
                  MoveToVersionId: id,
                  ...(holder ? { RemoveFromVersionId: holder } : {}),
                }),
              )
              .catch(() => undefined);
          }
        }
        // Assess
        const all = Object.values(await stages()).flat();
        for (const label of labels) expect(all.filter((l) => l === label).length).toBeLessThanOrEqual(1);
        expect(all.filter((l) => l === 'AWSCURRENT')).toHaveLength(1);
      }),
      { numRuns: 60 },
    );
  });

  it('generates passwords of the requested length from the allowed characters, with each type', async () => {
    // Act
    const outs = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.send(new GetRandomPasswordCommand({ PasswordLength: 32, ExcludeCharacters: '"\'\\/@: ' })),
      ),
    );
    const passwords = outs.map((o) => o.RandomPassword as string);
    // Assess
    expect(new Set(passwords).size).toBe(50);
    for (const p of passwords) {
      expect(p).toHaveLength(32);
      expect(p).not.toMatch(/["'\\/@: ]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
    }
    const digits = await client.send(
      new GetRandomPasswordCommand({
        PasswordLength: 8,
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludePunctuation: true,
      }),
    );
    expect(digits.RandomPassword).toMatch(/^[0-9]{8}$/);
    expect(await errorName(client.send(new GetRandomPasswordCommand({ PasswordLength: 0 })))).toBe(
      'InvalidParameterException',
    );
  });

  it('rotates like RotateSecret: AWSPENDING on a value-less new version, then the four steps in order', async () => {
    // Prepare
    const seen: { step: string; pending: string[] | undefined; value: string }[] = [];
    const invoke = async (event: RotationEvent) => {
      const all = await stages();
      const value = await errorName(
        client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: event.ClientRequestToken })),
      );
      seen.push({ step: event.Step, pending: all[event.ClientRequestToken], value });
      if (event.Step === 'createSecret') await put(event.ClientRequestToken, { v: 1 }, ['AWSPENDING']);
    };
    // Act
    const token = await double.rotate(arn, invoke);
    // Assess
    expect(seen).toEqual([
      { step: 'createSecret', pending: ['AWSPENDING'], value: 'ResourceNotFoundException' },
      { step: 'setSecret', pending: ['AWSPENDING'], value: 'resolved' },
      { step: 'testSecret', pending: ['AWSPENDING'], value: 'resolved' },
      { step: 'finishSecret', pending: ['AWSPENDING'], value: 'resolved' },
    ]);
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('injects failures before or after a step, retries with the same token, refuses a second rotation meanwhile', async () => {
    // Prepare
    const steps: string[] = [];
    const invoke = async (event: RotationEvent) => {
      steps.push(event.Step);
    };
    // Act
    const failure = await double
      .rotate(arn, invoke, { failAt: { step: 'testSecret', when: 'after' } })
      .catch((e) => e);
    const blocked = await errorName(double.rotate(arn, invoke));
    await double.rotate(arn, invoke, { token: (failure as InjectedRotationFailure).token });
    const early = await double
      .rotate(double.createSecret('citadel/other', {}), invoke, {
        failAt: { step: 'createSecret', when: 'before' },
      })
      .catch((e) => e);
    // Assess
    expect(failure).toBeInstanceOf(InjectedRotationFailure);
    expect(blocked).toBe('InvalidRequestException');
    expect(steps).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    expect(early).toBeInstanceOf(InjectedRotationFailure);
  });

  it('refuses to rotate a secret whose rotation is disabled, and fails loudly on commands it does not implement', async () => {
    // Prepare
    double.setRotationEnabled(arn, false);
    // Act / Assess
    expect(await errorName(double.rotate(arn, async () => undefined))).toBe('InvalidRequestException');
    expect((await client.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).toBe(false);
    expect(await errorName(client.send(new ListSecretsCommand({})))).toBe('InvalidRequestException');
  });
});
