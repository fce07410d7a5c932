/**
 * The Observability stack of every stage (its cdk-nag gate runs with every stack in `test/lib/nag.test.ts`; the
 * Slack and SMS variant below runs the packs itself): every alarm of the on-call table with its threshold, comparison, period, evaluation and action, and a
 * runbook section that exists; the topics, their key and their policies; subscriptions and Slack from the config;
 * the composite over exactly the critical alarms; the canary in staging and prod only. Each check is a function
 * returning problems, and is shown to report the defect it exists for on a mutated copy of the template.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { StageConfig } from '../../lib/config';
import { synthStage } from '../support/cdk';
import { stageTemplates } from '../support/wiring/stages';

const STAGES = ['dev', 'staging', 'prod'] as const;
type Stage = (typeof STAGES)[number];

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by path
type Json = Record<string, any>;
interface Cfn {
  Resources: Record<string, { Type: string; Properties: Json; DependsOn?: unknown }>;
}

interface Built {
  readonly config: StageConfig;
  readonly obs: Cfn;
  readonly api: Cfn;
  readonly data: Cfn;
}

const built: Partial<Record<Stage, Built>> = {};
const RUNBOOKS = readFileSync(path.resolve(import.meta.dirname, '../../docs/runbooks.md'), 'utf8');

beforeAll(() => {
  // The templates the wiring suites use, synthesized once per change of the sources (cached on disk).
  for (const stage of STAGES) {
    const { config, templates, stackNames } = stageTemplates(stage);
    const stack = (name: string) => templates[stackNames[name] as string] as unknown as Cfn;
    built[stage] = { config, obs: stack('Observability'), api: stack('Api'), data: stack('Data') };
  }
}, 600_000);

const get = (stage: Stage): Built => built[stage] as Built;
const ofType = (t: Cfn, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const logicalId = (t: Cfn, type: string, prefix: string): string => {
  const found = ofType(t, type).find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no ${type} ${prefix}*`);
  return found[0];
};
const alarmsOf = (t: Cfn) => ofType(t, 'AWS::CloudWatch::Alarm');

// ------------------------------------------------------------------------------------------------ expected alarms

interface Expected {
  readonly name: string;
  readonly severity: 'critical' | 'warning';
  readonly comparison: '>' | '<';
  readonly threshold: number;
  readonly period: number;
  readonly evaluation: readonly [datapoints: number, periods: number];
  readonly missing?: string;
}

const GiB = 1024 ** 3;
const MEMORY_GIB: Record<string, number> = { 't4g.micro': 1, 't4g.medium': 4, 'r7g.large': 16 };

/** The on-call table of the brief, for one stage: the seed thresholds written out as numbers. */
function expectedAlarms(stage: Stage, config: StageConfig): Expected[] {
  const e = (
    name: string,
    severity: Expected['severity'],
    comparison: Expected['comparison'],
    threshold: number,
    period: number,
    evaluation: Expected['evaluation'] = [1, 1],
    missing?: string,
  ): Expected => ({
    name: `Citadel-${stage}-${name}`,
    severity,
    comparison,
    threshold,
    period,
    evaluation,
    missing,
  });
  const db = config.database;
  const memory = (MEMORY_GIB[db.instanceType] as number) * GiB;
  const list: Expected[] = [];
  for (const api of ['PublicApi', 'MachineApi']) {
    list.push(
      e(`${api}-Fault-Rate-Critical`, 'critical', '>', 0.05, 300, [2, 3]),
      e(`${api}-Latency-P99-Warning`, 'warning', '>', 2000, 300, [2, 3]),
      e(`${api}-Latency-P99-Critical`, 'critical', '>', 5000, 300, [2, 3]),
      e(`${api}-AuthFailure-Rate-Warning`, 'warning', '>', 20, 300, [2, 3]),
    );
  }
  list.push(
    e('Cognito-SignInFailure-Rate-Warning', 'warning', '>', 20, 300, [2, 3]),
    e('Uploads-Failure-Rate-Warning', 'warning', '>', 20, 3600),
    e('ScanFailed-Warning', 'warning', '>', 0, 900),
    e('MalwareFound-Critical', 'critical', '>', 0, 900),
    e('Scans-Overdue-Warning', 'warning', '>', 0, 3600),
    e('Uploads-Stuck-Warning', 'warning', '>', 0, 3600),
    e('Database-FreeableMemory-Critical', 'critical', '<', Math.round(0.1 * memory), 300, [3, 3]),
    e('Database-CPU-Usage-Warning', 'warning', '>', 80, 300, [3, 3]),
    e(
      'Database-Min-Usage-Count-Warning',
      'warning',
      '<',
      Math.round(0.15 * db.allocatedStorageGiB * GiB),
      300,
    ),
    e(
      'Database-Connection-Count-High-Warning',
      'warning',
      '>',
      Math.floor(0.8 * Math.min(Math.floor(memory / 9531392), 5000)),
      300,
      [2, 2],
    ),
    e(
      'Secret-master-RotationOverdue-Critical',
      'critical',
      '>',
      (db.rotationDays + 1) * 24,
      900,
      [1, 1],
      'breaching',
    ),
    e('Data-MasterRotation-Failed-Critical', 'critical', '>', 0, 300),
    e('GuardDuty-MalwareProtectionPlan-NotActive-Critical', 'critical', '<', 1, 900, [1, 1], 'breaching'),
  );
  for (const acl of ['PublicApi', 'MachineApi', 'UserPool']) {
    list.push(
      e(`Waf-${acl}-Blocked-Rate-Warning`, 'warning', '>', config.alerting.wafBlockedPercent, 300, [2, 3]),
    );
  }
  if (db.proxy) list.push(e('DatabaseProxy-ConnectionErrors-Warning', 'warning', '>', 0, 300));
  if (db.reportingUser) {
    list.push(
      e(
        'Secret-reporting-RotationOverdue-Critical',
        'critical',
        '>',
        (db.rotationDays + 1) * 24,
        900,
        [1, 1],
        'breaching',
      ),
      e('Data-ReportingRotation-Failed-Critical', 'critical', '>', 0, 300),
    );
  }
  if (db.awsBackup !== false) {
    list.push(
      e('BackupJobFailed-Critical', 'critical', '>', 0, 900),
      e('CopyJobFailed-Critical', 'critical', '>', 0, 900),
    );
  }
  if (db.restoreTesting) {
    list.push(
      e('RestoreTestFailed-Critical', 'critical', '>', 0, 900),
      e('RestoreTest-ValidationFailed-Critical', 'critical', '>', 0, 300),
    );
  }
  if (config.alerting.canary)
    list.push(e('Canary-Failed-Critical', 'critical', '<', 100, 300, [2, 2], 'breaching'));
  return list;
}

const OPERATOR = { '>': 'GreaterThanThreshold', '<': 'LessThanThreshold' } as const;

function periodOf(p: Json): number | undefined {
  return p.Period ?? (p.Metrics as Json[] | undefined)?.find((m) => m.MetricStat)?.MetricStat.Period;
}

/** Every expected alarm exists as stated, and files its ticket on the warning topic (never the paging one). */
function alarmProblems(t: Cfn, expected: readonly Expected[]): string[] {
  const warning = logicalId(t, 'AWS::SNS::Topic', 'TopicsWarning');
  const byName = new Map(alarmsOf(t).map(([, r]) => [r.Properties.AlarmName as string, r.Properties]));
  const problems: string[] = [];
  for (const x of expected) {
    const p = byName.get(x.name);
    if (!p) {
      problems.push(`${x.name}: missing`);
      continue;
    }
    const check = (what: string, actual: unknown, wanted: unknown) => {
      if (actual !== wanted)
        problems.push(`${x.name}: ${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
    };
    check('threshold', p.Threshold, x.threshold);
    check('comparison', p.ComparisonOperator, OPERATOR[x.comparison]);
    check('period', periodOf(p), x.period);
    check('datapoints', p.DatapointsToAlarm ?? p.EvaluationPeriods, x.evaluation[0]);
    check('periods', p.EvaluationPeriods, x.evaluation[1]);
    check('severity', /^\[(critical|warning)\]/.exec(p.AlarmDescription)?.[1], x.severity);
    check('action', JSON.stringify(p.AlarmActions), JSON.stringify([{ Ref: warning }]));
    if (x.missing) check('missing data', p.TreatMissingData, x.missing);
  }
  return problems;
}

/** Every alarm's description names a section that docs/runbooks.md has (`## <anchor>`). */
function runbookProblems(t: Cfn, runbooks: string): string[] {
  const anchors = new Set([...runbooks.matchAll(/^#{1,3} ([a-z0-9-]+)\s*$/gm)].map((m) => m[1]));
  const all = [...alarmsOf(t), ...ofType(t, 'AWS::CloudWatch::CompositeAlarm')];
  return all.flatMap(([id, r]) => {
    const m = /Runbook: docs\/runbooks\.md#([a-z0-9-]+)$/.exec(r.Properties.AlarmDescription ?? '');
    if (!m) return [`${id}: no runbook in its description`];
    return anchors.has(m[1]) ? [] : [`${id}: docs/runbooks.md has no section "${m[1]}"`];
  });
}

/** Per-resource alarms: one per function, queue and DLQ rule of the stage, none forgotten. */
function coverageProblems(b: Built): string[] {
  const names = alarmsOf(b.obs).map(([, r]) => r.Properties.AlarmName as string);
  const count = (suffix: string) => names.filter((n) => n.endsWith(suffix)).length;
  const functions = [b.api, b.data, b.obs]
    .flatMap((t) => ofType(t, 'AWS::Lambda::Function'))
    .filter(([, r]) => r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME);
  const asyncFunctions = functions.filter(([, r]) => r.Properties.DeadLetterConfig);
  const queues = [b.api, b.data, b.obs].flatMap((t) => ofType(t, 'AWS::SQS::Queue'));
  const dlqRules = [b.api, b.data, b.obs]
    .flatMap((t) => ofType(t, 'AWS::Events::Rule'))
    .filter(([, r]) => (r.Properties.Targets as Json[]).some((target) => target.DeadLetterConfig));
  const problems: string[] = [];
  const want = (what: string, actual: number, expected: number) => {
    if (actual !== expected) problems.push(`${what}: ${actual} alarms for ${expected} resources`);
  };
  want('function errors', count('-Fault-Count-Warning'), functions.length);
  want('function throttles', count('-Throttled-Count-Warning'), functions.length);
  want('function memory', count('-Memory-Warning'), functions.length);
  want('DeadLetterErrors', count('-DeadLetterErrors-Critical'), asyncFunctions.length);
  want('dead-letter queues', count('-Queue-Message-Count-Max-Critical'), queues.length);
  want('InvocationsFailedToBeSentToDlq', count('-DlqDeliveryFailed-Critical'), dlqRules.length);
  return problems;
}

// ------------------------------------------------------------------------------------------------ topics and keys

const statements = (doc: Json | undefined): Json[] => (doc?.Statement as Json[]) ?? [];
const principalService = (s: Json): string | undefined => s.Principal?.Service;
const hasSourceConditions = (s: Json): boolean =>
  Boolean(s.Condition?.StringEquals?.['aws:SourceAccount']) &&
  Boolean(s.Condition?.ArnLike?.['aws:SourceArn']);

/**
 * The topics are encrypted with the stack's CMK; the key policy lets CloudWatch and EventBridge use it and the
 * topic policies let them publish, each only with aws:SourceAccount and aws:SourceArn; nobody else may publish.
 */
function topicProblems(t: Cfn, stage: Stage): string[] {
  const problems: string[] = [];
  const keyId = logicalId(t, 'AWS::KMS::Key', 'TopicsKey');
  const key = t.Resources[keyId] as { Properties: Json };
  if (key.Properties.EnableKeyRotation !== true) problems.push('the topic key does not rotate');
  for (const [service, arn] of [
    ['cloudwatch.amazonaws.com', `:alarm:Citadel-${stage}-*`],
    ['events.amazonaws.com', `:rule/Citadel-${stage}-Observability-*`],
  ] as const) {
    const s = statements(key.Properties.KeyPolicy).find((x) => principalService(x) === service);
    if (!s) problems.push(`the key policy does not admit ${service}`);
    else {
      const actions = [s.Action].flat();
      if (!actions.includes('kms:GenerateDataKey*') || !actions.includes('kms:Decrypt'))
        problems.push(`the key policy gives ${service} ${actions.join(', ')}`);
      // The topic policy carries the source conditions; on the key they could drop every page (alert-topics.ts).
      if (s.Condition !== undefined)
        problems.push(
          `the key policy conditions ${service} (${JSON.stringify(s.Condition)}): pages could be dropped`,
        );
      void arn;
    }
  }
  const topics = ofType(t, 'AWS::SNS::Topic');
  if (topics.length !== 2) problems.push(`${topics.length} topics, expected critical and warning`);
  for (const [id, topic] of topics) {
    if (JSON.stringify(topic.Properties.KmsMasterKeyId) !== JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] }))
      problems.push(`${id} is not encrypted with the topic key`);
    const policy = ofType(t, 'AWS::SNS::TopicPolicy').find(([, p]) =>
      JSON.stringify(p.Properties.Topics).includes(`"${id}"`),
    );
    const docs = statements(policy?.[1].Properties.PolicyDocument);
    for (const service of ['cloudwatch.amazonaws.com', 'events.amazonaws.com']) {
      const s = docs.find((x) => x.Effect === 'Allow' && principalService(x) === service);
      if (!s) problems.push(`${id}: ${service} may not publish`);
      else if (!hasSourceConditions(s))
        problems.push(`${id}: ${service} publishes without source conditions`);
    }
    for (const s of docs.filter((x) => x.Effect === 'Allow')) {
      if (!principalService(s)) problems.push(`${id}: an Allow for ${JSON.stringify(s.Principal)}`);
    }
    const deny = docs.find((x) => x.Effect === 'Deny' && x.Condition?.Bool?.['aws:PrincipalIsAWSService']);
    if (
      deny?.Condition?.Bool?.['aws:PrincipalIsAWSService'] !== 'false' ||
      ![deny.Action].flat().includes('sns:Publish')
    )
      problems.push(`${id}: other IAM principals are not denied publishing`);
  }
  return problems;
}

/** "Citadel <stage> unhealthy" watches exactly the critical alarms and is the only alarm that pages. */
function compositeProblems(t: Cfn, stage: Stage): string[] {
  const problems: string[] = [];
  const critical = logicalId(t, 'AWS::SNS::Topic', 'TopicsCritical');
  const composites = ofType(t, 'AWS::CloudWatch::CompositeAlarm');
  if (composites.length !== 1) return [`${composites.length} composite alarms`];
  const [, composite] = composites[0] as [string, { Properties: Json }];
  if (composite.Properties.AlarmName !== `Citadel ${stage} unhealthy`)
    problems.push('the composite is misnamed');
  if (JSON.stringify(composite.Properties.AlarmActions) !== JSON.stringify([{ Ref: critical }]))
    problems.push('the composite does not page');
  const members = new Set(
    [
      ...JSON.stringify(composite.Properties.AlarmRule).matchAll(/"Fn::GetAtt":\["([A-Za-z0-9]+)","Arn"\]/g),
    ].map((m) => m[1]),
  );
  for (const [id, alarm] of alarmsOf(t)) {
    const isCritical = String(alarm.Properties.AlarmDescription).startsWith('[critical]');
    if (isCritical !== members.has(id))
      problems.push(`${id}: critical=${isCritical} but member=${members.has(id)}`);
    if (JSON.stringify(alarm.Properties.AlarmActions ?? []).includes(`"${critical}"`))
      problems.push(`${id} pages directly`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ the suite

describe.each(STAGES)('%s', (stage) => {
  it('has every alarm of the on-call table, as stated, with its ticket action', () => {
    const b = get(stage);
    expect(alarmProblems(b.obs, expectedAlarms(stage, b.config))).toEqual([]);
  });

  it('alarms on every function, dead-letter queue and dead-letter rule of the stage', () => {
    expect(coverageProblems(get(stage))).toEqual([]);
  });

  it('names, in every alarm, a runbook section that exists', () => {
    expect(runbookProblems(get(stage).obs, RUNBOOKS)).toEqual([]);
  });

  it('encrypts the topics and lets only CloudWatch, EventBridge and its own roles publish, conditioned', () => {
    expect(topicProblems(get(stage).obs, stage)).toEqual([]);
  });

  it('pages through the composite only, which watches exactly the critical alarms', () => {
    expect(compositeProblems(get(stage).obs, stage)).toEqual([]);
  });

  it(`runs the health canary ${stage === 'dev' ? 'not at all' : 'every 5 minutes on both APIs'}`, () => {
    const { obs } = get(stage);
    const canaries = ofType(obs, 'AWS::Synthetics::Canary');
    if (stage === 'dev') {
      expect(canaries).toHaveLength(0);
      return;
    }
    expect(canaries).toHaveLength(1);
    const [, canary] = canaries[0] as [string, { Properties: Json }];
    expect(canary.Properties.Schedule.Expression).toBe('rate(5 minutes)');
    expect(canary.Properties.ArtifactConfig.S3Encryption.EncryptionMode).toBe('SSE_KMS');
    const targets = JSON.stringify(canary.Properties.RunConfig.EnvironmentVariables.CITADEL_CANARY_TARGETS);
    expect(targets).toMatch(/public/);
    expect(targets).toMatch(/machine.*apiKeySecretArn/);
    const [, bucket] = ofType(obs, 'AWS::S3::Bucket')[0] as [string, { Properties: Json }];
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault
        .SSEAlgorithm,
    ).toBe('aws:kms');
    expect(bucket.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBeGreaterThan(0);
    // The canary's own key, in the basic plan; its value is a dynamic reference, never in the template.
    const [, planKey] = ofType(obs, 'AWS::ApiGateway::UsagePlanKey')[0] as [string, { Properties: Json }];
    expect(JSON.stringify(planKey.Properties.UsagePlanId)).toMatch(/BasicPlan/);
    const [, apiKey] = ofType(obs, 'AWS::ApiGateway::ApiKey')[0] as [string, { Properties: Json }];
    expect(JSON.stringify(apiKey.Properties.Value)).toMatch(/resolve:secretsmanager/);
  });
});

describe('subscriptions follow the stage config', () => {
  it('prod: its alert email on both topics, nothing else', () => {
    const { obs, config } = get('prod');
    const subs = ofType(obs, 'AWS::SNS::Subscription').map(([, s]) => s.Properties);
    expect(
      subs.map((s) => [s.Protocol, s.Endpoint, s.TopicArn.Ref.replace(/[0-9A-F]{8}$/, '')]).sort(),
    ).toEqual(
      config.alerting.emails
        .flatMap((e) => [
          ['email', e, 'TopicsCritical'],
          ['email', e, 'TopicsWarning'],
        ])
        .sort(),
    );
    expect(ofType(obs, 'AWS::Chatbot::SlackChannelConfiguration')).toHaveLength(0);
  });

  it('SMS pages only (critical topic); Slack gets both topics through a read-only, guard-railed role', () => {
    const { templates } = synthStage(
      'staging',
      (c) => ({
        ...c,
        alerting: {
          ...c.alerting,
          smsNumbers: ['+447700900123'],
          slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
        },
      }),
      { compliance: true },
    );
    const obs = templates.observability.toJSON() as Cfn;
    const sms = ofType(obs, 'AWS::SNS::Subscription').filter(([, s]) => s.Properties.Protocol === 'sms');
    expect(sms.map(([, s]) => [s.Properties.Endpoint, s.Properties.TopicArn.Ref.slice(0, 14)])).toEqual([
      ['+447700900123', 'TopicsCritical'],
    ]);
    const [[, slack]] = ofType(obs, 'AWS::Chatbot::SlackChannelConfiguration') as unknown as [
      [string, { Properties: Json }],
    ];
    expect(slack.Properties).toMatchObject({
      SlackWorkspaceId: 'T07EA123LEP',
      SlackChannelId: 'C07EZ1ABC23',
    });
    expect(slack.Properties.SnsTopicArns).toHaveLength(2);
    expect(slack.Properties.GuardrailPolicies).toHaveLength(1);
    const [, guardrail] = ofType(obs, 'AWS::IAM::ManagedPolicy').find(([id]) =>
      id.includes('SlackReadOnly'),
    ) as [string, { Properties: Json }];
    const actions = statements(guardrail.Properties.PolicyDocument).flatMap((s) => [s.Action].flat());
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action).toMatch(/^cloudwatch:(Describe|Get|List)[A-Za-z]+$/);
    expect(JSON.stringify(slack.Properties.GuardrailPolicies)).toContain('SlackReadOnly');
  }, 300_000);
});

describe('each check reports the defect it exists for', () => {
  const mutate = (f: (t: Cfn) => void): Cfn => {
    const copy = structuredClone(get('prod').obs);
    f(copy);
    return copy;
  };
  const alarmNamed = (t: Cfn, name: string) =>
    (alarmsOf(t).find(([, r]) => r.Properties.AlarmName === name) as [string, { Properties: Json }])[1]
      .Properties;
  const expected = () => expectedAlarms('prod', get('prod').config);

  it('a threshold, a period or an action changed; an alarm removed', () => {
    const threshold = mutate((t) => {
      alarmNamed(t, 'Citadel-prod-Cognito-SignInFailure-Rate-Warning').Threshold = 30;
    });
    expect(alarmProblems(threshold, expected())).toEqual([
      expect.stringMatching(/SignInFailure.*threshold is 30/),
    ]);
    const paging = mutate((t) => {
      const critical = logicalId(t, 'AWS::SNS::Topic', 'TopicsCritical');
      alarmNamed(t, 'Citadel-prod-MalwareFound-Critical').AlarmActions = [{ Ref: critical }];
    });
    expect(alarmProblems(paging, expected())).toEqual([expect.stringMatching(/MalwareFound.*action/)]);
    expect(compositeProblems(paging, 'prod')).toEqual([expect.stringMatching(/pages directly/)]);
    const gone = mutate((t) => {
      const found = alarmsOf(t).find(
        ([, r]) => r.Properties.AlarmName === 'Citadel-prod-Canary-Failed-Critical',
      );
      delete t.Resources[(found as [string, unknown])[0]];
    });
    expect(alarmProblems(gone, expected())).toEqual(['Citadel-prod-Canary-Failed-Critical: missing']);
  });

  it('a runbook section that does not exist', () => {
    const broken = mutate((t) => {
      const p = alarmNamed(t, 'Citadel-prod-Scans-Overdue-Warning');
      p.AlarmDescription = p.AlarmDescription.replace('#scan-overdue', '#scan-too-slow');
    });
    expect(runbookProblems(broken, RUNBOOKS)).toEqual([expect.stringMatching(/no section "scan-too-slow"/)]);
    expect(runbookProblems(get('prod').obs, RUNBOOKS.replace('## waf-blocked', '## waf'))).toHaveLength(3);
  });

  it('a function without its memory alarm', () => {
    const b = get('prod');
    const obs = structuredClone(b.obs);
    const memory = alarmsOf(obs).filter(([, r]) =>
      String(r.Properties.AlarmName).endsWith('-Memory-Warning'),
    );
    delete obs.Resources[(memory[0] as [string, unknown])[0]];
    expect(coverageProblems({ ...b, obs })).toEqual([
      `function memory: ${memory.length - 1} alarms for ${memory.length} resources`,
    ]);
  });

  it('a conditioned key statement, a topic policy without source conditions, an unencrypted topic, a publisher let in', () => {
    const conditioned = mutate((t) => {
      const key = t.Resources[logicalId(t, 'AWS::KMS::Key', 'TopicsKey')] as { Properties: Json };
      const s = statements(key.Properties.KeyPolicy).find(
        (x) => principalService(x) === 'events.amazonaws.com',
      );
      (s as Json).Condition = { StringEquals: { 'aws:SourceAccount': '111122223333' } };
    });
    expect(topicProblems(conditioned, 'prod')).toEqual([
      expect.stringMatching(/key policy conditions events.*pages could be dropped/),
    ]);
    const unconditioned = mutate((t) => {
      for (const [, p] of ofType(t, 'AWS::SNS::TopicPolicy')) {
        for (const s of statements(p.Properties.PolicyDocument)) if (principalService(s)) delete s.Condition;
      }
    });
    expect(topicProblems(unconditioned, 'prod')).toHaveLength(4);
    const open = mutate((t) => {
      const [, p] = ofType(t, 'AWS::SNS::TopicPolicy')[0] as [string, { Properties: Json }];
      statements(p.Properties.PolicyDocument).push({
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'sns:Publish',
      });
    });
    expect(topicProblems(open, 'prod')).toEqual([expect.stringMatching(/an Allow for \{"AWS":"\*"\}/)]);
    const plain = mutate((t) => {
      delete (t.Resources[logicalId(t, 'AWS::SNS::Topic', 'TopicsWarning')] as { Properties: Json })
        .Properties.KmsMasterKeyId;
    });
    expect(topicProblems(plain, 'prod')).toEqual([expect.stringMatching(/not encrypted/)]);
  });

  it('a composite that misses a critical alarm', () => {
    const partial = mutate((t) => {
      const [, composite] = ofType(t, 'AWS::CloudWatch::CompositeAlarm')[0] as [string, { Properties: Json }];
      const text = JSON.stringify(composite.Properties.AlarmRule).replace(
        /AlarmsCanaryFailed[A-Z0-9]+/,
        'Nothing',
      );
      composite.Properties.AlarmRule = JSON.parse(text);
    });
    expect(compositeProblems(partial, 'prod')).toEqual([
      expect.stringMatching(/CanaryFailed.*critical=true but member=false/),
    ]);
  });
});

/** The dashboard's body as text: its literal parts joined, references to other resources left as placeholders. */
function dashboardText(t: Cfn): string {
  const [[, dashboard] = []] = ofType(t, 'AWS::CloudWatch::Dashboard');
  const body = dashboard?.Properties.DashboardBody;
  if (typeof body === 'string') return body;
  const parts = (body?.['Fn::Join']?.[1] ?? []) as unknown[];
  return parts.map((p) => (typeof p === 'string' ? p : '<ref>')).join('');
}

/** The sections, each as the header the dashboard shows and metrics it must graph. */
const DASHBOARD_SECTIONS: ReadonlyArray<readonly [header: string, metrics: readonly string[]]> = [
  ['APIs', ['Count', '5XXError', '4XXError', 'Latency']],
  ['Sign-in (Cognito)', ['SignInSuccesses', 'SignInThrottles', 'TokenRefreshSuccesses']],
  [
    'Uploads and scans',
    ['UploadsCreated', 'UploadsFailed', 'UploadsAborted', 'StuckUploads', 'ScanOrphans', 'BytesUploaded'],
  ],
  ['Functions', ['Errors', 'Throttles', 'Duration', 'ConcurrentExecutions']],
  [
    'Database',
    ['CPUUtilization', 'FreeableMemory', 'FreeStorageSpace', 'DatabaseConnections', 'ReadLatency'],
  ],
  ['Rotation, backups, GuardDuty', []],
  ['WAF', ['AllowedRequests', 'BlockedRequests']],
];

/** What the dashboard of `t` lacks: a section header, a metric of a section, or the runbook text on top. */
function dashboardProblems(t: Cfn, stage: Stage, runbookUrl: string): string[] {
  const text = dashboardText(t);
  const problems: string[] = [];
  const headerAt = (h: string) => text.indexOf(`# ${h}`);
  const runbooks = text.indexOf(`${runbookUrl}#citadel-unhealthy`);
  if (runbooks === -1) problems.push('no runbook links');
  for (const [header, metrics] of DASHBOARD_SECTIONS) {
    const at = headerAt(header);
    if (at === -1) problems.push(`no "${header}" section`);
    else if (runbooks > at) problems.push(`the runbook links come after "${header}"`);
    for (const m of metrics) if (!text.includes(`"${m}"`)) problems.push(`${header}: no ${m} metric`);
  }
  const canary = headerAt('Health canary') !== -1;
  if (canary !== (stage !== 'dev'))
    problems.push(`canary section ${canary ? 'present' : 'missing'} in ${stage}`);
  return problems;
}

describe.each(STAGES)('the %s dashboard', (stage) => {
  it('has the runbook links on top, then every section the on-call table names, with their metrics', () => {
    const { obs, config } = get(stage);
    expect(dashboardProblems(obs, stage, config.alerting.runbookUrl)).toEqual([]);
  });
});

describe('the dashboard check notices', () => {
  it('a dropped section and a dropped metric', () => {
    const { obs, config } = get('prod');
    const without = (from: string, to: string): Cfn => {
      const copy = structuredClone(obs);
      const [[id] = []] = ofType(copy, 'AWS::CloudWatch::Dashboard');
      const body = copy.Resources[id as string]?.Properties as Json;
      body.DashboardBody = JSON.parse(JSON.stringify(body.DashboardBody).split(from).join(to));
      return copy;
    };
    expect(dashboardProblems(without('# WAF', '# Firewall'), 'prod', config.alerting.runbookUrl)).toEqual([
      'no "WAF" section',
    ]);
    expect(dashboardProblems(without('StuckUploads', 'Other'), 'prod', config.alerting.runbookUrl)).toEqual([
      'Uploads and scans: no StuckUploads metric',
    ]);
  });
});
