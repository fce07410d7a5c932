// The house bundle's `node:perf_hooks` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:perf_hooks');
