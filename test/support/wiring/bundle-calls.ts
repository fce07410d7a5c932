/**
 * The AWS calls a Lambda bundle can make, read from the bundle itself: each handler is bundled with esbuild as
 * `CitadelFunction` bundles it (`lib/constructs/bundling.ts`, as `bench/bundling.ts` does), but unminified and
 * without writing files, so that tree-shaking has removed what the handler cannot reach and every project
 * module's code is still marked with its path. In the project modules that remain (the metafile lists them)
 * it finds:
 * - every `new <X>(` whose class `X` the module imports from an `@aws-sdk/client-*` package: a command the
 *   function sends or presigns;
 * - a locally signed RDS IAM auth token (`lambda/shared/db/iam-token.ts`): `rds-db:connect` without a command;
 * - imports from AWS SDK packages this check does not understand (paginators, waiters, lib-storage…), which it
 *   reports instead of ignoring.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { HOUSE_ALIASES, HOUSE_BANNER, HOUSE_EXTERNALS, HOUSE_TARGET } from '../../../lib/constructs/bundling';
import {
  type AwsCall,
  callName,
  type FunctionDeclaration,
  NEED_CALLS,
  SDK_CLIENTS,
  type SdkClient,
  type Target,
} from '../../../lib/wiring/aws-calls';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface SdkCommand {
  readonly client: SdkClient;
  /** Without the `Command` suffix: `CreateMultipartUpload`. */
  readonly command: string;
  /** The project module that constructs it. */
  readonly module: string;
}

export interface BundleScan {
  readonly entry: string;
  /** Project modules (outside node_modules) in the bundle, by path relative to the repository. */
  readonly modules: readonly string[];
  readonly commands: readonly SdkCommand[];
  /** Whether the bundle signs RDS IAM auth tokens. */
  readonly signsRdsTokens: boolean;
  /** `<module>: <import>` for AWS SDK imports this scan does not model. */
  readonly unmodelled: readonly string[];
}

/** Packages a project module may import from AWS SDK v3 without sending anything of its own. */
const SUPPORTING = new Set([
  '@aws-sdk/s3-request-presigner', // getSignedUrl(client, new XCommand(...)): the command is found like any other
  '@aws-sdk/core/util',
  '@aws-sdk/credential-provider-env',
]);

interface ImportedName {
  readonly pkg: string;
  readonly imported: string;
}

/** Value imports of an ES module, by local name (type-only imports are left out). */
function importsOf(source: string): Map<string, ImportedName> {
  const names = new Map<string, ImportedName>();
  for (const m of source.matchAll(/^import\s+(?!type\s)([\s\S]*?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    const [, clause = '', pkg = ''] = m;
    const braces = /\{([\s\S]*)\}/.exec(clause)?.[1];
    for (const part of (braces ?? '').split(',')) {
      const spec = part.trim();
      if (!spec || spec.startsWith('type ')) continue;
      const [imported = '', local = imported] = spec.split(/\s+as\s+/).map((s) => s.trim());
      names.set(local, { pkg, imported });
    }
    const defaultOrNamespace = clause
      .replace(/\{[\s\S]*\}/, '')
      .replace(/,/g, ' ')
      .trim();
    if (defaultOrNamespace) {
      const local = defaultOrNamespace.replace(/^\*\s+as\s+/, '').trim();
      names.set(local, { pkg, imported: defaultOrNamespace.startsWith('*') ? '*' : 'default' });
    }
  }
  return names;
}

const clientOf = (pkg: string): SdkClient | undefined =>
  (SDK_CLIENTS as Record<string, SdkClient>)[pkg.replace(/^@aws-sdk\/client-/, '')];

/**
 * Bundles every entry (relative to the repository root) in one esbuild run (one bundle per entry, sharing the
 * parse of common modules) and reads the AWS calls each bundle can make.
 */
export async function scanBundles(entries: readonly string[]): Promise<Map<string, BundleScan>> {
  const unique = [...new Set(entries)];
  const result = await build({
    entryPoints: Object.fromEntries(unique.map((entry, i) => [`entry${i}`, path.join(ROOT, entry)])),
    absWorkingDir: ROOT,
    outdir: path.join(ROOT, '.wiring-bundles'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: HOUSE_TARGET,
    // Unminified, so each module's code follows a `// <path>` comment and keeps its identifiers.
    minify: false,
    mainFields: ['module', 'main'],
    external: HOUSE_EXTERNALS,
    alias: { ...HOUSE_ALIASES },
    banner: { js: HOUSE_BANNER },
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const scans = new Map<string, BundleScan>();
  for (const [outputPath, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const entry = path.relative(ROOT, path.resolve(ROOT, meta.entryPoint));
    const output = result.outputFiles.find((f) => f.path === path.resolve(ROOT, outputPath));
    if (!output) throw new Error(`esbuild wrote no bundle for ${entry}`);
    const modules = Object.keys(meta.inputs)
      .filter((input) => !input.includes('node_modules'))
      .sort();
    scans.set(entry, scan(entry, modules, output.text));
  }
  const missing = unique.filter((entry) => !scans.has(entry));
  if (missing.length > 0) throw new Error(`esbuild produced no bundle for ${missing.join(', ')}`);
  return scans;
}

function scan(entry: string, modules: string[], bundle: string): BundleScan {
  // The bundle is the modules' code in order, each after a `// <path>` line.
  const segments = new Map<string, string>();
  const parts = bundle.split(/^\/\/ (\S+)$/m);
  for (let i = 1; i < parts.length; i += 2) segments.set(parts[i] as string, parts[i + 1] ?? '');

  const commands: SdkCommand[] = [];
  const unmodelled: string[] = [];
  let signsRdsTokens = false;
  for (const module of modules) {
    const code = segments.get(module);
    if (code === undefined) continue; // wholly tree-shaken or type-only
    const imports = importsOf(readFileSync(path.join(ROOT, module), 'utf8'));
    for (const [local, { pkg, imported }] of imports) {
      if (!pkg.startsWith('@aws-sdk/')) continue;
      const client = clientOf(pkg);
      // esbuild may suffix a renamed binding with a number; a binding tree-shaken away is not in the code.
      const used = new RegExp(`\\b${local}\\d*\\b`).test(code);
      if (!used) continue;
      if (client === undefined) {
        if (!SUPPORTING.has(pkg)) unmodelled.push(`${module}: ${imported} from ${pkg}`);
        continue;
      }
      if (imported.endsWith('Client') || imported.endsWith('Exception')) continue;
      if (!imported.endsWith('Command')) {
        unmodelled.push(`${module}: ${imported} from ${pkg}`);
        continue;
      }
      if (new RegExp(`\\bnew ${local}\\d*\\(`).test(code)) {
        commands.push({ client, command: imported.replace(/Command$/, ''), module });
      } else {
        unmodelled.push(`${module}: ${imported} from ${pkg} is used without \`new\``);
      }
    }
    if (
      module === 'lambda/shared/db/iam-token.ts' &&
      /new SignatureV4\d*\(/.test(code) &&
      code.includes('"rds-db"')
    ) {
      signsRdsTokens = true;
    }
  }
  return { entry, modules, commands, signsRdsTokens, unmodelled };
}

/**
 * Which of `operations` (lower-camel method names, e.g. `deleteObjects`) CDK's shipped handler at
 * `aws-cdk-lib/<handler>` calls: CDK's provider functions are not our code, so they are checked by name only.
 */
export function frameworkOperations(handler: string, operations: readonly string[]): string[] {
  const code = readFileSync(path.join(ROOT, 'node_modules', 'aws-cdk-lib', handler), 'utf8');
  return operations.filter((op) => new RegExp(`\\.${op}\\(`).test(code));
}

/** What a bundle and its function's declaration disagree on, as sentences; empty when they agree. */
export interface DeclarationProblems {
  /** Commands (or locally signed tokens) the bundle can send that the declaration does not list. */
  readonly undeclared: string[];
  /** SDK calls declared for the function (not through a need) that the bundle cannot send. */
  readonly unsent: string[];
  /** Needs none of whose calls the bundle makes. */
  readonly unusedNeeds: string[];
  /** IAM permissions a need grants that no call the bundle makes requires (`<action> on <target>`). */
  readonly excess: string[];
}

const targetKey = (target: Target): string =>
  'env' in target ? `${target.kind}(${target.env})` : target.kind;

/** The IAM permissions a call needs: `<action> on <target>`, and `<kms action> on the key of <target>`. */
export const permissionsOf = (call: AwsCall): string[] =>
  call.requests.flatMap((r) => [
    `${r.action} on ${targetKey(r.target)}`,
    ...(r.kms ?? []).map((k) => `${k} on the key of ${targetKey(r.target)}`),
  ]);

/**
 * Compares `fn`'s declared calls (in a stage: `calls`, from `callsOf`) with what its bundle can make. Runtime
 * calls other than a signed RDS token (logs, X-Ray, network interfaces) are made by the Lambda runtime for
 * every function and are not in any bundle. A call `fn` declares for other stages only (its `when`, e.g. SES where
 * the stage has a sender) is declared all the same: the one bundle holds it in every stage, and sends it only
 * where the stage configures what it needs.
 */
export function compareDeclaration(
  fn: FunctionDeclaration,
  calls: readonly AwsCall[],
  bundle: BundleScan,
): DeclarationProblems {
  const sent = new Set(bundle.commands.map((c) => `${c.client} ${c.command}`));
  const made = (call: AwsCall): boolean =>
    call.sdk
      ? sent.has(`${call.sdk.client} ${call.sdk.command}`)
      : call.runtime === 'rds-iam-token'
        ? bundle.signsRdsTokens
        : true;
  const declared = new Set([...calls, ...(fn.calls ?? []).filter((c) => c.when !== undefined)].map(callName));
  const undeclared = [...sent].filter((name) => !declared.has(name));
  if (bundle.signsRdsTokens && !declared.has('runtime rds-iam-token'))
    undeclared.push('runtime rds-iam-token');
  const unsent = (fn.calls ?? []).filter((call) => calls.includes(call) && !made(call)).map(callName);
  const needCalls = (fn.needs ?? []).map((need) => ({
    need,
    calls: NEED_CALLS[need].filter((c) => calls.includes(c)),
  }));
  const unusedNeeds = needCalls
    .filter(({ calls: c }) => c.length > 0 && !c.some(made))
    .map(({ need }) => need);
  const used = new Set(calls.filter(made).flatMap(permissionsOf));
  const excess = [
    ...new Set(needCalls.flatMap(({ calls: c }) => c.flatMap(permissionsOf)).filter((p) => !used.has(p))),
  ];
  return { undeclared: [...new Set(undeclared)], unsent: [...new Set(unsent)], unusedNeeds, excess };
}
