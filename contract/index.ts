export * from './http';
export * from './problems';
export * from './roles';
export * from './route';
export * from './routes';
