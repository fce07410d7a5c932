import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { routeList } from '../../contract/routes';
import { HOUSE_ALIASES, HOUSE_BUILTINS, HOUSE_ESBUILD } from '../../lib/constructs/bundling';
import { DEV_TOKEN_MARKER } from '../../local/dev-tokens';

const ROOT = path.resolve(import.meta.dirname, '../..');
const entries = [...new Set(routeList.map((r) => r.entry))];

/** The Node built-ins a bundle imports as ES modules (statically or dynamically), as esbuild writes them. */
const builtinImports = (code: string): string[] =>
  [...code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*"([^"]+)"/g)]
    .map((m) => m[1] as string)
    .filter((name) => name.startsWith('node:') || builtinModules.includes(name));

/** Every module under lambda/ that exports a Lambda handler (routes, jobs, control functions, the scan…). */
async function handlerModules(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(ROOT, 'lambda'), { recursive: true })) {
    if (!entry.endsWith('.ts') || entry.startsWith('shared')) continue;
    const source = await readFile(path.join(ROOT, 'lambda', entry), 'utf8');
    if (/^export const handler\b/m.test(source)) found.push(path.join('lambda', entry));
  }
  return found.sort();
}

/** The functions' house bundles in memory, with `alias` in place of the house aliases (no source maps). */
const houseBuild = (entryPoints: string[], alias: Record<string, string>) =>
  build({ ...HOUSE_ESBUILD, entryPoints, write: false, outdir: '/out', sourcemap: false, alias });

describe('deployed bundles', () => {
  it.each(entries)(
    '%s bundles the house way without any local-only code, and builds only its own routes',
    async (entry) => {
      const result = await build({
        ...HOUSE_ESBUILD,
        entryPoints: [path.join(ROOT, entry)],
        write: false,
        sourcemap: false,
        metafile: true,
      });
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.some((i) => i.startsWith('local/') || i.includes('/jose/'))).toBe(false);
      const code = result.outputFiles.map((f) => f.text).join('');
      expect(code).not.toContain(DEV_TOKEN_MARKER);
      expect(code).not.toContain('/_dev/token');
      // Only this function's routes are built at its cold start: the contract's definitions are tree-shakable.
      const built = new Set([...code.matchAll(/operationId:"([A-Za-z]+)"/g)].map((m) => m[1]));
      expect(built).toEqual(new Set(routeList.filter((r) => r.entry === entry).map((r) => r.operationId)));
    },
  );
});

describe('the contract is tree-shakable', () => {
  /** Where the routes and their schemas are defined. */
  const sources = async (): Promise<string[]> => [
    ...(await readdir(path.join(ROOT, 'contract/api'))).map((f) => path.join('contract/api', f)),
    'contract/pagination.ts',
  ];

  it('wraps every top-level schema and route in a pure call, so a bundle drops what its function does not use', async () => {
    const unwrapped: string[] = [];
    for (const file of await sources()) {
      const source = await readFile(path.join(ROOT, file), 'utf8');
      for (const m of source.matchAll(
        /^(?:export )?const (\w+)(?::[^=]+)? = (?!\/\* @__PURE__ \*\/ \(\(\) =>)(.*)$/gm,
      )) {
        // A call, property read or method chain at the top level runs at import unless marked pure.
        if (/^(z\b|defineRoute\(|requires\(|peopleOnly\(|\w+\.\w+)/.test(m[2] as string))
          unwrapped.push(`${file}: ${m[1]}`);
      }
    }
    expect(unwrapped).toEqual([]);
  });
});

describe('the house credential provider', () => {
  /** Bundles a function that builds an S3 client the way the handlers do, with or without the house aliases. */
  const bundle = (alias: Record<string, string>) =>
    build({
      ...HOUSE_ESBUILD,
      write: false,
      sourcemap: false,
      metafile: true,
      alias,
      stdin: {
        contents: `import { S3Client } from '@aws-sdk/client-s3';
          const client = new S3Client({ region: 'eu-west-1' });
          const { accessKeyId } = await client.config.credentials();
          console.log(accessKeyId);`,
        resolveDir: ROOT,
        sourcefile: 'probe.ts',
        loader: 'ts',
      },
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

describe('Node built-ins in the house bundle', () => {
  it('no function imports a built-in as an ES module (each comes from process.getBuiltinModule)', async () => {
    const modules = await handlerModules();
    expect(modules.length).toBeGreaterThan(30);
    const house = await houseBuild(
      modules.map((m) => path.join(ROOT, m)),
      { ...HOUSE_ALIASES },
    );
    const offenders = house.outputFiles.flatMap((f) =>
      builtinImports(f.text).map(
        (name) => `${path.basename(path.dirname(f.path))}/${path.basename(f.path)}: ${name}`,
      ),
    );
    expect(offenders).toEqual([]);
    // Without the built-in aliases the same functions do import them (node:http among them): what the check catches.
    const plain = await houseBuild(
      modules.map((m) => path.join(ROOT, m)),
      Object.fromEntries(
        Object.entries(HOUSE_ALIASES).filter(
          ([from]) => !/^(node:)?[a-z_]+(\/[a-z_]+)?$/.test(from) || from === 'semver',
        ),
      ),
    );
    const unaliased = plain.outputFiles.flatMap((f) => builtinImports(f.text));
    expect(unaliased).toContain('node:http');
  });

  it('aliases every built-in under both names, to a module returning exactly that built-in', async () => {
    for (const name of HOUSE_BUILTINS) {
      expect(builtinModules).toContain(name);
      expect(HOUSE_ALIASES[name]).toBe(HOUSE_ALIASES[`node:${name}`]);
      const shim = await readFile(HOUSE_ALIASES[name] as string, 'utf8');
      expect(shim).toContain(`module.exports = process.getBuiltinModule('node:${name}');`);
    }
  });

  it('bundled code gets working built-ins, named and default imports alike, and semver fails loudly', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'citadel-builtins-'));
    try {
      const probe = path.join(dir, 'probe.ts');
      await writeFile(
        probe,
        `import http, { STATUS_CODES } from 'node:http';
         import { createHash } from 'crypto';
         import { readFile } from 'node:fs/promises';
         import { isUint8Array } from 'node:util/types';
         import * as semver from 'semver';
         const text = await readFile(new URL(import.meta.url), 'utf8');
         let semverError = '';
         try { semver.gte('1.0.0', '0.9.0'); } catch (e) { semverError = (e as Error).message; }
         console.log(JSON.stringify({
           notFound: STATUS_CODES[404], agent: typeof http.Agent,
           hash: createHash('sha256').update('citadel').digest('hex'),
           readSelf: text.length > 0, typed: isUint8Array(new Uint8Array(1)), semverError,
         }));`,
      );
      const result = await houseBuild([probe], { ...HOUSE_ALIASES });
      const file = path.join(dir, 'probe.mjs');
      await writeFile(file, result.outputFiles[0]?.text ?? '');
      expect(builtinImports(result.outputFiles[0]?.text ?? '')).toEqual([]);
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({
        notFound: 'Not Found',
        agent: 'function',
        // sha256('citadel')
        hash: 'c737e8142a927072977437977d3846acf36f5057d167cf45ea95c7423ed27a0f',
        readSelf: true,
        typed: true,
        semverError: expect.stringContaining("only the X-Ray SDK's AWS SDK v2 patcher uses semver"),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
