// The chat page as a chat app, in Debian's Chromium (playwright-core): typed lines shown at once as pending
// and marked delivered, lines typed offline kept and sent when back, the recent history for a late joiner,
// join/leave lines (one by one and the relay's summaries), messages grouped by sender, the token form,
// and the look at desktop and phone sizes in light and dark mode.
// Set WAVECAST_SCREENSHOT_DIR to keep screenshots of what these tests see (docs/screenshots/ has some).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { contrast } from '../../src/relay/page/chat-message.js';
import { DESKTOP, PHONE, deliveredTexts, joinChat, notice, openChat, pendingLines, say, shown } from './chat-page-driver.js';
import { http, killAll, startRelay, v1, type RelayProcess } from './relay-process.js';

let browser: Browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  killAll();
});

const screenshots = process.env.WAVECAST_SCREENSHOT_DIR;

// The page's document, inside functions run in the page (the tests are compiled without the DOM's types;
// the page's CSP refuses string expressions in waitForFunction).
declare const document: any;

async function snap(page: Page, file: string): Promise<void> {
  if (screenshots) await page.screenshot({ path: join(screenshots, file) });
}

test('a typed line shows at once as pending, then as delivered; typed offline it stays and goes out when back', {
  timeout: 90_000,
}, async () => {
  const relay = await startRelay();
  try {
    const ada = await joinChat(browser, relay, 'Ada', 'cafe');
    const grace = await joinChat(browser, relay, 'Grace', 'cafe');
    // Every line this page adds to the list, with its classes at that moment.
    await ada.evaluate(`
      window.added = [];
      new MutationObserver((records) => {
        for (const r of records) for (const node of r.addedNodes) window.added.push(node.className + ': ' + (node.querySelector('.text')?.textContent ?? node.textContent));
      }).observe(document.getElementById('messages'), { childList: true });
    `);
    await say(ada, 'first line');
    assert.deepEqual(await shown(ada, 'first line'), { who: 'Ada', mine: true });
    const added = (await ada.evaluate('window.added')) as string[];
    assert.deepEqual(
      added.slice(0, 2),
      ['msg mine pending: first line', 'msg mine: first line'],
      'pending at once, then delivered in its place',
    );
    assert.deepEqual(await pendingLines(ada), []);

    // The network goes: the line stays, marked as waiting; it goes out when the network is back.
    await ada.context().setOffline(true);
    await ada.waitForSelector('#status[data-state="offline"]', { timeout: 30_000 });
    await say(ada, 'typed offline 1');
    await say(ada, 'typed offline 2');
    assert.deepEqual(await pendingLines(ada), [
      { text: 'typed offline 1', state: 'waiting for the connection' },
      { text: 'typed offline 2', state: 'waiting for the connection' },
    ]);
    await say(grace, 'while Ada is away');
    await snap(ada, 'chat-offline-desktop.png');
    await ada.context().setOffline(false);
    await ada.evaluate("window.dispatchEvent(new Event('online'))");
    await ada.waitForSelector('#status[data-state="open"]', { timeout: 30_000 });
    assert.deepEqual(await shown(ada, 'typed offline 2'), { who: 'Ada', mine: true });
    assert.deepEqual(await pendingLines(ada), []);
    await shown(grace, 'typed offline 2');
    const expected = ['first line', 'while Ada is away', 'typed offline 1', 'typed offline 2'];
    assert.deepEqual(await deliveredTexts(grace), expected);
    assert.deepEqual(await deliveredTexts(ada), expected, "in the relay's order, each once");
    assert.equal(await ada.locator('#messages li.notice.bad').count(), 0, 'no red line per attempt');
    await ada.close();
    await grace.close();
  } finally {
    await relay.stop();
  }
});

test('a late joiner sees the recent history, grouped by sender, with join and leave lines', { timeout: 90_000 }, async () => {
  const relay = await startRelay(['--history', '5']);
  try {
    const ada = await joinChat(browser, relay, 'Ada', 'book club');
    for (let i = 1; i <= 5; i++) await say(ada, `line ${i}`);
    await shown(ada, 'line 5');
    await http(relay.http, 'POST', '/channels/book%20club/messages', {
      headers: { 'Content-Type': 'text/plain' },
      body: 'deploy finished',
    });
    await say(ada, 'line 6');
    await shown(ada, 'line 6');

    const grace = await joinChat(browser, relay, 'Grace', 'book club', { viewport: PHONE, colorScheme: 'dark' });
    assert.deepEqual(
      await deliveredTexts(grace),
      ['line 3', 'line 4', 'line 5', 'deploy finished', 'line 6'],
      'the last 5, as the relay keeps',
    );
    await notice(grace, 'Earlier messages are no longer kept.');
    assert.deepEqual(await shown(grace, 'line 3'), { who: 'Ada', mine: false });
    assert.deepEqual(await shown(grace, 'deploy finished'), { who: 'via API', mine: false });
    // One name and time per run of messages from one sender.
    const groups = await grace
      .locator('#messages li.msg')
      .evaluateAll((items) => items.map((item) => (item.classList.contains('cont') ? '+' : 'new')));
    assert.deepEqual(groups, ['new', '+', '+', 'new', 'new']);
    assert.equal(await grace.locator('#messages li.msg.cont .meta').first().isVisible(), false);
    await notice(ada, 'Grace joined.');
    await snap(grace, 'chat-history-phone-dark.png');

    // Reloaded, the tab knows its own earlier lines in the history.
    await ada.reload();
    await ada.click('#join-button');
    await notice(ada, 'Connected to #book club.');
    assert.deepEqual(await shown(ada, 'line 6'), { who: 'Ada', mine: true });
    assert.deepEqual(await shown(ada, 'deploy finished'), { who: 'via API', mine: false });

    await grace.click('#leave');
    await notice(ada, 'Grace left.');
    // More joins in a second than the relay sends one by one: its summary becomes one line.
    const others = await Promise.all(
      ['Linus', 'Ken', 'Barbara', 'Dennis', 'Edsger', 'Frances', 'Niklaus'].map(async (name) => {
        const member = await v1(relay);
        member.send({ type: 'join', channel: 'book club', name });
        await member.next('joined');
        return member;
      }),
    );
    await ada.waitForFunction(() => document.getElementById('online').textContent === '8 online');
    const joinedLines = (await ada.locator('#messages li.notice', { hasText: 'joined' }).allTextContents()).filter(
      (t) => !t.startsWith('Grace'),
    );
    const named = joinedLines.join(' ');
    for (const name of ['Linus', 'Ken', 'Barbara'])
      assert.ok(named.includes(name) || /and \d+ others joined/.test(named), `${name} in ${JSON.stringify(joinedLines)}`);
    assert.ok(joinedLines.length < 7, `fewer lines than joins: ${JSON.stringify(joinedLines)}`);
    for (const member of others) member.client.terminate();
    await ada.close();
    await grace.close();
  } finally {
    await relay.stop();
  }
});

test('a relay with a token: the page asks for it instead of retrying, and keeps it out of the address', { timeout: 90_000 }, async () => {
  const relay = await startRelay(['--token', 's3cret']);
  try {
    const page = await openChat(browser, relay, 'vip');
    let attempts = 0;
    page.on('websocket', () => attempts++);
    await page.fill('#name', 'Ada');
    await page.click('#join-button');
    await page.waitForSelector('#token-form:not([hidden])');
    assert.equal(await page.textContent('#token-reason'), 'This relay needs a token to join its channels.');
    assert.equal(await page.textContent('#status'), 'needs a token');
    await snap(page, 'chat-token-desktop.png');
    const tried = attempts;
    // No more attempts while the form waits (the client would retry after 0.5 s, 1 s, ...).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(attempts, tried, 'it stopped trying');

    await say(page, 'said before the token');
    await page.fill('#token', 'wrong');
    await page.click('#token-button');
    await page.waitForFunction(
      () =>
        document.getElementById('token-reason').textContent === 'The relay did not accept the token.' &&
        !document.getElementById('token-form').hidden,
    );
    await page.fill('#token', 's3cret');
    await page.click('#token-button');
    await page.waitForSelector('#status[data-state="open"]');
    assert.deepEqual(
      await shown(page, 'said before the token'),
      { who: 'Ada', mine: true },
      'a line typed while refused goes out with the good token',
    );
    await page.close();

    // A token in the address: taken out of it at once (the shareable address carries no secret), kept in the tab.
    const linked = await openChat(browser, relay, 'vip', { query: 'token=s3cret' });
    assert.equal(new URL(linked.url()).searchParams.get('token'), null);
    assert.equal(await linked.evaluate('sessionStorage.getItem("wavecast.token")'), 's3cret');
    await linked.fill('#name', 'Grace');
    await linked.click('#join-button');
    await linked.waitForSelector('#status[data-state="open"]');
    assert.equal(new URL(linked.url()).search, '?channel=vip');
    await linked.reload();
    await linked.click('#join-button');
    await linked.waitForSelector('#status[data-state="open"]');
    await say(linked, 'still in');
    assert.deepEqual(await shown(linked, 'still in'), { who: 'Grace', mine: true });
    await linked.close();
  } finally {
    await relay.stop();
  }
});

test('the relay comes back with another token: the page asks for the new one, keeps what it showed, and sends what was typed', {
  timeout: 90_000,
}, async () => {
  const first = await startRelay(['--token', 'old']);
  let second: RelayProcess | null = null;
  try {
    const page = await joinChat(browser, first, 'Ada', 'ops', { query: 'token=old' });
    await say(page, 'before the restart');
    await shown(page, 'before the restart');
    await first.stop();
    second = await startRelay(['--port', String(first.port), '--token', 'new']);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 30_000 });
    assert.equal(await page.textContent('#token-reason'), 'The relay did not accept the token.');
    await say(page, 'typed while refused');
    await page.fill('#token', 'new');
    await page.click('#token-button');
    await page.waitForSelector('#status[data-state="open"]');
    assert.deepEqual(await shown(page, 'typed while refused'), { who: 'Ada', mine: true });
    assert.deepEqual(await deliveredTexts(page), ['before the restart', 'typed while refused'], 'nothing shown twice, nothing lost');
    await page.close();
  } finally {
    await second?.stop();
  }
});

test('the look: desktop and phone, light and dark', { timeout: 120_000 }, async () => {
  const relay = await startRelay();
  try {
    const grace = await v1(relay);
    grace.send({ type: 'join', channel: 'design', name: 'Grace' });
    await grace.next('joined');
    const chat = (name: string, text: string) => grace.send({ type: 'publish', channel: 'design', data: JSON.stringify({ name, text }) });
    chat('Grace', 'Morning! The new build is up on staging.');
    chat('Grace', 'Can someone check the phone layout?');
    chat('Linus', 'On it.');
    await http(relay.http, 'POST', '/channels/design/messages', {
      headers: { 'Content-Type': 'text/plain' },
      body: 'CI: build 412 passed',
    });
    await grace.next('message', (e) => e.data === 'CI: build 412 passed');

    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const page = await joinChat(browser, relay, 'Ada', 'design', { viewport, colorScheme });
        await say(page, `Looks good here (${size}, ${colorScheme}).`);
        await say(page, 'Shipping it after lunch.');
        await shown(page, 'Shipping it after lunch.');
        const look = (await page.evaluate(`(() => {
          const rect = (selector) => document.querySelector(selector).getBoundingClientRect();
          const style = (selector) => getComputedStyle(document.querySelector(selector));
          return {
            inputWeight: style('#text').fontWeight,
            nameInputWeight: style('#name').fontWeight,
            composerWidth: rect('.composer').width,
            mineRight: rect('#messages li.msg.mine').right,
            otherRight: rect('#messages li.msg:not(.mine)').right,
            otherLeft: rect('#messages li.msg:not(.mine)').left,
            mineLeft: rect('#messages li.msg.mine').left,
            nameColour: style('#messages li.msg:not(.mine) .who').color,
            bubble: style('#messages li.msg:not(.mine)').backgroundColor,
            favicon: document.querySelector('link[rel="icon"]')?.getAttribute('href')?.startsWith('data:image/svg+xml') ?? false,
          };
        })()`)) as Look;
        assert.equal(look.inputWeight, '400', 'inputs not bold');
        assert.equal(look.nameInputWeight, '400');
        assert.ok(look.favicon, 'a favicon');
        assert.ok(
          look.mineRight > look.otherRight && look.mineLeft > look.otherLeft,
          `own messages on the other side: ${JSON.stringify(look)}`,
        );
        if (size === 'phone') assert.equal(Math.round(look.composerWidth), viewport.width, 'full width on a phone');
        else
          assert.ok(look.composerWidth >= 900 && look.composerWidth <= 1024, `a comfortable column on a desktop: ${look.composerWidth}px`);
        const ratio = contrastOf(look.nameColour, look.bubble);
        assert.ok(ratio >= 4.5, `name colour ${look.nameColour} on ${look.bubble}: ${ratio.toFixed(2)}:1 (${colorScheme})`);
        await snap(page, `chat-${size}-${colorScheme}.png`);
        await page.close();
      }
    }
    grace.client.terminate();

    // The editor beside it keeps the same bar and colours.
    if (screenshots) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const context = await browser.newContext({ viewport: DESKTOP, colorScheme });
        const page = await context.newPage();
        await page.goto(`${relay.http}/edit/notes`);
        await page.waitForSelector('#status[data-state="synced"]');
        await snap(page, `edit-desktop-${colorScheme}.png`);
        await context.close();
      }
    }
  } finally {
    await relay.stop();
  }
});

interface Look {
  inputWeight: string;
  nameInputWeight: string;
  composerWidth: number;
  mineRight: number;
  otherRight: number;
  otherLeft: number;
  mineLeft: number;
  nameColour: string;
  bubble: string;
  favicon: boolean;
}

/** The WCAG contrast of two computed CSS colours, rgb(r, g, b). */
function contrastOf(a: string, b: string): number {
  const rgb = (css: string) =>
    css
      .match(/\d+(\.\d+)?/g)!
      .slice(0, 3)
      .map(Number);
  return contrast(rgb(a), rgb(b));
}
