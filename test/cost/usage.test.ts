/**
 * Per-unit costs from the real templates and stage configs: memory sizes, log levels, the Cognito plan and
 * retention come from them; part counts come from the API's own `partSizeFor`. Figures are asserted from the
 * price table and the stated assumptions.
 */
import { describe, expect, it } from '@jest/globals';
import {
  completeBodyBytes,
  largestUploadWithinBody,
  partCountFor,
  partSizeFor,
} from '../../contract/api/uploads';
import { MAX_JSON_BODY_BYTES } from '../../contract/http';
import { ASSUMPTIONS } from '../../lib/cost/assumptions';
import { usageCosts } from '../../lib/cost/usage';
import { stageTemplates } from '../support/wiring/stages';

const GIB = 1024 ** 3;
const byLabel = (lines: ReadonlyArray<{ label: string; usd: number | null }>, start: string) =>
  lines.find((l) => l.label.startsWith(start))?.usd;

describe('per million API requests', () => {
  it('dev: Essentials MAUs, DEBUG logs, the API functions’ mean memory', () => {
    const { templates, config } = stageTemplates('dev');
    const { lines, usd } = usageCosts(templates, config).perMillionApiRequests;
    expect(byLabel(lines, 'API Gateway REST calls')).toBe(3.5);
    expect(byLabel(lines, 'WAF requests inspected')).toBe(0.6);
    expect(byLabel(lines, 'Lambda invocations')).toBe(0.2);
    // Mean memory of the 20 route functions: 18 at 256 MB, issuing recovery codes at 1,024 MB (ten scrypt hashes)
    // and recovering at 512 MB: 307.2 MB. 1e6 × 60 ms × 307.2/1024 GB = 18,000 GB-s × $0.0000133334
    expect(byLabel(lines, 'Lambda duration, 60 ms at 307 MB')).toBe(0.24);
    // 1e6 / 1,000 requests per MAU = 1,000 MAUs × $0.015
    expect(byLabel(lines, 'Cognito ESSENTIALS monthly active users')).toBe(15);
    // 1e6 × 3,000 B / 2^30 = 2.794 GB × $0.50
    expect(byLabel(lines, 'Lambda logs at DEBUG')).toBe(1.397);
    expect(usd).toBe(Math.round(lines.reduce((s, l) => s + (l.usd ?? 0), 0) * 10_000) / 10_000);
  });

  it('prod: Plus MAUs have no free tier, INFO logs are smaller, a year of retention', () => {
    const { templates, config } = stageTemplates('prod');
    const { lines } = usageCosts(templates, config).perMillionApiRequests;
    expect(byLabel(lines, 'Cognito PLUS monthly active users')).toBe(20);
    expect(byLabel(lines, 'Lambda logs at INFO')).toBe(0.3725);
    expect(lines.find((l) => l.label.startsWith('All those logs kept 365 days'))).toBeDefined();
  });
});

describe('per GB uploaded', () => {
  const { templates, config } = stageTemplates('dev');

  it('counts the parts the API really asks for: 5 GiB in 640 parts of 8 MiB', () => {
    const upload = usageCosts(templates, config).uploads.find(
      (u) => u.sizeBytes === 5 * GIB && !u.sha256Declared,
    );
    expect(upload).toMatchObject({ partSizeBytes: 8 * 1024 ** 2, parts: 640 });
    // 643 class-A requests, 5 GB scanned, one object, 22 API calls, 4.2 GB-s of scan Lambda: $0.454 an upload.
    expect(upload?.usdPerUpload).toBe(0.454);
    expect(byLabel(upload?.lines ?? [], 'GuardDuty Malware Protection: data scanned')).toBe(0.09);
  });

  it('at the largest upload the config allows, the complete call passes 16 KB and its WAF surcharge has no price', () => {
    const largest = largestUploadWithinBody(MAX_JSON_BODY_BYTES);
    const max = { ...config, uploads: { ...config.uploads, maxUploadBytes: largest } };
    const upload = usageCosts(templates, max).uploads.find(
      (u) => u.sizeBytes === largest && !u.sha256Declared,
    );
    const parts = partCountFor(largest, partSizeFor(largest));
    expect(upload).toMatchObject({ parts, partSizeBytes: partSizeFor(largest), lowerBound: true });
    expect(completeBodyBytes(parts)).toBeGreaterThan(16 * 1024);
    expect(upload?.lines.find((l) => l.label.startsWith('WAF inspection of the'))).toMatchObject({
      usd: null,
    });
    // A 1 GiB upload's complete call (128 parts) stays under 16 KB: no surcharge, nothing missing.
    const small = usageCosts(templates, config).uploads.find((u) => u.sizeBytes === GIB && !u.sha256Declared);
    expect(completeBodyBytes(128)).toBeLessThan(16 * 1024);
    expect(small?.lowerBound).toBe(false);
    expect(small?.lines.some((l) => l.label.startsWith('WAF inspection'))).toBe(false);
  });

  it('says KMS costs about nothing because the uploads bucket uses an S3 Bucket Key', () => {
    const upload = usageCosts(templates, config).uploads[0];
    expect(upload?.lines.find((l) => l.label === 'KMS requests')?.basis).toMatch(/S3 Bucket Key/);
  });
});

describe('per GB stored', () => {
  it('keeps deleted versions and quarantined objects for the stage config days', () => {
    const { templates, config } = stageTemplates('prod');
    const usage = usageCosts(templates, config);
    expect(usage.perGbMonthStored.usd).toBe(0.023);
    // 30 days of noncurrent versions, 90 days of quarantine, at $0.023 per GB-month (30.4 days)
    expect(usage.perGbDeletedOrOverwritten.usd).toBe(
      Math.round(((0.023 * 30) / (365 / 12)) * 10_000) / 10_000,
    );
    expect(usage.perGbQuarantined.usd).toBe(Math.round(((0.023 * 90) / (365 / 12)) * 10_000) / 10_000);
    expect(usage.perGbEgress.lines[0]?.label).toBe(
      'Interface endpoint data processing (no internet egress exists)',
    );
    expect(usage.assumptions).toContain(ASSUMPTIONS.requestsPerMau.text);
  });
});
