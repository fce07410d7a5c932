/**
 * What the cold-start benchmarks (bench:bundles, bench:cold) share: the two ways a handler is bundled, the
 * output layout, and the Lambda-like environment a fresh Node process runs a bundle in.
 *   (a) `house`: the esbuild options CitadelFunction's HOUSE_BUNDLING produces;
 *   (b) `defaults`: NodejsFunction's out-of-the-box defaults (the baseline).
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { HOUSE_ESBUILD, HOUSE_TARGET } from '../lib/constructs/bundling';

export const ROOT = path.resolve(import.meta.dirname, '..');

/** The esbuild options CitadelFunction's HOUSE_BUNDLING produces. */
export const house = (entry: string, outdir: string): BuildOptions => ({
  ...HOUSE_ESBUILD,
  entryPoints: [path.join(ROOT, entry)],
  outfile: path.join(outdir, 'index.mjs'),
  metafile: true,
});

/** NodejsFunction defaults for a Node 24 runtime with the recommended feature flags. */
export const defaults = (entry: string, outdir: string): BuildOptions => ({
  entryPoints: [path.join(ROOT, entry)],
  outfile: path.join(outdir, 'index.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: HOUSE_TARGET,
  external: ['@aws-sdk/*', '@smithy/*', 'pg-native'],
  metafile: true,
  logLevel: 'silent',
});

export interface Built {
  readonly file: string;
  readonly bytes: number;
  readonly metafile: Metafile;
}

export async function bundle(options: BuildOptions): Promise<Built> {
  const result = await build(options);
  const file = options.outfile as string;
  return { file, bytes: statSync(file).size, metafile: result.metafile as Metafile };
}

/**
 * Empties `out` and prepares `out/default`: NodejsFunction's CommonJS output is index.js in a directory
 * without "type": "module".
 */
export function freshOutDir(out: string): void {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, 'default'), { recursive: true });
  writeFileSync(path.join(out, 'default', 'package.json'), '{"type":"commonjs"}\n');
}

/**
 * The environment Lambda gives every function (on top of the caller's), as far as module loading depends on it.
 * As inside Lambda with active tracing: the X-Ray SDK loads, as it does in every stage.
 */
export const LAMBDA_ENV = {
  // As CitadelFunction runs them: no NODE_OPTIONS (no `--enable-source-maps`: stacks are mapped when reported, by
  // lambda/shared/stack-trace.ts), whatever the shell running the benchmark sets.
  NODE_OPTIONS: '',
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
  AWS_REGION: 'eu-west-1',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  POWERTOOLS_TRACE_ENABLED: 'true',
  AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
} as const;
