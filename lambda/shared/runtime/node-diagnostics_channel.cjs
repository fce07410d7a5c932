// The house bundle's `node:diagnostics_channel` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:diagnostics_channel');
