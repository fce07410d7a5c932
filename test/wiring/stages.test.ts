import { describe, expect, it } from '@jest/globals';
import { ALL_STAGES, stageTemplates } from '../support/wiring/stages';

describe('stage templates for the wiring suites', () => {
  it.each(ALL_STAGES)('%s: synthesizes every stack, with CDK’s stack dependencies', (stage) => {
    const { templates, stackNames, stackDependencies } = stageTemplates(stage);
    expect(Object.keys(stackNames)).toEqual([
      'Network',
      'Data',
      'Identity',
      'Storage',
      'Api',
      'Observability',
    ]);
    for (const name of Object.values(stackNames)) {
      expect(Object.keys(templates[name]?.Resources ?? {}).length).toBeGreaterThan(0);
    }
    expect(stackDependencies[stackNames.Api as string]).toEqual(
      expect.arrayContaining([stackNames.Network, stackNames.Data, stackNames.Identity, stackNames.Storage]),
    );
  });
});
