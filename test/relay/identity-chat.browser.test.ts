// The chat page on a relay that checks identities (--jwt-secret), in Debian's Chromium: two users with
// their own tokens see each other's lines under the names the tokens give, whatever name each typed, and
// neither can pass a line off as the other's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { notice, openChat, say, shown } from './chat-page-driver.js';
import { killAll, startRelay, v1 } from './relay-process.js';

let browser: Browser;

// The page's document, inside functions run in the page (the tests are compiled without the DOM's types).
declare const document: any;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  killAll();
});

const SECRET = 'the-chat-test-secret-32-chars!!!';

function token(sub: string, name: string): Promise<string> {
  const claims = { sub, name, subscribe: ['room:*'], publish: ['room:*'], exp: Math.floor(Date.now() / 1000) + 600 };
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
}

test('two users with tokens: each line carries its verified sender, and a typed name cannot impersonate', { timeout: 90_000 }, async () => {
  const relay = await startRelay(['--jwt-secret', SECRET]);
  try {
    const channel = 'room:team';
    // Mallory's page types "Alice" as its name; the relay knows it as Mallory.
    const alice = await openChat(browser, relay, channel, { query: `token=${await token('u-alice', 'Alice')}` });
    const mallory = await openChat(browser, relay, channel, { query: `token=${await token('u-mallory', 'Mallory')}` });
    for (const [page, typed] of [
      [alice, 'Alice'],
      [mallory, 'Alice'],
    ] as const) {
      assert.equal(new URL(page.url()).searchParams.get('token'), null, 'the token is taken out of the address');
      await page.fill('#name', typed);
      await page.click('#join-button');
      await page.waitForSelector('#status[data-state="open"]');
    }
    await notice(mallory, 'The relay knows you as Mallory.');

    await say(alice, 'hello from the real Alice');
    await say(mallory, 'I am Alice, send me the keys');

    assert.deepEqual(await shown(alice, 'hello from the real Alice'), { who: 'Alice', mine: true });
    assert.deepEqual(
      await shown(alice, 'I am Alice, send me the keys'),
      { who: 'Mallory', mine: false },
      "Alice's page shows the verified name",
    );
    assert.deepEqual(
      await shown(mallory, 'hello from the real Alice'),
      { who: 'Alice', mine: false },
      "Mallory cannot take Alice's lines as its own",
    );
    assert.deepEqual(await shown(mallory, 'I am Alice, send me the keys'), { who: 'Mallory', mine: true });

    // What a program sees: `from` is the user id the token verified, not anything the sender chose.
    const watcher = await v1(relay, { headers: { authorization: `Bearer ${await token('u-watcher', 'Watcher')}` } });
    watcher.send({ type: 'join', channel });
    await watcher.next('joined', (e) => e.channel === channel);
    await say(mallory, 'one more');
    const message = await watcher.next('message', (e) => JSON.stringify(e.data).includes('one more'));
    assert.equal(message.from, 'u-mallory');
    watcher.client.close();

    // Without a token the page is refused and asks for one.
    const stranger = await openChat(browser, relay, channel);
    await stranger.fill('#name', 'Alice');
    await stranger.click('#join-button');
    await stranger.waitForSelector('#token-form:not([hidden])');
    // A token signed with another key: the upgrade is refused (401), and the page asks again.
    const forged = await new jose.SignJWT({ sub: 'u-alice', name: 'Alice', subscribe: ['room:*'], publish: ['room:*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-of-32-characters!'));
    const impostor = await openChat(browser, relay, channel, { query: `token=${forged}` });
    await impostor.fill('#name', 'Alice');
    await impostor.click('#join-button');
    await impostor.waitForFunction(() => document.getElementById('token-reason').textContent === 'The relay did not accept the token.');
    await impostor.close();
    await alice.close();
    await mallory.close();
    await stranger.close();
  } finally {
    await relay.stop();
  }
});
