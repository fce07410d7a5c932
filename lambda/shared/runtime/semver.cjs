// The house bundle's `semver` (HOUSE_ALIASES in lib/constructs/bundling.ts). Only the X-Ray SDK imports it, for
// `captureAWS`, its AWS SDK v2 patcher, which checks the v2 SDK's version; Citadel traces SDK v3 clients
// (`captureAWSv3Client`), which never call it. Anything that does fails loudly instead of silently mis-comparing.
const API = [
  'gte',
  'gt',
  'lte',
  'lt',
  'eq',
  'neq',
  'cmp',
  'compare',
  'satisfies',
  'valid',
  'coerce',
  'parse',
];
module.exports = Object.fromEntries(
  API.map((name) => [
    name,
    () => {
      throw new Error(
        `semver.${name} is not in this bundle: only the X-Ray SDK's AWS SDK v2 patcher uses semver`,
      );
    },
  ]),
);
