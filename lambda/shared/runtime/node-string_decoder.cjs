// The house bundle's `node:string_decoder` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:string_decoder');
