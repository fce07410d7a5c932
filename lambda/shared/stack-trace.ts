/**
 * Stack traces of a deployed function, mapped back to the TypeScript sources when they are reported.
 *
 * A function is one esbuild bundle, `index.mjs`, with its source map `index.mjs.map` beside it. Node's
 * `--enable-source-maps` reads and parses that map while it loads the bundle, at every cold start, though
 * most containers never report an error; here the map is read only when a stack is first reported (a logged
 * error, an invocation that fails), then kept. Frames of other files, and every frame when there is no map
 * (tests and the local server run the sources themselves), are left as they are.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * This module's own file: in a deployed function, the bundle every frame of our code points into. A CommonJS
 * bundle (the canary) has no `import.meta.url`, and keeps its stacks as they are.
 */
const BUNDLE = typeof import.meta.url === 'string' ? fileURLToPath(import.meta.url) : undefined;

let map: SourceMap | null | undefined;

function bundleMap(bundle: string): SourceMap | null {
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')));
    } catch {
      map = null; // no map beside this file: not a bundle, or shipped without one
    }
  }
  return map;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The source a map entry names, without the `../` that lead from the bundle's directory to the project. */
const sourceName = (source: string): string => source.replace(/^(\.\.\/)+/, '');

/** `stack` with every frame of the bundle replaced by its position in the sources. */
export function originalStack(stack: string): string {
  if (BUNDLE === undefined || !stack.includes(BUNDLE)) return stack;
  const sourceMap = bundleMap(BUNDLE);
  if (!sourceMap) return stack;
  // `file:///var/task/index.mjs:1:2345` (ES module frames) or `/var/task/index.mjs:1:2345`.
  const frame = new RegExp(`(?:file://)?${escapeRegExp(BUNDLE)}:(\\d+):(\\d+)`, 'g');
  return stack.replace(frame, (whole, line: string, column: string) => {
    const entry = sourceMap.findEntry(Number(line) - 1, Number(column) - 1) as Partial<{
      originalSource: string;
      originalLine: number;
      originalColumn: number;
    }>;
    if (!entry.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined)
      return whole;
    return `${sourceName(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
