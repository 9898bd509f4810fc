// Launches Debian's Chromium (/usr/bin/chromium, installed by scripts/ensure-env.sh) through
// playwright-core, for tests that drive a real browser. Playwright's own browser downloads are never used.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

// Running as root needs --no-sandbox. The machine has no network but loopback: without the
// background-networking flags Chromium keeps opening connections that the machine refuses.
// Playwright gives every launch a fresh temporary --user-data-dir of its own (and refuses one in args).
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts headless Chromium. Extra `options.args` are added after the defaults; close the Browser when done. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; run \`bash scripts/ensure-env.sh\` to install it`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    ...options,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}
