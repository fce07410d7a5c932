// The house bundle's `node:path/win32` (HOUSE_BUILTINS in lib/constructs/bundling.ts).
module.exports = process.getBuiltinModule('node:path/win32');
