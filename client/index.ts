/**
 * The Citadel client: typed API calls, resumable uploads (from a path, a Blob or a stream) and downloads
 * (Node), the Uppy 6 helper (browsers) and the CLI's entry point. Browser bundles should import `./browser`
 * instead: it leaves out the modules that need Node built-ins.
 */

export { EXIT as CLI_EXIT_CODES, main as runCli } from './cli';
export * from './client';
export * from './errors';
export * from './media-type';
export * from './resume-state';
export * from './retry';
export { SourceNotReplayableError } from './sources';
export * from './transfer';
export * from './upload';
export * from './uppy';
