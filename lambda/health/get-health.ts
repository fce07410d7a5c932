import { getHealth } from '../../contract/api/health';
import { ping } from '../shared/db';
import { defineHandler } from '../shared/handler';

const STAGE = process.env.CITADEL_STAGE ?? 'local';
const VERSION = process.env.CITADEL_VERSION ?? 'dev';

/** `GET /v1/health`: readiness. An unreachable database is a 503 problem with Retry-After. */
export const handler = defineHandler(getHealth, async () => {
  await ping();
  return {
    status: 'ok' as const,
    stage: STAGE,
    version: VERSION,
    time: new Date().toISOString(),
    checks: { database: 'ok' as const },
  };
});
