import { awsAdapters } from './aws';
import type { AdminAdapters } from './ports';

let chosen: Promise<AdminAdapters> | undefined;

/**
 * The adapters the admin functions use: AWS everywhere, except under `npm run dev`, which points
 * `CITADEL_ADAPTERS_MODULE` at the local simulators (a path unknown at bundle time, so they never ship).
 */
export function adminAdapters(): Promise<AdminAdapters> {
  const module = process.env.CITADEL_ADAPTERS_MODULE;
  chosen ??= module
    ? import(module).then((m: { adminAdapters: AdminAdapters }) => m.adminAdapters)
    : Promise.resolve(awsAdapters);
  return chosen;
}
