// The house bundle's `node:stream/promises` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:stream/promises');
