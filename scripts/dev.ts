/**
 * `npm run dev`: the whole API on loopback, offline (see `local/dev-server.ts`). This entry sets the process
 * environment before anything reads it — Powertools builds its logger and metrics when first imported, so the
 * service name, namespace and "metrics disabled" must be in place first — and only then loads the server.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isDevProcess } from '../local/dev-tokens';
import { nodeSupport } from './node-support';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3000' },
    dev: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    'state-dir': { type: 'string' },
  },
});

if (!isDevProcess()) {
  console.error('npm run dev: refusing to start without --dev or NODE_ENV=development (it mints tokens).');
  process.exit(1);
}
const node = nodeSupport(process.versions.node);
if (node.level === 'unsupported') {
  console.error(`npm run dev: ${node.message}`);
  process.exit(1);
}

const root = path.resolve(import.meta.dirname, '..');
Object.assign(process.env, {
  CITADEL_STAGE: 'local',
  POWERTOOLS_SERVICE_NAME: 'citadel-local',
  POWERTOOLS_METRICS_NAMESPACE: 'Citadel',
  POWERTOOLS_METRICS_DISABLED: 'true',
  // Handlers log warnings and errors here; CITADEL_LOG_LEVEL=DEBUG (or INFO) shows every request's log lines.
  POWERTOOLS_LOG_LEVEL: process.env.CITADEL_LOG_LEVEL ?? 'WARN',
  // The SDK's own multi-line notice about Node 20 is replaced by one line in the banner (scripts/node-support.ts).
  ...(node.level === 'deprecated' ? { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } : {}),
});

const { runDevServer } = await import('../local/dev-server');
await runDevServer({
  port: Number(values.port),
  fresh: values.fresh,
  stateDir: path.resolve(values['state-dir'] ?? path.join(root, '.dev')),
  root,
  notice: node.level === 'deprecated' ? `Note: ${node.message}` : undefined,
});
