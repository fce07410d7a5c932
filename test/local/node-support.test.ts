/**
 * The supported Node.js range is decided in one place (`scripts/node-support.ts`) and said the same way in
 * package.json `engines` and the README; `npm run dev` acts on it (refuses, or notes the deprecation in one line
 * instead of the AWS SDK's warning: see dev-server.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { nodeSupport, SUPPORTED_NODE_RANGE } from '../../scripts/node-support';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the supported Node.js range', () => {
  it('supports 22 and 24, deprecates 20.19+, refuses older', () => {
    expect(nodeSupport('24.3.0').level).toBe('supported');
    expect(nodeSupport('22.0.0').level).toBe('supported');
    expect(nodeSupport('v20.20.2')).toMatchObject({
      level: 'deprecated',
      message: expect.stringContaining('Use Node 22 or 24'),
    });
    expect(nodeSupport('20.18.1').level).toBe('unsupported');
    expect(nodeSupport('18.20.0').level).toBe('unsupported');
  });

  it('is what package.json engines and the README say', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe(SUPPORTED_NODE_RANGE);
    expect(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(`\`${SUPPORTED_NODE_RANGE}\``);
  });
});
