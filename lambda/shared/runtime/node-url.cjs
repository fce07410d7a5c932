// The house bundle's `node:url` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:url');
