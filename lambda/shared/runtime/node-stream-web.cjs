// The house bundle's `node:stream/web` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:stream/web');
