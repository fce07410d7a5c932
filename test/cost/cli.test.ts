/**
 * `npm run cost`: the last line of its output is one JSON object with at least `stage`, `monthlyFixedUsd`,
 * `notPriced` and `vsNatGateway` (the contract other tools read), with and without `--json`. The schema and the
 * last-line rule are shown to reject what they exist to reject.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as z from 'zod';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The contract of the JSON line. */
const costLine = z.looseObject({
  stage: z.enum(['dev', 'staging', 'prod']),
  monthlyFixedUsd: z.number().nonnegative(),
  monthlyFixedIsLowerBound: z.boolean(),
  notPriced: z.array(z.string()),
  vsNatGateway: z.number().positive(),
  top: z.array(z.looseObject({ label: z.string(), usd: z.number() })).max(5),
  usage: z.looseObject({
    perMillionApiRequests: z.looseObject({ usd: z.number().positive() }),
    uploads: z
      .array(z.looseObject({ usd: z.number().positive(), parts: z.number().int().positive() }))
      .min(1),
  }),
});

/** The last non-empty line of `output`, parsed as JSON; throws when it is not one JSON object. */
function lastJsonLine(output: string): unknown {
  const last = output.trimEnd().split('\n').at(-1) ?? '';
  const value: unknown = JSON.parse(last);
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error('not a JSON object');
  return value;
}

const run = async (...args: string[]): Promise<string> =>
  (
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/cost.ts', ...args], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    })
  ).stdout;

describe('npm run cost -- -c stage=staging', () => {
  let text = '';
  let json = '';
  beforeAll(async () => {
    [text, json] = await Promise.all([run('-c', 'stage=staging'), run('-c', 'stage=staging', '--json')]);
  }, 120_000);

  it('prints the breakdown, then the report as its last line', () => {
    expect(text).toMatch(/^Citadel staging \(egress nat-gateway\): fixed cost \$[\d,.]+ a month at idle/);
    expect(text).toContain('Fixed monthly cost by resource');
    expect(text).toContain('Usage-driven costs (per unit)');
    const report = costLine.parse(lastJsonLine(text));
    expect(report.stage).toBe('staging');
    // Staging already runs NAT gateways: it is its own comparison.
    expect(report.vsNatGateway).toBe(1);
    expect(report.notPriced).toEqual([]);
  });

  it('with --json prints only that line, the same report', () => {
    expect(json.trimEnd().split('\n')).toHaveLength(1);
    expect(costLine.parse(lastJsonLine(json))).toEqual(costLine.parse(lastJsonLine(text)));
  });

  it('the contract rejects a report without a field it promises, or with one of the wrong kind', () => {
    const report = lastJsonLine(json) as Record<string, unknown>;
    const { vsNatGateway: _dropped, ...withoutRatio } = report;
    expect(costLine.safeParse(withoutRatio).success).toBe(false);
    expect(costLine.safeParse({ ...report, notPriced: 'none' }).success).toBe(false);
    expect(costLine.safeParse({ ...report, monthlyFixedUsd: '190.40' }).success).toBe(false);
    expect(costLine.safeParse(report).success).toBe(true);
  });

  it('the last-line rule rejects output that does not end with one JSON object', () => {
    expect(() => lastJsonLine(`${json}\ndone`)).toThrow();
    expect(() => lastJsonLine('[1, 2]')).toThrow('not a JSON object');
  });

  it('refuses an unknown stage with how to ask for a real one', async () => {
    await expect(run('-c', 'stage=qa')).rejects.toMatchObject({
      stderr: expect.stringContaining('unknown stage "qa"; choose one of dev, staging, prod'),
    });
  });
});
