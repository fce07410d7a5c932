import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aws_lambda as lambda } from 'aws-cdk-lib';
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

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

/**
 * Modules the house bundle replaces (esbuild `alias`, absolute paths): the AWS SDK's default credential chain
 * becomes the environment's credentials, the only link of it that answers inside Lambda
 * (`lambda/shared/lambda-credentials.ts` says why; it saves about 130 KiB per function that uses the SDK).
 */
export const HOUSE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../lambda/shared/lambda-credentials.ts',
  ),
};

/**
 * The house bundle: ESM (faster module loading, real tree-shaking), minified, with an external source
 * map (no sources inlined; read only when a stack is reported, see `lambda/shared/stack-trace.ts`, so the
 * functions run without `--enable-source-maps`), and the AWS SDK bundled so each function ships exactly the pinned,
 * tree-shaken clients it uses instead of resolving the runtime's copy, less what {@link HOUSE_ALIASES} replaces.
 * `bench/bundles.ts` builds the same options with esbuild directly.
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
