/** The browser-safe part of the client: the typed API client, its errors and backoff, and the Uppy 6 helper. */
export * from './client';
export * from './errors';
export * from './media-type';
export * from './retry';
export * from './uppy';
