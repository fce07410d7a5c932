import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { lambdaContext } from '../support/lambda';

// Inside Lambda with tracing on (module-level switches are read at import, so set them first).
process.env.POWERTOOLS_TRACE_ENABLED = 'true';
process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs24.x';
process.env.AWS_LAMBDA_FUNCTION_NAME = 'citadel-test';
process.env._X_AMZN_TRACE_ID = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
process.env.AWS_XRAY_CONTEXT_MISSING = 'IGNORE_ERROR';

const { loadTracer, traced, tracingEnabled } = await import('../../lambda/shared/powertools');
const { observe } = await import('../../lambda/shared/observe');

const middlewareNames = (client: S3Client) => client.middlewareStack.identify().join(' ');

describe('tracing switched on', () => {
  it('loads the X-Ray tracer lazily and instruments clients created before and after it loaded', async () => {
    expect(tracingEnabled).toBe(true);
    const early = traced(new S3Client({ region: 'eu-west-1' }));
    const tracer = await loadTracer();
    expect(tracer?.isTracingEnabled()).toBe(true);
    const late = traced(new S3Client({ region: 'eu-west-1' }));
    expect(middlewareNames(early)).toMatch(/XRay/i);
    expect(middlewareNames(late)).toMatch(/XRay/i);
  });

  it('wraps handlers with X-Ray without changing their results or errors', async () => {
    const ok = observe(async (event: { n: number }) => event.n * 2);
    expect(await ok({ n: 21 }, lambdaContext())).toBe(42);
    const failing = observe(async () => {
      throw new Error('boom');
    });
    await expect(failing({}, lambdaContext())).rejects.toThrow('boom');
  });
});
