// The relay in Debian's Chromium (playwright-core): two pages on the chat page talk to each other, see
// how many are online, see a plain client's messages, and see the connection drop and come back when the
// relay restarts; and the browser's own WebSocket works against the relay's channels.
// (chat-page-app.browser.test.ts: pending lines, history, presence lines, the token form, the look.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { joinChat as joinAs, notice, pendingLines, PHONE, say, shown } from './chat-page-driver.js';
import { connect, http, killAll, record, startRelay, v1, type RelayProcess } from './relay-process.js';

let browser: Browser;
const joinChat = (relay: RelayProcess, name: string, channel: string, viewport?: { width: number; height: number }) =>
  joinAs(browser, relay, name, channel, viewport ? { viewport } : {});

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  killAll();
});

test('two pages on the chat page exchange messages and see how many are online', { timeout: 90_000 }, async () => {
  const relay = await startRelay();
  try {
    const ada = await joinChat(relay, 'Ada', 'tea room');
    const grace = await joinChat(relay, 'Grace', 'tea room', PHONE);
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
    assert.deepEqual(await shown(grace, 'plain hello'), { who: 'via API', mine: false }, 'not from a chat page: labelled as such');
    await say(grace, 'seen it');
    const line = JSON.parse((await got.next((m) => m.text.includes('seen it'))).text) as Record<string, unknown>;
    assert.deepEqual(line, { name: 'Grace', text: 'seen it' });
    plain.terminate();

    // Another client cannot make a line show as Ada's own: "mine" comes from the id the relay stamps.
    const forger = await v1(relay);
    forger.send({ type: 'join', channel: 'tea room', name: 'Ada' });
    await forger.next('joined');
    forger.send({
      type: 'publish',
      channel: 'tea room',
      data: JSON.stringify({ name: 'Ada', text: 'forged by someone else', sender: 'anything' }),
    });
    assert.deepEqual(await shown(ada, 'forged by someone else'), { who: 'Ada', mine: false });
    forger.client.terminate();
    await say(ada, 'really Ada');
    assert.deepEqual(await shown(ada, 'really Ada'), { who: 'Ada', mine: true });

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
    assert.match((await page.textContent('#status')) ?? '', /^reconnecting in \d+s$/);
    await notice(page, 'The relay is restarting.');
    // What is typed while offline is queued and sent once the relay is back.
    await say(page, 'typed while offline');
    assert.deepEqual(
      await pendingLines(page),
      [{ text: 'typed while offline', state: 'waiting for the connection' }],
      'shown at once, marked as waiting',
    );

    second = await startRelay(['--port', String(first.port)]);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 30_000 });
    assert.deepEqual(await shown(page, 'typed while offline'), { who: 'Ada', mine: true });
    assert.deepEqual(await pendingLines(page), []);
    await say(page, 'back again');
    assert.deepEqual(await shown(page, 'back again'), { who: 'Ada', mine: true });
    await page.close();
  } finally {
    await second?.stop();
  }
});

test('offline in the browser while another client publishes: back online, the page shows every message in order, once', {
  timeout: 90_000,
}, async () => {
  const relay = await startRelay();
  try {
    const context = await browser.newContext();
    const page = await joinAs(browser, relay, 'Ada', 'tunnel', { context });
    const post = (text: string) =>
      http(relay.http, 'POST', '/channels/tunnel/messages', { headers: { 'Content-Type': 'text/plain' }, body: text });
    await post('before 1');
    await shown(page, 'before 1');

    await context.setOffline(true);
    await page.waitForSelector('#status[data-state="offline"]', { timeout: 30_000 });
    assert.equal(await page.textContent('#status'), 'offline');
    for (let i = 1; i <= 5; i++) await post(`while offline ${i}`);
    await context.setOffline(false);
    await page.evaluate("window.dispatchEvent(new Event('online'))");
    await page.waitForSelector('#status[data-state="open"]', { timeout: 30_000 });
    await notice(page, 'Reconnected: 5 missed messages above.');
    await post('after');
    await shown(page, 'after');
    const texts = await page.locator('#messages li.msg .text').allTextContents();
    assert.deepEqual(texts, [
      'before 1',
      'while offline 1',
      'while offline 2',
      'while offline 3',
      'while offline 4',
      'while offline 5',
      'after',
    ]);
    const seqs = await page.locator('#messages li.msg').evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
    await context.close();
  } finally {
    await relay.stop();
  }
});

test("the browser's own WebSocket works against the relay: onmessage gets text as a string and binary as binary", {
  timeout: 60_000,
}, async () => {
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
