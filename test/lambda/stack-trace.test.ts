import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { originalStack } from '../../lambda/shared/stack-trace';
import { HOUSE_ESBUILD } from '../../lib/constructs/bundling';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A function bundled the house way (minified, external map) whose handler fails in its own code: `explode`
 * throws on line 4 of `probe.ts`. The child imports it, optionally moves the map away, then invokes it.
 */
const PROBE = `import { observe } from './lambda/shared/observe';

function explode(): never {
  throw new Error('boom');
}

export const handler = observe(async () => explode());
`;

describe('stack traces of a deployed function', () => {
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citadel-stack-'));
    bundle = path.join(dir, 'index.mjs');
    await build({
      ...HOUSE_ESBUILD,
      stdin: { contents: PROBE, resolveDir: ROOT, sourcefile: 'probe.ts', loader: 'ts' },
      outfile: bundle,
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The stack the Lambda runtime would report for the failed invocation. */
  function failedStack(moveMapAfterImport: boolean): string {
    const script = `
      import { renameSync } from 'node:fs';
      const { handler } = await import(${JSON.stringify(`file://${bundle}`)});
      if (${moveMapAfterImport}) renameSync(${JSON.stringify(`${bundle}.map`)}, ${JSON.stringify(`${bundle}.moved`)});
      try {
        await handler({}, { functionName: 'probe', awsRequestId: 'a-1', getRemainingTimeInMillis: () => 1000 });
      } catch (error) {
        process.stdout.write(error.stack);
      }`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', POWERTOOLS_SERVICE_NAME: 'probe', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      encoding: 'utf8',
    });
    return run.stdout;
  }

  it('names the source line of an error that escapes the handler, without --enable-source-maps', () => {
    const stack = failedStack(false);
    expect(stack).toMatch(/^Error: boom\n\s+at \S+ \(\S*probe\.ts:4:9\)/);
    expect(stack).not.toContain('index.mjs:');
  });

  it('reads the map only when a stack is reported: it is not read while the bundle loads', () => {
    // Moved away after the import, the map cannot be read any more: the frames stay in the bundle, unchanged.
    const stack = failedStack(true);
    expect(stack).toMatch(/^Error: boom\n\s+at \S+ \(file:\/\/\/.*index\.mjs:\d+:\d+\)/);
  });

  it('leaves stacks of unbundled code alone', () => {
    const stack = new Error('here').stack as string;
    expect(originalStack(stack)).toBe(stack);
  });
});
