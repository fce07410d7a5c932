import { routes } from '../../contract/routes';
import { defineHandler } from '../shared/handler';

const STAGE = process.env.CITADEL_STAGE ?? 'local';
const VERSION = process.env.CITADEL_VERSION ?? 'dev';

/** `GET /v1/health`: liveness. */
export const handler = defineHandler(routes.getHealth, async () => ({
  status: 'ok' as const,
  stage: STAGE,
  version: VERSION,
  time: new Date().toISOString(),
}));
