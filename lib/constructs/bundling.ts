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
 * The house bundle: ESM (faster module loading, real tree-shaking), minified, with external source
 * maps (no sources inlined), and the AWS SDK bundled so each function ships exactly the pinned,
 * tree-shaken clients it uses instead of resolving the runtime's copy.
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
};
