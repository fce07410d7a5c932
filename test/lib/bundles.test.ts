import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { routeList } from '../../contract/routes';
import { HOUSE_BANNER, HOUSE_EXTERNALS, HOUSE_TARGET } from '../../lib/constructs/bundling';
import { DEV_TOKEN_MARKER } from '../../local/dev-tokens';

const ROOT = path.resolve(import.meta.dirname, '../..');
const entries = [...new Set(routeList.map((r) => r.entry))];

describe('deployed bundles', () => {
  it.each(entries)('%s bundles the house way without any local-only code', async (entry) => {
    const result = await build({
      entryPoints: [path.join(ROOT, entry)],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      target: HOUSE_TARGET,
      minify: true,
      external: HOUSE_EXTERNALS,
      banner: { js: HOUSE_BANNER },
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.startsWith('local/') || i.includes('/jose/'))).toBe(false);
    const code = result.outputFiles.map((f) => f.text).join('');
    expect(code).not.toContain(DEV_TOKEN_MARKER);
    expect(code).not.toContain('/_dev/token');
  });
});
