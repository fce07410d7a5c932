/**
 * A real browser for the suite: Debian's `chromium` package driven by `playwright-core` (no browser build is ever
 * downloaded). When no Chromium is installed, `describeInChromium` declares one test that prints that the suite
 * was skipped and why (and how to install Chromium); with `CITADEL_REQUIRE_BROWSER=1` (CI, `.ci/run`) that test
 * fails instead. One browser process serves the whole suite.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { type Browser, chromium } from 'playwright-core';
import { findExecutable } from './moto';

/** Set to `1` (CI does, in `.ci/run`) to make a missing Chromium a test failure instead of a skip. */
export const REQUIRE_BROWSER_ENV = 'CITADEL_REQUIRE_BROWSER';
export const CHROMIUM_INSTALL_HINT = 'apt-get install -y chromium';
/** Names Debian and other distributions give the Chromium executable. */
const CANDIDATES = ['chromium', 'chromium-browser'];

export type ChromiumAvailability =
  | { readonly available: true; readonly executable: string }
  | { readonly available: false; readonly reason: string };

/** `CITADEL_CHROMIUM` if set, else the first Chromium on `PATH`. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): ChromiumAvailability {
  const given = env.CITADEL_CHROMIUM;
  if (given) {
    const found = given.includes('/')
      ? findExecutable(path.basename(given), path.dirname(given))
      : findExecutable(given, env.PATH);
    return found
      ? { available: true, executable: found }
      : { available: false, reason: `CITADEL_CHROMIUM=${given} is not an executable` };
  }
  for (const name of CANDIDATES) {
    const executable = findExecutable(name, env.PATH);
    if (executable) return { available: true, executable };
  }
  return { available: false, reason: `no ${CANDIDATES.join(' or ')} on PATH` };
}

/** The message of a suite that could not run; throws under `CITADEL_REQUIRE_BROWSER=1`. */
export function reportBrowserSkipped(suite: string, reason: string, env = process.env): string {
  const message = `SKIPPED: ${suite}: ${reason}. Install Chromium (${CHROMIUM_INSTALL_HINT}) to run it; CI sets ${REQUIRE_BROWSER_ENV}=1, which makes this a failure.`;
  if (env[REQUIRE_BROWSER_ENV] === '1') throw new Error(message);
  console.warn(message);
  return message;
}

/**
 * `describe(name, body)` with one Chromium for the whole block (`browser()` inside tests), or, without Chromium,
 * a single test that reports the skip (and fails in CI).
 */
export function describeInChromium(name: string, body: (browser: () => Browser) => void): void {
  const found = findChromium();
  if (!found.available) {
    describe(name, () => {
      it(`is skipped: ${found.reason}`, () => {
        reportBrowserSkipped(name, found.reason);
      });
    });
    return;
  }
  describe(name, () => {
    let instance: Browser | undefined;
    beforeAll(async () => {
      // --no-sandbox: the suite runs as root in CI containers, where Chromium's sandbox cannot start.
      instance = await chromium.launch({ executablePath: found.executable, args: ['--no-sandbox'] });
    }, 60_000);
    afterAll(async () => {
      await instance?.close();
    });
    body(() => {
      if (!instance) throw new Error('Chromium is not running');
      return instance;
    });
  });
}
