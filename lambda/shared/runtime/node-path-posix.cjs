// The house bundle's `node:path/posix` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:path/posix');
