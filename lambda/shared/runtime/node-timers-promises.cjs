// The house bundle's `node:timers/promises` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:timers/promises');
