// The house bundle's `node:async_hooks` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:async_hooks');
