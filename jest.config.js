/**
 * Jest runs the TypeScript sources as native ES modules (the project is ESM end to end):
 * `@swc/jest` strips types without TypeScript's compiler API (TypeScript 7 has none), and
 * `npm run test:unit` starts Node with `--experimental-vm-modules`.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testTimeout: 60_000,
  // Each file starts its own PostgreSQL or synthesizes its own app: two workers match the 2-core CI box.
  maxWorkers: process.env.CI ? 2 : '50%',
};
