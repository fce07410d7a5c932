import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aws_lambda as lambda } from 'aws-cdk-lib';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** The newest Node.js runtime aws-cdk-lib offers. */
export const HOUSE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** esbuild target matching {@link HOUSE_RUNTIME}. */
export const HOUSE_TARGET = 'node24';

/**
 * ESM bundles cannot `require`; a few CommonJS dependencies (the X-Ray SDK, `pg`) still do, so the
 * banner gives the module a real `require` bound to its own URL.
 */
export const HOUSE_BANNER =
  "import { createRequire as __citadelCreateRequire } from 'node:module'; const require = __citadelCreateRequire(import.meta.url);";

/** Modules that are optional at run time and must stay out of every bundle. */
export const HOUSE_EXTERNALS = ['pg-native'];

const LAMBDA_SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lambda/shared');

/**
 * The Node built-ins bundled code may import. In an ES module, `import … from 'node:http'` builds the built-in's ESM
 * facade, which reads every export once, lazy getters included: on the Lambda runtime (Node 24) that makes
 * `node:http` load undici for its `WebSocket`, `CloseEvent` and `MessageEvent` exports, and `node:crypto`,
 * `node:process` and `node:https` pay alike, about 20 ms per cold start together (`bench:bundles -- --node`). The
 * house bundle therefore takes each built-in from `process.getBuiltinModule()` (Node 20.16+, 22.3+), which returns
 * the module object without a facade, through `lambda/shared/runtime/node-<name>.cjs`;
 * `test/lib/bundles.test.ts` fails if a bundle still imports one as an ES module.
 */
export const HOUSE_BUILTINS = [
  'assert',
  'assert/strict',
  'async_hooks',
  'buffer',
  'child_process',
  'console',
  'crypto',
  'dgram',
  'diagnostics_channel',
  'dns',
  'dns/promises',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'module',
  'net',
  'os',
  'path',
  'path/posix',
  'path/win32',
  'perf_hooks',
  'process',
  'querystring',
  'readline',
  'readline/promises',
  'stream',
  'stream/consumers',
  'stream/promises',
  'stream/web',
  'string_decoder',
  'timers',
  'timers/promises',
  'tls',
  'tty',
  'url',
  'util',
  'util/types',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
] as const;

const builtinShim = (name: string): string =>
  path.join(LAMBDA_SHARED, 'runtime', `node-${name.replace('/', '-')}.cjs`);

/**
 * Modules the house bundle replaces (esbuild `alias`, absolute paths):
 * - the AWS SDK's default credential chain becomes the environment's credentials, the only link of it that answers
 *   inside Lambda (`lambda/shared/lambda-credentials.ts` says why; it saves about 130 KiB per function that uses
 *   the SDK);
 * - `semver`, which only the X-Ray SDK's AWS SDK v2 patcher calls (`lambda/shared/runtime/semver.cjs`; 28 KiB and
 *   about 4 ms at each cold start of every function);
 * - every Node built-in in {@link HOUSE_BUILTINS}, under both of its names.
 */
export const HOUSE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(LAMBDA_SHARED, 'lambda-credentials.ts'),
  semver: path.join(LAMBDA_SHARED, 'runtime', 'semver.cjs'),
  ...Object.fromEntries(
    HOUSE_BUILTINS.flatMap((name) => [
      [name, builtinShim(name)],
      [`node:${name}`, builtinShim(name)],
    ]),
  ),
};

/**
 * The house bundle: ESM (faster module loading, real tree-shaking), minified, with an external source
 * map (no sources inlined; read only when a stack is reported, see `lambda/shared/stack-trace.ts`, so the
 * functions run without `--enable-source-maps`), and the AWS SDK bundled so each function ships exactly the pinned,
 * tree-shaken clients it uses instead of resolving the runtime's copy, less what {@link HOUSE_ALIASES} replaces.
 * `bench/bundling.ts` builds the same options with esbuild directly.
 */
export const HOUSE_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: HOUSE_TARGET,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  externalModules: HOUSE_EXTERNALS,
  banner: HOUSE_BANNER,
  // CDK passes each entry as `--alias:<from>=<to>`.
  esbuildArgs: { '--alias': Object.entries(HOUSE_ALIASES).map(([from, to]) => `${from}=${to}`) },
};

/**
 * {@link HOUSE_BUNDLING} as esbuild API options, for the benchmarks and tests that bundle a function the way a deploy
 * does (add `entryPoints` and an `outfile` or `outdir`).
 */
export const HOUSE_ESBUILD: Readonly<BuildOptions> = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: HOUSE_TARGET,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  external: [...HOUSE_EXTERNALS],
  alias: { ...HOUSE_ALIASES },
  banner: { js: HOUSE_BANNER },
  logLevel: 'silent',
};
