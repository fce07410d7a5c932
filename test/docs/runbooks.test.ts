/**
 * Every alarm names a runbook section (`docs/alarms.md`, drift-tested against the prod templates, lists them); each
 * such section must tell the 3 a.m. engineer four things: what the alarm means (its `**Alarm:**` line), the first
 * three things to check (numbered, with the console page or command), how to mitigate and when to escalate.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const DOCS = path.resolve(import.meta.dirname, '../../docs');
const ALARMS = readFileSync(path.join(DOCS, 'alarms.md'), 'utf8');
const RUNBOOKS = readFileSync(path.join(DOCS, 'runbooks.md'), 'utf8');

/** `## <anchor>` sections of a runbook document, by anchor. */
const sections = (doc: string): Map<string, string> =>
  new Map(
    doc
      .split(/^## /m)
      .slice(1)
      .map((s) => [s.slice(0, s.indexOf('\n')).trim(), s]),
  );

/** What a section lacks of the four parts. */
function missingParts(section: string): string[] {
  const missing: string[] = [];
  if (!/\*\*Alarms?:\*\*/.test(section)) missing.push('what it means (an **Alarm:** line)');
  if (![1, 2, 3].every((n) => new RegExp(`^${n}\\. \\S`, 'm').test(section)))
    missing.push('three numbered checks');
  if (!/\*\*Mitigate:\*\*/.test(section)) missing.push('**Mitigate:**');
  if (!/\*\*Escalate:\*\*/.test(section)) missing.push('**Escalate:**');
  return missing;
}

const anchors = [...new Set([...ALARMS.matchAll(/runbooks\.md#([a-z0-9-]+)/g)].map((m) => m[1] as string))];

describe('the runbook of every alarm', () => {
  it('names the sections of many alarms', () => {
    expect(anchors.length).toBeGreaterThan(20);
  });

  it.each(anchors)('%s: says what it means, three checks, how to mitigate and when to escalate', (anchor) => {
    const section = sections(RUNBOOKS).get(anchor);
    expect(section).toBeDefined();
    expect(missingParts(section as string)).toEqual([]);
  });

  it('catches a section that lost its escalation or a check', () => {
    const [anchor] = anchors as [string];
    const section = sections(RUNBOOKS).get(anchor) as string;
    expect(missingParts(section.replace('**Escalate:**', 'Escalate:'))).toEqual(['**Escalate:**']);
    expect(missingParts(section.replace(/^3\. /m, '- '))).toEqual(['three numbered checks']);
  });
});
