// The relay in Debian's Chromium (playwright-core): two pages on the chat page talk to each other, see
// how many are online, see a plain client's messages, and see the connection drop and come back when the
// relay restarts; and the browser's own WebSocket works against the relay's channels.
// Set WAVECAST_SCREENSHOT_DIR to keep screenshots of the chat page (desktop and phone sizes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { connect, http, killAll, record, startRelay, v1, type RelayProcess } from './relay-process.js';

let browser: Browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  killAll();
});

const screenshots = process.env.WAVECAST_SCREENSHOT_DIR;

async function joinChat(relay: RelayProcess, name: string, channel: string, viewport = { width: 1100, height: 720 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => assert.fail(`error in the page: ${error.message}`));
  await page.goto(`${relay.http}/?channel=${encodeURIComponent(channel)}`);
  assert.equal(await page.inputValue('#channel'), channel, 'the channel comes from the URL');
  await page.fill('#name', name);
  await page.click('#join-button');
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Waits until the page shows a message with this text, and returns who it says sent it and whether it is "mine". */
async function shown(page: Page, text: string): Promise<{ who: string; mine: boolean }> {
  const item = page.locator('#messages li.msg', { has: page.locator('.text', { hasText: text }) }).last();
  await item.waitFor({ timeout: 10_000 });
  return { who: (await item.locator('.who').textContent()) ?? '', mine: await item.evaluate((el) => el.classList.contains('mine')) };
}

test('two pages on the chat page exchange messages and see how many are online', { timeout: 90_000 }, async () => {
  const relay = await startRelay();
  try {
    const ada = await joinChat(relay, 'Ada', 'tea room');
    const grace = await joinChat(relay, 'Grace', 'tea room', screenshots ? { width: 390, height: 740 } : undefined);
    await say(ada, 'Hello from Ada');
    assert.deepEqual(await shown(grace, 'Hello from Ada'), { who: 'Ada', mine: false });
    assert.deepEqual(await shown(ada, 'Hello from Ada'), { who: 'Ada', mine: true });
    await say(grace, 'Hi Ada, Grace here. <b>not bold</b>');
    assert.deepEqual(await shown(ada, 'Hi Ada, Grace here. <b>not bold</b>'), { who: 'Grace', mine: false });
    for (const page of [ada, grace]) {
      await page.waitForFunction("document.getElementById('online').textContent === '2 online'", undefined, { timeout: 15_000 });
      assert.equal(await page.textContent('#channel-label'), '#tea room');
    }
    assert.equal(new URL(ada.url()).searchParams.get('channel'), 'tea room', 'the address names the channel, to share it');

    // A plain WebSocket client on the same channel: the pages show what it sends; it gets the pages' JSON.
    const plain = await connect(`${relay.url}/tea%20room`);
    const got = record(plain);
    plain.send('plain hello');
    assert.deepEqual(await shown(grace, 'plain hello'), { who: 'plain client', mine: false });
    await say(grace, 'seen it');
    const line = JSON.parse((await got.next((m) => m.text.includes('seen it'))).text) as Record<string, unknown>;
    assert.deepEqual(line, { name: 'Grace', text: 'seen it' });
    plain.terminate();

    // Another client cannot make a line show as Ada's own: "mine" comes from the id the relay stamps.
    const forger = await v1(relay);
    forger.send({ type: 'join', channel: 'tea room', name: 'Ada' });
    await forger.next('joined');
    forger.send({ type: 'publish', channel: 'tea room', data: JSON.stringify({ name: 'Ada', text: 'forged by someone else', sender: 'anything' }) });
    assert.deepEqual(await shown(ada, 'forged by someone else'), { who: 'Ada', mine: false });
    forger.client.terminate();
    await say(ada, 'really Ada');
    assert.deepEqual(await shown(ada, 'really Ada'), { who: 'Ada', mine: true });

    if (screenshots) {
      await ada.screenshot({ path: join(screenshots, 'chat-desktop.png') });
      await grace.screenshot({ path: join(screenshots, 'chat-phone.png') });
    }
    await ada.close();
    await grace.close();
  } finally {
    await relay.stop();
  }
});

test('a channel name over 256 bytes is refused on the page with the reason, without connecting', { timeout: 60_000 }, async () => {
  const relay = await startRelay();
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => assert.fail(`error in the page: ${error.message}`));
    const channel = 'é'.repeat(150);
    await page.goto(`${relay.http}/?channel=${encodeURIComponent(channel)}`);
    await page.fill('#name', 'Ada');
    await page.click('#join-button');
    await page.waitForSelector('#join-error:not([hidden])');
    assert.equal(await page.textContent('#join-error'), 'The channel name is too long: 300 bytes, at most 256 (UTF-8).');
    assert.equal(await page.isVisible('#chat'), false);
    assert.equal(await page.getAttribute('#status', 'data-state'), 'idle', 'no connection was tried');
    await page.close();
  } finally {
    await relay.stop();
  }
});

test('the page shows the connection dropping when the relay stops, and coming back when it returns', { timeout: 90_000 }, async () => {
  const first = await startRelay();
  let second: RelayProcess | null = null;
  try {
    const page = await joinChat(first, 'Ada', 'lobby');
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    await page.waitForSelector('#status[data-state="waiting"]');
    await page.locator('#messages li.notice', { hasText: 'The relay is restarting.' }).waitFor();
    // What is typed while offline is queued and sent once the relay is back.
    await say(page, 'typed while offline');
    if (screenshots) await page.screenshot({ path: join(screenshots, 'chat-offline.png') });

    second = await startRelay(['--port', String(first.port)]);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 30_000 });
    assert.deepEqual(await shown(page, 'typed while offline'), { who: 'Ada', mine: true });
    await say(page, 'back again');
    assert.deepEqual(await shown(page, 'back again'), { who: 'Ada', mine: true });
    await page.close();
  } finally {
    await second?.stop();
  }
});

test('offline in the browser while another client publishes: back online, the page shows every message in order, once', { timeout: 90_000 }, async () => {
  const relay = await startRelay();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`error in the page: ${error.message}`));
    await page.goto(`${relay.http}/?channel=tunnel`);
    await page.fill('#name', 'Ada');
    await page.click('#join-button');
    await page.waitForSelector('#status[data-state="open"]');
    await page.locator('#messages li.notice', { hasText: 'Connected to #tunnel.' }).waitFor();
    const post = (text: string) => http(relay.http, 'POST', '/channels/tunnel/messages', { headers: { 'Content-Type': 'text/plain' }, body: text });
    await post('before 1');
    await shown(page, 'before 1');

    await context.setOffline(true);
    await page.waitForSelector('#status[data-state="waiting"]', { timeout: 30_000 });
    for (let i = 1; i <= 5; i++) await post(`while offline ${i}`);
    await context.setOffline(false);
    await page.evaluate("window.dispatchEvent(new Event('online'))");
    await page.waitForSelector('#status[data-state="open"]', { timeout: 30_000 });
    await page.locator('#messages li.notice', { hasText: 'Reconnected: 5 missed messages above.' }).waitFor();
    await post('after');
    await shown(page, 'after');
    const texts = await page.locator('#messages li.msg .text').allTextContents();
    assert.deepEqual(texts, ['before 1', 'while offline 1', 'while offline 2', 'while offline 3', 'while offline 4', 'while offline 5', 'after']);
    const seqs = await page.locator('#messages li.msg').evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
    await context.close();
  } finally {
    await relay.stop();
  }
});

test('a relay with a token: the page without it says so; with it, it chats', { timeout: 60_000 }, async () => {
  const relay = await startRelay(['--token', 's3cret']);
  try {
    const page = await browser.newPage();
    await page.goto(`${relay.http}/?channel=vip`);
    await page.fill('#name', 'Ada');
    await page.click('#join-button');
    await page.locator('#messages li.notice', { hasText: 'This relay needs a token' }).waitFor();
    await page.close();
    const allowed = await browser.newPage();
    await allowed.goto(`${relay.http}/?channel=vip&token=s3cret`);
    await allowed.fill('#name', 'Ada');
    await allowed.click('#join-button');
    await allowed.waitForSelector('#status[data-state="open"]');
    await say(allowed, 'inside');
    assert.deepEqual(await shown(allowed, 'inside'), { who: 'Ada', mine: true });
    await allowed.close();
  } finally {
    await relay.stop();
  }
});

test('the browser\'s own WebSocket works against the relay: onmessage gets text as a string and binary as binary', { timeout: 60_000 }, async () => {
  const relay = await startRelay();
  try {
    const page = await browser.newPage();
    await page.goto(`${relay.http}/healthz`);
    const result = await page.evaluate(async (port: number) => {
      const open = (url: string) =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(url);
          socket.binaryType = 'arraybuffer';
          socket.onopen = () => resolve(socket);
          socket.onerror = () => reject(new Error(`could not connect to ${url}`));
        });
      const next = (socket: WebSocket) => new Promise<unknown>((resolve) => (socket.onmessage = (event) => resolve(event.data)));
      const root = await open(`ws://127.0.0.1:${port}`);
      const rootEcho = next(root);
      root.send('to the root channel');
      const x = await open(`ws://127.0.0.1:${port}/x`);
      const y = await open(`ws://127.0.0.1:${port}/x`);
      const textAtY = next(y);
      x.send('hello from chromium');
      const text = await textAtY;
      const binaryAtY = next(y);
      x.send(new Uint8Array([1, 2, 250]).buffer);
      const binary = await binaryAtY;
      const out = {
        root: await rootEcho,
        text,
        binaryIsArrayBuffer: binary instanceof ArrayBuffer,
        bytes: Array.from(new Uint8Array(binary as ArrayBuffer)),
      };
      root.close();
      x.close();
      y.close();
      return out;
    }, relay.port);
    assert.deepEqual(result, { root: 'to the root channel', text: 'hello from chromium', binaryIsArrayBuffer: true, bytes: [1, 2, 250] });
    await page.close();
  } finally {
    await relay.stop();
  }
});
