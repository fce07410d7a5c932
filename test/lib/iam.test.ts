import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import { synthStage } from '../support/cdk';

/**
 * Actions that AWS does not let a policy scope to a resource. A wildcard resource is acceptable for
 * these and nothing else; the cdk-nag `IAM5[Resource::*]` acknowledgements rely on this list.
 */
const RESOURCELESS_ACTIONS = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'secretsmanager:GetRandomPassword',
  'backup:PutRestoreValidationResult',
  // The health canary (CloudWatch Synthetics' documented canary permissions): its own metrics, under the
  // CloudWatchSynthetics namespace condition, and the bucket listing the runtime does.
  'cloudwatch:PutMetricData',
  's3:ListAllMyBuckets',
]);

const templates: Template[] = [];
beforeAll(() => {
  for (const stage of ['dev', 'prod']) templates.push(...Object.values(synthStage(stage).templates));
});

describe('IAM across every stack', () => {
  it('grants a wildcard resource only for actions that cannot be scoped', () => {
    const offenders: string[] = [];
    for (const t of templates) {
      for (const [id, policy] of Object.entries(t.findResources('AWS::IAM::Policy'))) {
        for (const st of policy.Properties.PolicyDocument.Statement) {
          if (st.Effect !== 'Allow' || JSON.stringify(st.Resource) !== '"*"') continue;
          for (const action of [st.Action].flat())
            if (!RESOURCELESS_ACTIONS.has(action)) offenders.push(`${id}: ${action}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('never grants a service-wide action wildcard', () => {
    for (const t of templates) {
      for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
        for (const st of policy.Properties.PolicyDocument.Statement) {
          for (const action of [st.Action].flat()) expect(action).not.toMatch(/^[a-z0-9-]+:\*$/);
        }
      }
    }
  });
});
