// The editor page, /edit/<document>, in Debian's Chromium (playwright-core): two pages typing at once
// converge and show each other's names and cursors; a page that goes offline keeps its edits and merges
// them when it is back; a Node editor (y-websocket) on the same document sees the same text.
// Set WAVECAST_SCREENSHOT_DIR to keep a screenshot of the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { killAll, startRelay, type RelayProcess } from './relay-process.js';
import { destroy, destroyAll, editor, removeTempDirs, tempDir, until } from './yjs-helpers.js';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  destroyAll();
  await browser?.close();
  killAll();
  removeTempDirs();
});

const screenshots = process.env.WAVECAST_SCREENSHOT_DIR;

async function open(relay: RelayProcess, doc: string, name: string): Promise<{ page: Page; context: BrowserContext }> {
  // A context each: pages of one context would also sync through their BroadcastChannel.
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => assert.fail(`error in the page: ${error.message}`));
  await page.goto(`${relay.http}/edit/${encodeURIComponent(doc)}`);
  await page.fill('#name', name);
  await page.press('#name', 'Enter');
  await page.waitForSelector('#status[data-state="synced"]');
  return { page, context };
}

async function type(page: Page, text: string, where: 'start' | 'end'): Promise<void> {
  await page.click('.cm-content');
  await page.keyboard.press(where === 'start' ? 'Control+Home' : 'Control+End');
  await page.keyboard.type(text);
}

/**
 * Runs in the page (self-contained, as Playwright sends it there): the text in its editor, without the
 * others' cursors (widgets with their names); given `wanted`, whether the text is that.
 */
function editorText(wanted?: string): string | boolean {
  // The tests are compiled without the DOM's types.
  const document = (
    globalThis as unknown as {
      document: {
        querySelectorAll(
          s: string,
        ): Iterable<{ cloneNode(deep: boolean): { querySelectorAll(s: string): Iterable<{ remove(): void }>; textContent: string } }>;
      };
    }
  ).document;
  const lines = [...document.querySelectorAll('.cm-content .cm-line')].map((line) => {
    const copy = line.cloneNode(true);
    for (const caret of copy.querySelectorAll('.cm-ySelectionCaret')) caret.remove();
    return copy.textContent;
  });
  const text = lines.join('\n');
  return wanted === undefined ? text : text === wanted;
}

function content(page: Page): Promise<string> {
  return page.evaluate(editorText, undefined) as Promise<string>;
}

/** Waits until every page's editor holds `expected` (Playwright checks on each animation frame). */
async function allShow(pages: Page[], expected: string): Promise<void> {
  await Promise.all(pages.map((page) => page.waitForFunction(editorText, expected, { timeout: 15_000 })));
}

/** Waits until an element the selector finds has the text. */
async function shows(page: Page, selector: string, text: string): Promise<void> {
  await page
    .locator(selector, { hasText: new RegExp(`^${text}$`) })
    .first()
    .waitFor({ timeout: 15_000 });
}

test("two editor pages typing at once converge, show each other's names and cursors, and merge what one typed offline", {
  timeout: 90_000,
}, async () => {
  const relay = await startRelay(['--data-dir', tempDir()]);
  try {
    const ada = await open(relay, 'team notes', 'Ada');
    const grace = await open(relay, 'team notes', 'Grace');
    // The look it shares with the chat page (theme.css): the page's panel colour, and the bar painted with it.
    const look = (await ada.page.evaluate(
      "[getComputedStyle(document.documentElement).getPropertyValue('--panel').trim(), getComputedStyle(document.querySelector('.bar')).backgroundColor]",
    )) as [string, string];
    assert.deepEqual(look, ['#ffffff', 'rgb(255, 255, 255)']);
    await type(ada.page, '[shared] ', 'start');
    await allShow([ada.page, grace.page], '[shared] ');
    // Both type at once, one at the start, the other at the end.
    await Promise.all([type(ada.page, 'Ada was here. ', 'start'), type(grace.page, 'Grace too.', 'end')]);
    await allShow([ada.page, grace.page], 'Ada was here. [shared] Grace too.');

    // Names: in the list of who is here, and on the other's cursor.
    await shows(ada.page, '#people li', 'Grace');
    await shows(grace.page, '#people li', 'Ada');
    await shows(ada.page, '.cm-ySelectionInfo', 'Grace');
    if (screenshots) await ada.page.screenshot({ path: join(screenshots, 'editor.png') });

    // Grace goes offline and keeps typing; Ada types too; back online, both edits are in both pages.
    await grace.context.setOffline(true);
    await grace.page.waitForSelector('#status[data-state="offline"]');
    await type(grace.page, ' Typed offline.', 'end');
    await type(ada.page, 'Online meanwhile. ', 'start');
    assert.ok(!(await content(ada.page)).includes('Typed offline.'), 'the offline edit stays in its page until it is back');
    if (screenshots) await grace.page.screenshot({ path: join(screenshots, 'editor-offline.png') });
    await grace.context.setOffline(false);
    await grace.page.waitForSelector('#status[data-state="synced"]');
    const merged = 'Online meanwhile. Ada was here. [shared] Grace too. Typed offline.';
    await allShow([ada.page, grace.page], merged);

    // A y-websocket editor in Node reads the same text.
    const node = await editor(relay.url, 'team notes');
    await until(node.doc, () => node.text.toString() === merged, "the Node editor to read the pages' text");
    destroy(node);
    await Promise.all([ada.context.close(), grace.context.close()]);
  } finally {
    await relay.stop();
  }
});
