/**
 * The alert wiring, simulated with the IAM wiring suite's engine (`test/support/wiring/iam-checks.ts`): CloudWatch
 * alarms and EventBridge rules publish to the CMK-encrypted topics (topic policy + key policy, with their source
 * conditions), and SNS keeps undeliverable notifications in the encrypted dead-letter queue. Each edge is shown
 * refused when the statement it rests on is removed or its condition names another source.
 */
import { describe, expect, it } from '@jest/globals';
import { evaluate, wiringChecks } from '../support/wiring/iam-checks';
import type { CfnTemplate, StageTemplates } from '../support/wiring/stages';
import { stageTemplates } from '../support/wiring/stages';

type Templates = Record<string, CfnTemplate>;
// biome-ignore lint/suspicious/noExplicitAny: template properties are arbitrary JSON, mutated in place.
type Props = Record<string, any>;

async function run(mutate?: (obs: CfnTemplate) => void) {
  const original = stageTemplates('prod');
  const templates = structuredClone(original.templates) as Templates;
  mutate?.(templates[original.stackNames.Observability as string] as CfnTemplate);
  const built = wiringChecks({ ...original, templates } as StageTemplates);
  const results = await evaluate(built.checks);
  return {
    alert: results.filter((r) => /^edge (CloudWatch|EventBridge \w+Rule|SNS )/.test(r.check.id)),
    changed: Object.fromEntries(
      results.filter((r) => r.result !== r.check.expect).map((r) => [r.check.id, r.result]),
    ),
  };
}

const keyOf = (t: CfnTemplate, prefix: string) =>
  (
    Object.entries(t.Resources).find(([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::KMS::Key') as [
      string,
      { Properties: Props },
    ]
  )[1].Properties.KeyPolicy as { Statement: Props[] };

describe('prod alert wiring (simulated)', () => {
  it('every alarm and alert rule may publish to its topic and use its key; SNS may keep dead letters', async () => {
    const { alert, changed } = await run();
    expect(changed).toEqual({});
    const count = (re: RegExp) => alert.filter((r) => re.test(r.check.id)).length;
    expect(count(/^edge CloudWatch .* → sns:Publish /)).toBeGreaterThan(140);
    expect(count(/^edge CloudWatch Citadel prod unhealthy → sns:Publish .*TopicsCritical/)).toBe(1);
    expect(count(/^edge EventBridge \w+Rule\w* → sns:Publish /)).toBe(5);
    expect(count(/^edge EventBridge \w+Rule\w* → kms:(GenerateDataKey|Decrypt) .*publishing/)).toBe(10);
    expect(count(/^edge SNS .* → sqs:SendMessage /)).toBe(2);
    expect(alert.every((r) => r.result === 'Allowed')).toBe(true);
  });

  it('the topic key without CloudWatch: exactly the alarms’ encryption is refused', async () => {
    const { changed } = await run((obs) => {
      const policy = keyOf(obs, 'TopicsKey');
      policy.Statement = policy.Statement.filter((s) => s.Sid !== 'CloudWatchAlarmsEncryptAlerts');
    });
    const ids = Object.keys(changed);
    expect(ids.length).toBeGreaterThan(280);
    expect(ids.every((id) => /^edge CloudWatch .* → kms:(GenerateDataKey|Decrypt) /.test(id))).toBe(true);
    expect(new Set(Object.values(changed))).toEqual(new Set(['ImplicitlyDenied']));
  });

  it('the key without its EventBridge statement: EventBridge can no longer encrypt', async () => {
    const { changed } = await run((obs) => {
      const policy = keyOf(obs, 'TopicsKey');
      policy.Statement = policy.Statement.filter((s) => s.Sid !== 'EventBridgeRulesEncryptAlerts');
    });
    expect(Object.keys(changed)).toHaveLength(10);
    expect(Object.keys(changed).every((id) => /^edge EventBridge \w+ → kms:/.test(id))).toBe(true);
  });

  it('a topic policy without EventBridge: its rules’ tickets are refused', async () => {
    const { changed } = await run((obs) => {
      for (const r of Object.values(obs.Resources).filter((x) => x.Type === 'AWS::SNS::TopicPolicy')) {
        const doc = (r as { Properties: Props }).Properties.PolicyDocument as { Statement: Props[] };
        doc.Statement = doc.Statement.filter((s) => s.Sid !== 'EventBridgeRulesPublish');
      }
    });
    expect(Object.keys(changed).sort()).toEqual(
      Object.keys(changed)
        .filter((id) => /^edge EventBridge \w+ → sns:Publish /.test(id))
        .sort(),
    );
    expect(Object.keys(changed)).toHaveLength(5);
  });

  it('the dead-letter key without SNS: undeliverable notifications are refused', async () => {
    const { changed } = await run((obs) => {
      const policy = keyOf(obs, 'DeadLettersKey');
      policy.Statement = policy.Statement.filter((s) => s.Sid !== 'AlertTopicsSendUndeliveredNotifications');
    });
    expect(Object.keys(changed)).toHaveLength(4); // 2 subscriptions × (GenerateDataKey, Decrypt)
    expect(Object.keys(changed).every((id) => /^edge SNS .* → kms:/.test(id))).toBe(true);
  });
});
