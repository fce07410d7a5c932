// The house bundle's `node:dns/promises` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:dns/promises');
