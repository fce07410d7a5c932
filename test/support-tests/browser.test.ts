/**
 * The browser suite's availability check: without Chromium it reports itself skipped and why, and under
 * `CITADEL_REQUIRE_BROWSER=1` (CI) that report is a failure.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { findChromium, REQUIRE_BROWSER_ENV, reportBrowserSkipped } from '../support/browser';

describe('findChromium', () => {
  it('finds nothing on an empty PATH, and names what it looked for', () => {
    expect(findChromium({ PATH: '' })).toEqual({
      available: false,
      reason: 'no chromium or chromium-browser on PATH',
    });
    expect(findChromium({ PATH: '', CITADEL_CHROMIUM: '/nowhere/chromium' })).toEqual({
      available: false,
      reason: 'CITADEL_CHROMIUM=/nowhere/chromium is not an executable',
    });
  });
});

describe('reportBrowserSkipped', () => {
  it('says the suite was skipped, why, and how to install Chromium', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const message = reportBrowserSkipped('suite', 'no chromium on PATH', {});
      expect(message).toBe(
        'SKIPPED: suite: no chromium on PATH. Install Chromium (apt-get install -y chromium) to run it; CI sets CITADEL_REQUIRE_BROWSER=1, which makes this a failure.',
      );
      expect(warn).toHaveBeenCalledWith(message);
    } finally {
      warn.mockRestore();
    }
  });

  it(`fails instead under ${REQUIRE_BROWSER_ENV}=1`, () => {
    expect(() => reportBrowserSkipped('suite', 'no chromium', { [REQUIRE_BROWSER_ENV]: '1' })).toThrow(
      /^SKIPPED: suite: no chromium\./,
    );
  });
});
