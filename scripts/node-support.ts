/**
 * The Node.js versions Citadel supports, in one place (package.json `engines` says the same; a test checks).
 *
 * - Node 22 and 24 (LTS) are supported; Lambda runs Node 24.
 * - Node 20 (20.19 or later) is deprecated: it reached its end of life in April 2026, and the AWS SDK for
 *   JavaScript announces that its versions published after the first week of January 2027 need Node 22. Citadel
 *   pins exact SDK versions, so Node 20 keeps working until those pins move past that date; then the floor is 22.
 * - Anything older is refused.
 */
export const SUPPORTED_NODE_RANGE = '^20.19.0 || >=22';

export interface NodeSupport {
  readonly level: 'supported' | 'deprecated' | 'unsupported';
  readonly message: string;
}

export function nodeSupport(version: string): NodeSupport {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major >= 22) return { level: 'supported', message: `Node ${version} is supported.` };
  if (major === 20 && minor >= 19)
    return {
      level: 'deprecated',
      message: `Node ${version} is past its end of life; Citadel still runs on it until its AWS SDK moves past January 2027. Use Node 22 or 24.`,
    };
  return {
    level: 'unsupported',
    message: `Node ${version} is not supported: use Node 22 or 24 (${SUPPORTED_NODE_RANGE}).`,
  };
}
