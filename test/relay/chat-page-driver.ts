// Drives the chat page in Chromium for the browser tests: open it, join, type, and read what it shows.
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RelayProcess } from './relay-process.js';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface PageOptions {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
  /** Extra query parameters of the page's address (token=…). */
  query?: string;
  /** Opens the page in this context (default: a new one). */
  context?: BrowserContext;
}

/** Opens the chat page on a channel; an error in the page fails the test. */
export async function openChat(browser: Browser, relay: RelayProcess, channel: string, options: PageOptions = {}): Promise<Page> {
  const context =
    options.context ?? (await browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.colorScheme ?? 'light' }));
  const page = await context.newPage();
  if (options.context === undefined) page.on('close', () => void context.close());
  page.on('pageerror', (error) => assert.fail(`error in the page: ${error.message}`));
  await page.goto(`${relay.http}/?channel=${encodeURIComponent(channel)}${options.query ? `&${options.query}` : ''}`);
  assert.equal(await page.inputValue('#channel'), channel, 'the channel comes from the URL');
  return page;
}

/** Opens the chat page, joins the channel as `name`, and waits until it is connected. */
export async function joinChat(
  browser: Browser,
  relay: RelayProcess,
  name: string,
  channel: string,
  options: PageOptions = {},
): Promise<Page> {
  const page = await openChat(browser, relay, channel, options);
  await page.fill('#name', name);
  await page.click('#join-button');
  await page.waitForSelector('#status[data-state="open"]');
  await notice(page, `Connected to #${channel}.`);
  return page;
}

export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Waits for a notice line (connected, joined, left, ...) containing this text. */
export async function notice(page: Page, text: string, timeout = 10_000): Promise<void> {
  await page.locator('#messages li.notice', { hasText: text }).first().waitFor({ timeout });
}

/**
 * Waits until the page shows a delivered message with this text (not a pending one), and returns who it
 * says sent it and whether it is "mine".
 */
export async function shown(page: Page, text: string): Promise<{ who: string; mine: boolean }> {
  const item = page.locator('#messages li.msg:not(.pending)', { has: page.locator('.text', { hasText: text }) }).last();
  await item.waitFor({ timeout: 15_000 });
  return { who: (await item.locator('.who').textContent()) ?? '', mine: await item.evaluate((el) => el.classList.contains('mine')) };
}

/** The texts of the delivered messages, in the order shown. */
export async function deliveredTexts(page: Page): Promise<string[]> {
  return page.locator('#messages li.msg:not(.pending) .text').allTextContents();
}

/** The lines still on their way, with what they say about it. */
export async function pendingLines(page: Page): Promise<{ text: string; state: string }[]> {
  return page.locator('#messages li.msg.pending').evaluateAll((items) =>
    items.map((item) => ({
      text: item.querySelector('.text')?.textContent ?? '',
      state: item.querySelector('.state')?.textContent ?? '',
    })),
  );
}
