// wavecast/browser in Node (with ws as its WebSocket) against the real relay: the connection is cut
// while another client publishes; the client reconnects by itself and gets every message once, in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WavecastClient, type ChannelMessage } from '../../src/browser/index.js';
import { http, killAll, startRelay, WsClient } from './relay-process.js';

after(() => killAll());

test('a dropped connection is recovered: every message once, in order', { timeout: 30_000 }, async () => {
  const relay = await startRelay();
  const sockets: WsClient[] = [];
  class Tracked extends WsClient {
    constructor(url: string, protocols: string) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const client = new WavecastClient(`${relay.url}/`, { WebSocket: Tracked, name: 'node', backoff: { initial: 10, max: 50 } });
  const messages: ChannelMessage[] = [];
  const waiters: Array<{ seq: number; resolve: () => void }> = [];
  client.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.filter((w) => m.seq >= w.seq)) w.resolve();
  });
  const until = (seq: number) =>
    new Promise<void>((resolve) => (messages.some((m) => m.seq >= seq) ? resolve() : waiters.push({ seq, resolve })));
  const joined = () =>
    new Promise<{ rejoin: boolean; recovered: number }>((resolve) => {
      const off = client.on('joined', (j) => {
        off();
        resolve(j);
      });
    });
  const post = (text: string) =>
    http(relay.http, 'POST', '/channels/news/messages', { headers: { 'Content-Type': 'text/plain' }, body: text });
  try {
    let j = joined();
    client.join('news');
    assert.equal((await j).rejoin, false);
    await post('one');
    await until(1);
    // Cut the connection; publish while it is down.
    const reconnected = joined();
    const down = new Promise<void>((resolve) => {
      const off = client.on('state', (s) => {
        if (s.state === 'reconnecting') {
          off();
          resolve();
        }
      });
    });
    sockets.at(-1)!.terminate();
    await down;
    await post('two');
    await post('three');
    j = reconnected;
    const again = await j;
    assert.equal(again.rejoin, true);
    await post('four');
    await until(4);
    assert.deepEqual(
      messages.map((m) => [m.seq, m.data]),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
        [4, 'four'],
      ],
    );
    assert.equal(client.lastSeq('news'), 4);
  } finally {
    client.close();
    await relay.stop();
  }
});
