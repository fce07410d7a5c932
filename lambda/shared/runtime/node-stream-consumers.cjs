// The house bundle's `node:stream/consumers` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:stream/consumers');
