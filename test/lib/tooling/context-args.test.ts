import { describe, expect, it } from '@jest/globals';
import { contextArgs } from '../../../lib/tooling/context-args';

describe('contextArgs (the scripts’ -c key=value, read as the CDK CLI reads --context)', () => {
  it('splits at the first =, so a value keeps its own =', () => {
    expect(contextArgs(['stage=prod', 'filter=a=b'])).toEqual({ stage: 'prod', filter: 'a=b' });
  });

  it('lets a later pair win, as repeated -c flags do', () => {
    expect(contextArgs(['stage=dev', 'stage=prod'])).toEqual({ stage: 'prod' });
  });

  it('reports and ignores an argument that is not an assignment', () => {
    const warnings: string[] = [];
    expect(contextArgs(['stage', 'x='], (m) => warnings.push(m))).toEqual({ x: '' });
    expect(warnings).toEqual(['Context argument is not an assignment (key=value): stage']);
    expect(contextArgs(undefined)).toEqual({});
  });
});
