// The house bundle's `node:tls` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:tls');
