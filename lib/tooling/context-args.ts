/**
 * The `-c key=value` pairs of the project's scripts (`npm run cost`, `npm run alarms`), read as the CDK CLI reads
 * `--context` (aws-cdk `parseStringContextListToObject`: `assignment.split(/=(.*)/, 2)`): split at the first `=`, so
 * a value may itself contain `=`; a later pair wins; an argument without `=` is not an assignment, and is reported
 * through `warn` and ignored.
 */
export function contextArgs(
  pairs: readonly string[] | undefined,
  warn: (message: string) => void = (message) => console.error(message),
): Record<string, string> {
  const context: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at < 0) warn(`Context argument is not an assignment (key=value): ${pair}`);
    else context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
}
