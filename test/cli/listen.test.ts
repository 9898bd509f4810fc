// `wavecast connect -l`: wscat's listen mode, with real clients on 127.0.0.1. What a client sends is
// printed, what is piped or typed in is sent to it, one client at a time, the next one after it leaves;
// the end of the input closes the client with 1000; a port in use is one line and exit status 1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from '../../src/index.js';
import { once } from '../helpers/net.js';
import { killLeftovers, ptyRunner, recordingServer, wavecast, wavecastOnTerminal, within } from './helpers.js';

after(killLeftovers);

/** A client of the listening command that records what it receives. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const received: string[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  ws.on('message', (data: Buffer) => {
    received.push(data.toString());
    for (let i = waiters.length - 1; i >= 0; i--) if (received.length >= waiters[i]!.count) waiters.splice(i, 1)[0]!.resolve();
  });
  const closed = once<[number, Buffer]>(ws, 'close', 10_000);
  await once(ws, 'open');
  return {
    ws,
    received,
    closed,
    got: (count: number) =>
      within(
        new Promise<void>((resolve) => (received.length >= count ? resolve() : waiters.push({ count, resolve }))),
        () => `${count} message(s) at the client (got ${JSON.stringify(received)})`,
      ),
  };
}

test('piped: lines wait for a client, each client gets what is piped while it is there, a second one is refused (503), the end of input closes with 1000', async () => {
  const run = wavecast(['connect', '-l', '127.0.0.1:0']);
  await run.waitForError(/listening on ws:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C stops\)\n/);
  const url = /ws:\/\/127\.0\.0\.1:\d+\//.exec(run.stderr())![0];

  // Piped before anyone is connected: kept for the first client.
  run.child.stdin!.write('early line\n');
  const first = await client(url);
  await first.got(1);
  assert.deepEqual(first.received, ['early line']);
  await run.waitForError(/client connected from 127\.0\.0\.1\n/);

  // One at a time.
  const second = new WebSocket(url);
  second.on('error', () => {});
  const [, refusal] = await once<[unknown, IncomingMessage]>(second, 'unexpected-response');
  assert.equal(refusal.statusCode, 503);

  first.ws.send('from the first');
  await run.waitFor(/^from the first\n$/);
  run.child.stdin!.write('to the first\n');
  await first.got(2);
  assert.equal(first.received[1], 'to the first');
  first.ws.close(1000, 'bye');
  await run.waitForError(/client disconnected: 1000 \(normal closure\) "bye"\n/);

  // The next client gets what is piped from then on; the end of the input closes it with 1000.
  const third = await client(url);
  run.child.stdin!.end('to the third\nand the last\n');
  const [code] = await third.closed;
  assert.equal(code, 1000);
  assert.deepEqual(third.received, ['to the third', 'and the last']);
  assert.equal(await within(run.exited, 'wavecast connect -l to exit'), 0, run.stderr());
  assert.equal(run.stdout(), 'from the first\n');
});

test('a port in use: one line saying what to do, exit 1', async () => {
  const taken = await recordingServer();
  try {
    const port = new URL(taken.url).port;
    const run = wavecast(['connect', '-l', `127.0.0.1:${port}`]);
    assert.equal(await within(run.exited, 'wavecast connect -l to exit'), 1);
    assert.equal(run.stderr(), `wavecast connect: port ${port} is already in use: stop what listens there, or pick another port with -l\n`);
  } finally {
    await taken.stop();
  }
});

const runner = ptyRunner();

test('on a terminal: a prompt, what the client sends marked "< ", typed lines sent, --slash /close, Ctrl-D stops', {
  skip: runner === null ? 'no pseudo-terminal runner' : false,
}, async () => {
  const run = wavecastOnTerminal(runner!, ['connect', '-l', '127.0.0.1:0', '--slash', '--no-color']);
  await run.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C or Ctrl-D stops\)/);
  const url = /ws:\/\/127\.0\.0\.1:\d+\//.exec(run.stdout())![0];
  run.type('nobody here\r');
  await run.waitFor(/not sent: no client is connected/);

  const first = await client(url);
  first.ws.send('hi there');
  await run.waitFor(/< hi there/);
  run.type('hello yourself\r');
  await first.got(1);
  assert.deepEqual(first.received, ['hello yourself']);
  run.type('/close 4000 enough\r');
  const [code, reason] = await first.closed;
  assert.equal(code, 4000);
  assert.equal(reason.toString(), 'enough');

  run.type('\x04');
  assert.equal(await within(run.exited, 'wavecast connect -l to exit after Ctrl-D'), 0, run.stdout());
});
