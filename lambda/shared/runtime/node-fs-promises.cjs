// The house bundle's `node:fs/promises` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:fs/promises');
