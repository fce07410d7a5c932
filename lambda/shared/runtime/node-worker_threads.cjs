// The house bundle's `node:worker_threads` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:worker_threads');
