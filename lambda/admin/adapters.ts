import { adapterChooser } from '../shared/local-adapters';
import { awsAdapters } from './aws';
import type { AdminAdapters } from './ports';

/** The adapters the admin functions use: AWS, or the local simulators under `npm run dev`. */
export const adminAdapters: () => Promise<AdminAdapters> = adapterChooser('adminAdapters', awsAdapters);
