/**
 * Runs the local S3 server from the command line and prints its endpoint as the first line of stdout.
 *
 * Usage: `tsx test/support/s3-server/cli.ts [--port 4569] [--bucket a --bucket b] [--data-dir DIR]
 * [--region us-east-1] [--cors-origin http://localhost:5173]`. Stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CREDENTIALS, startS3Server } from './index';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4569' },
    bucket: { type: 'string', multiple: true, default: [] },
    'data-dir': { type: 'string' },
    region: { type: 'string' },
    'cors-origin': { type: 'string', multiple: true },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`Invalid --port: ${values.port}`);
  process.exit(2);
}

const server = await startS3Server({
  port,
  buckets: values.bucket,
  dataDir: values['data-dir'],
  region: values.region,
  corsOrigins: values['cors-origin'],
});
console.log(server.endpoint);
console.error(
  `s3-server: region ${server.region}, data in ${server.dataDir}, buckets: ${values.bucket.join(', ') || '(none)'}, ` +
    `credentials ${DEFAULT_CREDENTIALS.accessKeyId} / ${DEFAULT_CREDENTIALS.secretAccessKey}`,
);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  console.error(`s3-server: ${signal}, stopping`);
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
