/**
 * The compliance gate over every stage: each stage synthesizes with the four cdk-nag packs and no unacknowledged
 * finding (any finding fails `app.synth()`). The other stack tests synthesize without the packs, which only
 * validate; `test/lib/compliance.test.ts` shows the gate fails a non-compliant construct.
 */
import { describe, expect, it } from '@jest/globals';
import { STAGES } from '../../lib/config';
import { synthStage } from '../support/cdk';

describe('cdk-nag packs over every stage', () => {
  it.each(STAGES)('%s synthesizes with no unacknowledged finding', (stage) => {
    const { templates } = synthStage(stage, undefined, { compliance: true });
    expect(Object.keys(templates).length).toBeGreaterThanOrEqual(5);
  });
});
