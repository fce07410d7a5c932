/**
 * The client stays navigable: no function in `client/` over 80 lines. Biome's `noExcessiveLinesPerFunction`
 * enforces it (biome.json, `client/**` override) as part of `npm run lint`; this test shows the rule is on for
 * `client/`, reports a long function there, and finds none in the client today.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from './support';

const BIOME = path.join(ROOT, 'node_modules/.bin/biome');
const RULE = 'lint/complexity/noExcessiveLinesPerFunction';

/**
 * Biome's lint, with the project's configuration, of `source` as the file `asPath` of a scratch project (so the
 * overrides for that path apply and no file of the real client is touched).
 */
function lintAs(asPath: string, source: string): string {
  const scratch = mkdtempSync(path.join(tmpdir(), 'citadel-shape-'));
  try {
    const { $schema: _schema, ...config } = JSON.parse(readFileSync(path.join(ROOT, 'biome.json'), 'utf8'));
    writeFileSync(path.join(scratch, 'biome.json'), JSON.stringify({ ...config, vcs: { enabled: false } }));
    mkdirSync(path.join(scratch, path.dirname(asPath)), { recursive: true });
    writeFileSync(path.join(scratch, asPath), source);
    const run = spawnSync(BIOME, ['lint', asPath], { cwd: scratch, encoding: 'utf8' });
    return `${run.stdout}${run.stderr}`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A function whose body has `lines` statement lines. */
const longFunction = (lines: number) =>
  `export function long(): number {\n  let n = 0;\n${'  n += 1;\n'.repeat(lines)}  return n;\n}\n`;

describe('the client module shape', () => {
  it('has no function over 80 lines in client/', () => {
    const run = spawnSync(BIOME, ['lint', 'client'], { cwd: ROOT, encoding: 'utf8' });

    expect(`${run.stdout}${run.stderr}`).not.toContain(RULE);
    expect(run.status).toBe(0);
  });

  it('reports a function over 80 lines in client/, and not one of 80 (the rule is on and bites)', () => {
    expect(lintAs('client/probe.ts', longFunction(85))).toMatch(
      /too many lines \(\d+\)\. Maximum allowed is 80/,
    );
    expect(lintAs('client/probe.ts', longFunction(70))).not.toContain(RULE);
    // The limit is the client's: elsewhere the same function passes.
    expect(lintAs('lambda/probe.ts', longFunction(85))).not.toContain(RULE);
  });
});
