// The house bundle's `node:buffer` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:buffer');
