// The house bundle's `node:assert/strict` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:assert/strict');
