// The house bundle's `node:util/types` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:util/types');
