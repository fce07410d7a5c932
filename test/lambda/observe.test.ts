import { describe, expect, it, jest } from '@jest/globals';
import { lambdaContext } from '../support/lambda';

// This file reads real log lines: the logger must be loud (set before it is first imported).
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
const { observe } = await import('../../lambda/shared/observe');
const { logger, metrics } = await import('../../lambda/shared/powertools');

describe('observe (the house Middy stack)', () => {
  it('counts the cold start once, flushes recorded metrics after success and failure, and skips empty flushes', async () => {
    // Prepare
    const coldStart = jest.spyOn(metrics, 'captureColdStartMetric');
    const publish = jest.spyOn(metrics, 'publishStoredMetrics');
    const records = observe(async (event: { fail?: boolean }) => {
      metrics.addMetric('UploadsCreated', 'Count', 1);
      if (event.fail) throw new Error('boom');
      return 'ok';
    });
    const quiet = observe(async () => 'nothing recorded');
    // Act
    await records({}, lambdaContext({ functionName: 'fn-a' }));
    await expect(records({ fail: true }, lambdaContext({ functionName: 'fn-a' }))).rejects.toThrow('boom');
    await quiet({}, lambdaContext());
    // Assess
    expect(coldStart).toHaveBeenCalledTimes(1);
    expect(coldStart).toHaveBeenCalledWith('fn-a');
    expect(publish).toHaveBeenCalledTimes(2);
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it('adds the Lambda context to log lines and resets per-invocation keys', async () => {
    // Prepare: capture what the logger prints
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const handler = observe(async (event: { key?: string }) => {
      if (event.key) logger.appendKeys({ leaked: event.key });
      logger.info('hello');
      return 'ok';
    });
    try {
      // Act
      await handler(
        { key: 'first-invocation-only' },
        lambdaContext({ functionName: 'fn-b', awsRequestId: 'req-1' }),
      );
      await handler({}, lambdaContext({ functionName: 'fn-b', awsRequestId: 'req-2' }));
    } finally {
      write.mockRestore();
    }
    // Assess
    const [first, second] = lines.filter((l) => l.includes('"hello"')).map((l) => JSON.parse(l));
    expect(first).toMatchObject({
      function_name: 'fn-b',
      function_request_id: 'req-1',
      leaked: 'first-invocation-only',
    });
    expect(second).toMatchObject({ function_name: 'fn-b', function_request_id: 'req-2' });
    expect(second).not.toHaveProperty('leaked');
  });
});
