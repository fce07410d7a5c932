/**
 * The alerting block of the stage config (`lib/config/schema.ts`): every bad value is refused at synth with its
 * path and how to fix it.
 */
import { describe, expect, it } from '@jest/globals';
import { loadStageConfig, type StageConfig, StageConfigError } from '../../lib/config';

function problems(stage: string, alerting: (a: StageConfig['alerting']) => unknown): string {
  try {
    loadStageConfig(stage, {
      overrides: (c) => ({ ...c, alerting: alerting(c.alerting) as StageConfig['alerting'] }),
    });
    return '';
  } catch (error) {
    expect(error).toBeInstanceOf(StageConfigError);
    return (error as Error).message;
  }
}

describe('alerting config', () => {
  it('accepts every stage as committed, and a full set of channels', () => {
    for (const stage of ['dev', 'staging', 'prod']) expect(problems(stage, (a) => a)).toBe('');
    expect(
      problems('prod', (a) => ({
        ...a,
        smsNumbers: ['+447700900123', '+14155550100'],
        slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
      })),
    ).toBe('');
  });

  it('refuses bad addresses, numbers that are not E.164, and Slack ids that are not ids', () => {
    const message = problems('staging', (a) => ({
      ...a,
      emails: ['oncall', 'oncall@citadel.example.com', 'oncall@citadel.example.com'],
      smsNumbers: ['07700 900123', '+0123456789'],
      slack: { workspaceId: 'citadel', channelId: '#alerts' },
    }));
    expect(message).toContain('lib/config/staging.ts');
    expect(message).toMatch(/alerting\.emails\.0: alert emails must be addresses like oncall@example\.com/);
    expect(message).toMatch(/alerting\.emails: list each alert email once/);
    expect(message).toMatch(/alerting\.smsNumbers\.0: SMS numbers must be E\.164: "\+" then country code/);
    expect(message).toMatch(/alerting\.smsNumbers\.1: SMS numbers must be E\.164/);
    expect(message).toMatch(/alerting\.slack\.workspaceId: the Slack workspace \(team\) id starts with T/);
    expect(message).toMatch(/alerting\.slack\.channelId: the Slack channel id starts with C/);
  });

  it('refuses a prod that pages nobody, and staging or prod without the canary', () => {
    expect(problems('prod', (a) => ({ ...a, emails: [], smsNumbers: [] }))).toMatch(
      /alerting: prod pages someone: list at least one alerting\.emails address/,
    );
    expect(
      problems('prod', (a) => ({
        ...a,
        emails: [],
        slack: { workspaceId: 'T07EA123LEP', channelId: 'C07EZ1ABC23' },
      })),
    ).toBe('');
    expect(problems('staging', (a) => ({ ...a, canary: false }))).toMatch(
      /alerting\.canary: staging and prod run the health canary/,
    );
    expect(problems('dev', (a) => ({ ...a, canary: false }))).toBe('');
  });

  it('refuses a WAF share outside (0, 100] and a runbook URL that is not https', () => {
    const message = problems('dev', (a) => ({
      ...a,
      wafBlockedPercent: 0,
      runbookUrl: 'http://wiki/runbooks',
    }));
    expect(message).toMatch(/alerting\.wafBlockedPercent: /);
    expect(message).toMatch(/alerting\.runbookUrl: the runbook URL must be https/);
  });
});
