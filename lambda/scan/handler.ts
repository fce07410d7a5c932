/**
 * EventBridge target for GuardDuty's `Object Scan Result` events on the uploads bucket. Invoked
 * asynchronously: a thrown error is retried by Lambda and, when retries run out, lands in the DLQ.
 */
import { observe } from '../shared/observe';
import { logger } from '../shared/powertools';
import { scanResultEvent } from './event';
import { processScanResult } from './pipeline';

export const handler = observe(async (raw: unknown) => {
  const parsed = scanResultEvent.safeParse(raw);
  if (!parsed.success) {
    // A shape this code does not know: fail loudly (DLQ + alarm) rather than guess a verdict.
    logger.error('unrecognised scan-result event', { issues: parsed.error.issues.slice(0, 5) });
    throw new Error('unrecognised scan-result event');
  }
  return { verdict: await processScanResult(parsed.data) };
});
