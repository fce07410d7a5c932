import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { routeList } from '../../contract/routes';
import { HOUSE_ALIASES, HOUSE_BANNER, HOUSE_EXTERNALS, HOUSE_TARGET } from '../../lib/constructs/bundling';
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
      alias: { ...HOUSE_ALIASES },
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

describe('the house credential provider', () => {
  /** Bundles a function that builds an S3 client the way the handlers do, with or without the house aliases. */
  const bundle = (alias: Record<string, string>) =>
    build({
      stdin: {
        contents: `import { S3Client } from '@aws-sdk/client-s3';
          const client = new S3Client({ region: 'eu-west-1' });
          const { accessKeyId } = await client.config.credentials();
          console.log(accessKeyId);`,
        resolveDir: ROOT,
        sourcefile: 'probe.ts',
        loader: 'ts',
      },
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      target: HOUSE_TARGET,
      mainFields: ['module', 'main'],
      external: HOUSE_EXTERNALS,
      alias,
      banner: { js: HOUSE_BANNER },
      metafile: true,
      logLevel: 'silent',
    });
  const chain = (inputs: string[]) =>
    inputs.filter((i) => /@aws-sdk\/(credential-provider-node|nested-clients)\//.test(i));

  it('replaces the SDK default chain with the environment credentials Lambda sets, and they resolve', async () => {
    const house = await bundle({ ...HOUSE_ALIASES });
    const inputs = Object.keys(house.metafile.inputs);
    expect(chain(inputs)).toEqual([]);
    expect(inputs).toContain('lambda/shared/lambda-credentials.ts');
    // Without the alias the chain (and the STS/SSO clients it carries) is in the bundle: what the check catches.
    expect(chain(Object.keys((await bundle({})).metafile.inputs)).length).toBeGreaterThan(0);

    const dir = await mkdtemp(path.join(tmpdir(), 'citadel-creds-'));
    try {
      const file = path.join(dir, 'index.mjs');
      await writeFile(file, house.outputFiles[0]?.text ?? '');
      const runProbe = (env: Record<string, string>) =>
        spawnSync(process.execPath, [file], {
          env: { PATH: process.env.PATH ?? '', ...env },
          encoding: 'utf8',
        });
      const lambdaEnv = {
        AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEROLEKEY',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_SESSION_TOKEN: 't',
      };
      expect(runProbe(lambdaEnv).stdout.trim()).toBe('ASIAEXAMPLEROLEKEY');
      const without = runProbe({ HOME: dir });
      expect(without.status).not.toBe(0);
      expect(without.stderr).toMatch(/Unable to find environment variable credentials/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
