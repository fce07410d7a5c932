/**
 * An in-memory Secrets Manager for rotation tests, plugged into the SDK with aws-sdk-client-mock.
 *
 * It implements the documented staging-label rules of the commands the rotation function uses:
 * - a label lives on at most one version; versions without labels drop out of DescribeSecret;
 * - moving AWSCURRENT (UpdateSecretVersionStage or PutSecretValue) moves AWSPREVIOUS to the old current;
 * - moving a label that another version holds needs that version in RemoveFromVersionId;
 * - PutSecretValue is idempotent per ClientRequestToken (same value: ignored; other value: ResourceExistsException);
 * - RotateSecret (`rotate`) creates the new version with AWSPENDING and no value, refuses to start while
 *   AWSPENDING sits on a version other than AWSCURRENT, then invokes the four steps in order.
 * Errors are the SDK's own exception classes, so `name` is the AWS error code.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  type DescribeSecretCommandInput,
  type DescribeSecretCommandOutput,
  GetRandomPasswordCommand,
  type GetRandomPasswordCommandInput,
  type GetRandomPasswordCommandOutput,
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
  InvalidParameterException,
  InvalidRequestException,
  PutSecretValueCommand,
  type PutSecretValueCommandInput,
  type PutSecretValueCommandOutput,
  ResourceExistsException,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type UpdateSecretVersionStageCommandInput,
  type UpdateSecretVersionStageCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { RotationEvent, RotationStep } from '../../../lambda/rotation/handler';

export const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const PENDING = 'AWSPENDING';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

interface Version {
  readonly id: string;
  /** `undefined` for the version RotateSecret creates before createSecret stores a value. */
  value: string | undefined;
  readonly stages: Set<string>;
  readonly created: Date;
}

interface Secret {
  readonly arn: string;
  readonly name: string;
  rotationEnabled: boolean;
  readonly versions: Map<string, Version>;
}

/** Where `rotate` fails on purpose: before the step runs, or after it ran (e.g. a timeout after the work). */
export interface InjectedFailure {
  readonly step: RotationStep;
  readonly when: 'before' | 'after';
}

export interface RotateOptions {
  /** Reuse a token: Secrets Manager's retry of an unfinished rotation. @default a new UUID */
  readonly token?: string;
  readonly failAt?: InjectedFailure;
  /** Called after each step succeeded, before the next one starts. */
  readonly afterStep?: (step: RotationStep, token: string) => void | Promise<void>;
}

/** The failure `rotate` injects. */
export class InjectedRotationFailure extends Error {
  override readonly name = 'InjectedRotationFailure';
  constructor(
    readonly failure: InjectedFailure,
    readonly token: string,
  ) {
    super(`injected failure ${failure.when} ${failure.step}`);
  }
}

/** Invokes the rotation function, as Lambda would. */
export type Invoke = (event: RotationEvent) => Promise<unknown>;

const ok = { $metadata: { httpStatusCode: 200 } };
const metadata = { $metadata: { httpStatusCode: 400 } };
const notFound = (message: string) => new ResourceNotFoundException({ message, ...metadata });
const invalidParameter = (message: string) => new InvalidParameterException({ message, ...metadata });
const invalidRequest = (message: string) => new InvalidRequestException({ message, ...metadata });

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export class SecretsManagerDouble {
  private readonly secrets = new Map<string, Secret>();
  /** Every command the double served, in order (inputs only; tests may read secret values from them). */
  readonly calls: { readonly command: string; readonly input: unknown }[] = [];

  /** Routes every SecretsManagerClient command through this double; unknown commands fail loudly. */
  attach(mock: AwsClientStub<SecretsManagerClient>): this {
    mock.onAnyCommand().callsFake(async (input: unknown) => {
      throw invalidRequest(
        `the Secrets Manager double does not implement this command: ${JSON.stringify(input)}`,
      );
    });
    const serve =
      <I, O>(command: string, fn: (input: I) => O) =>
      async (input: I): Promise<O> => {
        this.calls.push({ command, input: structuredClone(input) });
        // Yield like a network call would, so concurrent callers interleave.
        await new Promise((resolve) => setImmediate(resolve));
        return fn.call(this, input);
      };
    mock.on(DescribeSecretCommand).callsFake(serve('DescribeSecret', this.describeSecret));
    mock.on(GetSecretValueCommand).callsFake(serve('GetSecretValue', this.getSecretValue));
    mock.on(PutSecretValueCommand).callsFake(serve('PutSecretValue', this.putSecretValue));
    mock
      .on(UpdateSecretVersionStageCommand)
      .callsFake(serve('UpdateSecretVersionStage', this.updateSecretVersionStage));
    mock.on(GetRandomPasswordCommand).callsFake(serve('GetRandomPassword', this.getRandomPassword));
    return this;
  }

  // Test setup -------------------------------------------------------------------------------------

  /** CreateSecret with rotation configured: one version holding AWSCURRENT. Returns the ARN. */
  createSecret(name: string, value: unknown, options: { rotationEnabled?: boolean } = {}): string {
    const arn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomUUID().slice(0, 6)}`;
    const id = randomUUID();
    const versions = new Map<string, Version>([
      [id, { id, value: JSON.stringify(value), stages: new Set([CURRENT]), created: new Date() }],
    ]);
    this.secrets.set(arn, { arn, name, rotationEnabled: options.rotationEnabled ?? true, versions });
    return arn;
  }

  setRotationEnabled(secretId: string, enabled: boolean): void {
    this.secret(secretId).rotationEnabled = enabled;
  }

  /** Every version with its labels and value, for before/after comparisons. */
  snapshot(secretId: string): { id: string; stages: string[]; value: string | undefined }[] {
    return [...this.secret(secretId).versions.values()].map((v) => ({
      id: v.id,
      stages: [...v.stages].sort(),
      value: v.value,
    }));
  }

  /** Every value any version ever held (to look for leaks). */
  allValues(): string[] {
    return [...this.secrets.values()].flatMap((s) =>
      [...s.versions.values()].flatMap((v) => (v.value === undefined ? [] : [v.value])),
    );
  }

  /** The version holding `stage`, if any. */
  versionWith(secretId: string, stage: string): string | undefined {
    return this.holder(this.secret(secretId), stage)?.id;
  }

  /**
   * RotateSecret plus the service's orchestration: create (or, with the same token, reuse) the AWSPENDING
   * version, then invoke createSecret, setSecret, testSecret and finishSecret in order. Returns the token.
   */
  async rotate(secretId: string, invoke: Invoke, options: RotateOptions = {}): Promise<string> {
    const secret = this.secret(secretId);
    if (!secret.rotationEnabled) throw invalidRequest(`rotation is not enabled for secret ${secret.arn}`);
    const token = options.token ?? randomUUID();
    const pending = this.holder(secret, PENDING);
    const current = this.holder(secret, CURRENT);
    if (pending && pending !== current && pending.id !== token) {
      throw invalidRequest(
        `A previous rotation isn't complete. AWSPENDING is on version ${pending.id} of ${secret.arn}.`,
      );
    }
    if (!secret.versions.has(token)) {
      secret.versions.set(token, { id: token, value: undefined, stages: new Set(), created: new Date() });
      this.attachLabel(secret, PENDING, token);
    }
    for (const step of STEPS) {
      if (options.failAt?.step === step && options.failAt.when === 'before') {
        throw new InjectedRotationFailure(options.failAt, token);
      }
      await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: step });
      if (options.failAt?.step === step && options.failAt.when === 'after') {
        throw new InjectedRotationFailure(options.failAt, token);
      }
      await options.afterStep?.(step, token);
    }
    return token;
  }

  // Commands ---------------------------------------------------------------------------------------

  describeSecret(input: DescribeSecretCommandInput): DescribeSecretCommandOutput {
    const secret = this.secret(input.SecretId);
    const VersionIdsToStages: Record<string, string[]> = {};
    for (const v of secret.versions.values()) if (v.stages.size > 0) VersionIdsToStages[v.id] = [...v.stages];
    return {
      ARN: secret.arn,
      Name: secret.name,
      RotationEnabled: secret.rotationEnabled,
      VersionIdsToStages,
      $metadata: { httpStatusCode: 200 },
    };
  }

  getSecretValue(input: GetSecretValueCommandInput): GetSecretValueCommandOutput {
    const secret = this.secret(input.SecretId);
    let version: Version | undefined;
    if (input.VersionId !== undefined) {
      version = secret.versions.get(input.VersionId);
      if (!version)
        throw notFound(`Secrets Manager can't find the specified secret version ${input.VersionId}.`);
      if (input.VersionStage !== undefined && !version.stages.has(input.VersionStage)) {
        throw notFound(`You provided a VersionStage that is not associated to the provided VersionId.`);
      }
    } else {
      const stage = input.VersionStage ?? CURRENT;
      version = this.holder(secret, stage);
      if (!version)
        throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${stage}`);
    }
    if (version.value === undefined) {
      throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${version.id}`);
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      SecretString: version.value,
      VersionStages: [...version.stages],
      CreatedDate: version.created,
      $metadata: { httpStatusCode: 200 },
    };
  }

  putSecretValue(input: PutSecretValueCommandInput): PutSecretValueCommandOutput {
    const secret = this.secret(input.SecretId);
    if (input.SecretString === undefined)
      throw invalidParameter('You must provide either SecretString or SecretBinary.');
    const token = input.ClientRequestToken ?? randomUUID();
    if (token.length < 32 || token.length > 64) {
      throw invalidParameter('ClientRequestToken must be 32 to 64 characters long.');
    }
    const stages = input.VersionStages ?? [CURRENT];
    const existing = secret.versions.get(token);
    if (existing?.value !== undefined) {
      if (existing.value !== input.SecretString) {
        throw new ResourceExistsException({
          message: `A version with VersionId ${token} already exists and has a different value.`,
          ...metadata,
        });
      }
      // Same token, same value: the request is ignored.
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: token,
        VersionStages: [...existing.stages],
        ...ok,
      };
    }
    if (existing) existing.value = input.SecretString;
    else {
      secret.versions.set(token, {
        id: token,
        value: input.SecretString,
        stages: new Set(),
        created: new Date(),
      });
    }
    for (const stage of stages) this.attachLabel(secret, stage, token);
    const version = secret.versions.get(token) as Version;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: token,
      VersionStages: [...version.stages],
      ...ok,
    };
  }

  updateSecretVersionStage(
    input: UpdateSecretVersionStageCommandInput,
  ): UpdateSecretVersionStageCommandOutput {
    const secret = this.secret(input.SecretId);
    const stage = input.VersionStage;
    if (!stage) throw invalidParameter('VersionStage is required.');
    const holder = this.holder(secret, stage);
    const { MoveToVersionId: move, RemoveFromVersionId: remove } = input;
    if (remove !== undefined && holder?.id !== remove) {
      throw invalidParameter(`The staging label ${stage} is not attached to version ${remove}.`);
    }
    if (move !== undefined) {
      if (!secret.versions.has(move)) throw invalidParameter(`The secret has no version ${move}.`);
      if (holder && holder.id !== move && remove === undefined) {
        throw invalidParameter(
          `The staging label ${stage} is currently attached to version ${holder.id}. ` +
            'You must specify that version in RemoveFromVersionId.',
        );
      }
      this.attachLabel(secret, stage, move);
    } else if (remove !== undefined) {
      if (stage === CURRENT)
        throw invalidParameter('AWSCURRENT cannot be removed, only moved to another version.');
      holder?.stages.delete(stage);
    } else {
      throw invalidParameter('Specify MoveToVersionId, RemoveFromVersionId or both.');
    }
    return { ARN: secret.arn, Name: secret.name, ...ok };
  }

  getRandomPassword(input: GetRandomPasswordCommandInput): GetRandomPasswordCommandOutput {
    const length = input.PasswordLength ?? 32;
    if (!Number.isInteger(length) || length < 1 || length > 4096) {
      throw invalidParameter('PasswordLength must be between 1 and 4096.');
    }
    const excluded = new Set(input.ExcludeCharacters ?? '');
    const types = [
      input.ExcludeLowercase ? '' : LOWER,
      input.ExcludeUppercase ? '' : UPPER,
      input.ExcludeNumbers ? '' : DIGITS,
      input.ExcludePunctuation ? '' : PUNCTUATION,
      input.IncludeSpace ? ' ' : '',
    ]
      .map((chars) => [...chars].filter((c) => !excluded.has(c)).join(''))
      .filter((chars) => chars.length > 0);
    const alphabet = types.join('');
    if (!alphabet) throw invalidParameter('The password policy excludes every character.');
    const requireEach = input.RequireEachIncludedType ?? true;
    if (requireEach && types.length > length) {
      throw invalidParameter('PasswordLength is too short to include each character type.');
    }
    for (;;) {
      const password = Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
      if (!requireEach || types.every((chars) => [...password].some((c) => chars.includes(c)))) {
        return { RandomPassword: password, ...ok };
      }
    }
  }

  // Internals --------------------------------------------------------------------------------------

  private secret(secretId: string | undefined): Secret {
    for (const s of this.secrets.values()) if (s.arn === secretId || s.name === secretId) return s;
    throw notFound(`Secrets Manager can't find the specified secret.`);
  }

  private holder(secret: Secret, stage: string): Version | undefined {
    for (const v of secret.versions.values()) if (v.stages.has(stage)) return v;
    return undefined;
  }

  /** Puts `stage` on version `id` alone; moving AWSCURRENT moves AWSPREVIOUS to the old current. */
  private attachLabel(secret: Secret, stage: string, id: string): void {
    const from = this.holder(secret, stage);
    if (from?.id === id) return;
    from?.stages.delete(stage);
    (secret.versions.get(id) as Version).stages.add(stage);
    if (stage === CURRENT && from) {
      this.holder(secret, PREVIOUS)?.stages.delete(PREVIOUS);
      from.stages.add(PREVIOUS);
    }
  }
}
