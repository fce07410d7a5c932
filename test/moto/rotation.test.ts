/**
 * The rotation function (`lambda/rotation/handler.ts`, the exported `handler`) against moto's Secrets Manager
 * and a real PostgreSQL: every request it sends (DescribeSecret, GetSecretValue by stage and version,
 * GetRandomPassword, PutSecretValue with ClientRequestToken and AWSPENDING, UpdateSecretVersionStage moving
 * AWSCURRENT with RemoveFromVersionId) must be accepted by moto exactly as sent.
 *
 * Secrets Manager's part is played as the service plays it: RotateSecret (moto's own) starts the rotation with
 * our ClientRequestToken (a new version labelled AWSPENDING, without a value), then the handler is invoked for
 * createSecret, setSecret, testSecret and finishSecret with the event Secrets Manager sends. moto cannot invoke
 * the handler itself (see `rotation-function.ts`). Every step runs twice, as a retried invocation would.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { RotationEvent, RotationStep, RotationStrategy } from '../../lambda/rotation/handler';
import {
  INVALID_PASSWORD,
  memberships,
  provision as provisionRoles,
  type SecretJson,
  storedPassword,
  tryLogin,
} from '../lambda/rotation/fixtures';
import { lambdaContext } from '../support/lambda';
import { describeAgainstMoto } from '../support/moto';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { registerRotationFunction } from './rotation-function';

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
/** What GetRandomPassword may return under the handler's policy: 32 characters, none of `"'\/@: `. */
const GENERATED_PASSWORD = /^[^"'\\/@: ]{32}$/;

describeAgainstMoto('Rotation against moto Secrets Manager and a real PostgreSQL', (moto) => {
  let rotation: typeof import('../../lambda/rotation/handler');
  let sm: SecretsManagerClient;
  let server: TestPostgres;
  let database: { readonly name: string; readonly url: string };
  let functionArn: string;

  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 30 });
    database = await server.createDatabase('moto_rotation');
    functionArn = await registerRotationFunction(moto.server());
    // AWS_ENDPOINT_URL points at moto now: the handler's module-level client is built with it.
    rotation = await import('../../lambda/rotation/handler');
    sm = new SecretsManagerClient({});
  });
  afterAll(async () => {
    sm?.destroy();
    await server?.destroy();
  });

  // Secrets Manager's side ---------------------------------------------------------------------------

  /**
   * RotateSecret with our token, as the rotation schedule does; returns the token (the new version id). The
   * Data stack's schedule is `ScheduleExpression: rate(30 days)`, which moto 5.2 ignores (RotationEnabled stays
   * false, and the handler would rightly refuse); `AutomaticallyAfterDays: 30` is the same schedule in the form
   * moto reads.
   */
  async function startRotation(arn: string, token = randomUUID()): Promise<string> {
    const out = await sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: functionArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    expect(out.VersionId).toBe(token);
    return token;
  }

  /** Lambda invoking the handler with Secrets Manager's event (ROTATION_STRATEGY is the function's setting). */
  async function invoke(strategy: RotationStrategy, arn: string, token: string, step: RotationStep) {
    process.env.ROTATION_STRATEGY = strategy;
    const event: RotationEvent = {
      Step: step,
      SecretId: arn,
      ClientRequestToken: token,
      RotationToken: randomUUID(),
    };
    try {
      await rotation.handler(event, lambdaContext());
    } finally {
      delete process.env.ROTATION_STRATEGY;
    }
  }

  /** Labelled versions as DescribeSecret shows them (AWS omits unlabelled versions; moto lists them empty). */
  async function stagesOf(arn: string): Promise<Record<string, string[]>> {
    const { VersionIdsToStages = {} } = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    return Object.fromEntries(
      Object.entries(VersionIdsToStages)
        .filter(([, stages]) => stages.length > 0)
        .map(([id, stages]) => [id, [...stages].sort()]),
    );
  }

  async function stageValue(arn: string, stage: string): Promise<SecretJson> {
    const out = await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: stage }));
    return JSON.parse(out.SecretString ?? 'null') as SecretJson;
  }

  /** Everything a step could change: labels, each labelled version's value, the roles' stored passwords. */
  async function state(arn: string, roles: readonly string[]) {
    const stages = await stagesOf(arn);
    const values: Record<string, string | null> = {};
    for (const id of Object.keys(stages)) {
      values[id] = await sm
        .send(new GetSecretValueCommand({ SecretId: arn, VersionId: id }))
        .then((out) => out.SecretString ?? null)
        .catch((error: Error) => `(${error.name})`);
    }
    const stored: Record<string, string | null | undefined> = {};
    for (const role of roles) stored[role] = await storedPassword(database.url, role);
    return { stages, values, stored };
  }

  /**
   * Runs a step twice (a retried invocation), checks the retry changed nothing, and returns the final state.
   * `resets` names a role whose password the step sets again on a retry: the same password, but a new SCRAM
   * verifier (a new salt), so for it the retry must leave the AWSPENDING value logging in instead.
   */
  async function runTwice(
    strategy: RotationStrategy,
    arn: string,
    token: string,
    step: RotationStep,
    roles: readonly string[],
    resets?: string,
  ) {
    await invoke(strategy, arn, token, step);
    const once = await state(arn, roles);
    await invoke(strategy, arn, token, step);
    const twice = await state(arn, roles);
    if (resets) {
      expect(await tryLogin(await stageValue(arn, 'AWSPENDING'))).toEqual({ ok: true, user: resets });
      expect({ ...twice, stored: { ...twice.stored, [resets]: once.stored[resets] } }).toEqual(once);
    } else {
      expect(twice).toEqual(once);
    }
    return twice;
  }

  // The database side ------------------------------------------------------------------------------

  let scenario = 0;

  /**
   * What the Data stack and the first migration create, as in the double-based rotation tests
   * (`test/lambda/rotation/fixtures.ts#provision`), with the master and reporting secrets in moto.
   */
  async function provision() {
    const created = await provisionRoles(server, database, createInMoto, `moto_${++scenario}`);
    return {
      ...created,
      group: created.readonly,
      master: created.initial.master,
      report: created.initial.reporting,
    };
  }

  async function createInMoto(name: string, value: SecretJson): Promise<string> {
    const { ARN } = await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
    );
    return ARN as string;
  }

  // Tests ---------------------------------------------------------------------------------------------

  it('single-user: rotates the master password; moto accepts every request, each step is idempotent', async () => {
    // Prepare: the master secret, and Secrets Manager starting a rotation.
    const roles = await provision();
    const arn = roles.masterArn;
    const [first] = Object.keys(await stagesOf(arn));
    const token = await startRotation(arn);
    expect(await stagesOf(arn)).toEqual({ [first as string]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await sm.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).toBe(true);
    const initial = await state(arn, [roles.admin]);

    // Act / Assess: createSecret stores a new password under the token, labelled AWSPENDING only.
    const created = await runTwice('single-user', arn, token, 'createSecret', [roles.admin]);
    const pending = await stageValue(arn, 'AWSPENDING');
    expect(pending).toEqual({ ...roles.master, password: expect.stringMatching(GENERATED_PASSWORD) });
    expect(pending.password).not.toBe(roles.master.password);
    expect(created.stages).toEqual(initial.stages);
    expect(created.stored).toEqual(initial.stored);

    // setSecret: the database now takes the new password, and no longer the old one.
    const set = await runTwice('single-user', arn, token, 'setSecret', [roles.admin]);
    expect(set.stored[roles.admin]).not.toEqual(initial.stored[roles.admin]);
    expect(await tryLogin(pending)).toEqual({ ok: true, user: roles.admin });
    expect(await tryLogin(roles.master)).toEqual({ ok: false, code: INVALID_PASSWORD });

    // testSecret changes nothing.
    expect(await runTwice('single-user', arn, token, 'testSecret', [roles.admin])).toEqual(set);

    // finishSecret: AWSCURRENT on the new version, AWSPREVIOUS on the old one (moto moved it, as AWS does).
    const finished = await runTwice('single-user', arn, token, 'finishSecret', [roles.admin]);
    expect(finished.stages).toEqual({
      [first as string]: ['AWSPREVIOUS'],
      [token]: ['AWSCURRENT', 'AWSPENDING'],
    });
    expect(await stageValue(arn, 'AWSCURRENT')).toEqual(pending);
    expect(await stageValue(arn, 'AWSPREVIOUS')).toEqual(roles.master);
    expect(await tryLogin(await stageValue(arn, 'AWSCURRENT'))).toEqual({ ok: true, user: roles.admin });

    // A late retry of any step for the version that is now AWSCURRENT does nothing.
    for (const step of STEPS) await invoke('single-user', arn, token, step);
    expect(await state(arn, [roles.admin])).toEqual(finished);
  });

  it('alternating users: the clone takes over, reading the master secret from moto; the old user keeps working', async () => {
    // Prepare
    const roles = await provision();
    const arn = roles.reportingArn;
    const clone = `${roles.reporting}_clone`;
    const involved = [roles.admin, roles.reporting, clone];
    const [first] = Object.keys(await stagesOf(arn));
    const masterBefore = await state(roles.masterArn, [roles.admin]);
    const token = await startRotation(arn);
    const initial = await state(arn, involved);

    // Act / Assess: createSecret names the other user, with a new password and the same masterarn.
    await runTwice('alternating-users', arn, token, 'createSecret', involved);
    const pending = await stageValue(arn, 'AWSPENDING');
    expect(pending).toEqual({
      ...roles.report,
      username: clone,
      password: expect.stringMatching(GENERATED_PASSWORD),
    });
    expect(await memberships(database.url, clone)).toBeUndefined();

    // setSecret: the master (read from moto by masterarn) creates the clone with the same memberships.
    const set = await runTwice('alternating-users', arn, token, 'setSecret', involved, clone);
    expect(await memberships(database.url, clone)).toEqual([roles.group]);
    expect(await tryLogin(pending, 'SELECT count(*)::int AS user FROM report_data')).toEqual({
      ok: true,
      user: '3',
    });
    // The current user and the master are untouched.
    expect(set.stored[roles.reporting]).toEqual(initial.stored[roles.reporting]);
    expect(set.stored[roles.admin]).toEqual(initial.stored[roles.admin]);
    expect(await tryLogin(roles.report)).toEqual({ ok: true, user: roles.reporting });

    expect(await runTwice('alternating-users', arn, token, 'testSecret', involved)).toEqual(set);

    const finished = await runTwice('alternating-users', arn, token, 'finishSecret', involved);
    expect(finished.stages).toEqual({
      [first as string]: ['AWSPREVIOUS'],
      [token]: ['AWSCURRENT', 'AWSPENDING'],
    });
    expect((await stageValue(arn, 'AWSCURRENT')).username).toBe(clone);
    expect(await tryLogin(await stageValue(arn, 'AWSCURRENT'))).toEqual({ ok: true, user: clone });
    // The previous user still logs in with the previous value: clients holding it keep working.
    expect(await tryLogin(await stageValue(arn, 'AWSPREVIOUS'))).toEqual({ ok: true, user: roles.reporting });
    // The master secret and the master's password were only read.
    expect(await state(roles.masterArn, [roles.admin])).toEqual(masterBefore);
  });

  it('(moto catches a finishSecret that would move AWSCURRENT without RemoveFromVersionId)', async () => {
    // Prepare: the handler with a client that drops RemoveFromVersionId, the defect this suite must catch.
    const roles = await provision();
    const arn = roles.masterArn;
    const defective = new SecretsManagerClient({});
    const send = defective.send.bind(defective) as (command: unknown) => Promise<unknown>;
    defective.send = ((command: unknown) => {
      if (command instanceof UpdateSecretVersionStageCommand) delete command.input.RemoveFromVersionId;
      return send(command);
    }) as typeof defective.send;
    const broken = rotation.createRotationHandler({ client: defective, strategy: 'single-user' });
    const token = await startRotation(arn);
    const event = (Step: RotationStep): RotationEvent => ({ Step, SecretId: arn, ClientRequestToken: token });
    for (const step of STEPS.slice(0, 3)) await broken(event(step), lambdaContext());

    // Act / Assess
    await expect(broken(event('finishSecret'), lambdaContext())).rejects.toThrow(
      /finishSecret failed .*InvalidParameterException: The parameter RemoveFromVersionId can't be empty/,
    );
    expect((await stagesOf(arn))[token]).toEqual(['AWSPENDING']);
    defective.destroy();
  });

  it('refuses a stuck AWSPENDING of another token at every step, changing nothing; its advice is accepted by moto', async () => {
    // Prepare: a rotation (token A) stopped after createSecret, so AWSPENDING holds a value on version A.
    const roles = await provision();
    const arn = roles.masterArn;
    const stuck = await startRotation(arn);
    await invoke('single-user', arn, stuck, 'createSecret');
    const before = await state(arn, [roles.admin]);
    expect(before.stages[stuck]).toEqual(['AWSPENDING']);
    const rotating = randomUUID();

    // Act / Assess
    let advice = '';
    for (const step of STEPS) {
      const run = invoke('single-user', arn, rotating, step);
      await expect(run).rejects.toThrow(
        `${step} failed for ${arn} (version ${rotating}): RotationRefused: Secret ${arn} has AWSPENDING on ` +
          `version ${stuck} while rotating ${rotating}; finish or cancel that rotation first`,
      );
      advice = await run.then(
        () => '',
        (error: Error) => error.message,
      );
    }
    expect(await state(arn, [roles.admin])).toEqual(before);
    expect(await tryLogin(roles.master)).toEqual({ ok: true, user: roles.admin });

    // The command the error recommends, sent as the SDK sends it, is accepted and clears the way.
    const command = /`aws secretsmanager update-secret-version-stage ([^`]+)`/.exec(advice)?.[1] ?? '';
    const flags = Object.fromEntries(
      [...command.matchAll(/--([a-z-]+) (\S+)/g)].map(([, flag, value]) => [flag, value]),
    );
    expect(flags).toEqual({
      'secret-id': arn,
      'version-stage': 'AWSPENDING',
      'remove-from-version-id': stuck,
    });
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: flags['secret-id'],
        VersionStage: flags['version-stage'],
        RemoveFromVersionId: flags['remove-from-version-id'],
      }),
    );
    expect(Object.values(await stagesOf(arn)).flat()).toEqual(['AWSCURRENT']);
    const token = await startRotation(arn, rotating);
    for (const step of STEPS) await invoke('single-user', arn, token, step);
    expect((await stagesOf(arn))[token]).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(await tryLogin(await stageValue(arn, 'AWSCURRENT'))).toEqual({ ok: true, user: roles.admin });
  });
});
