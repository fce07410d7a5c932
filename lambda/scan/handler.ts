/**
 * EventBridge target for the uploads bucket: GuardDuty's `Object Scan Result` events (verdicts) and S3's
 * `Object Created` events (uploads completed in the browser). Invoked asynchronously: a thrown error is
 * retried by Lambda and, when retries run out, lands in the DLQ.
 */
import { observe } from '../shared/observe';
import { logger } from '../shared/powertools';
import { objectCreatedEvent, scanResultEvent } from './event';
import { processObjectCreated, processScanResult } from './pipeline';

export const handler = observe(async (raw: unknown) => {
  const created = objectCreatedEvent.safeParse(raw);
  if (created.success) return { upload: await processObjectCreated(created.data) };
  const parsed = scanResultEvent.safeParse(raw);
  if (!parsed.success) {
    // A shape this code does not know: fail loudly (DLQ + alarm) rather than guess a verdict.
    logger.error('unrecognised scan-result event', { issues: parsed.error.issues.slice(0, 5) });
    throw new Error('unrecognised scan-result event');
  }
  return { verdict: await processScanResult(parsed.data) };
});
