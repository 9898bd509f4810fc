// createWebSocketStream(ws, options), side by side with `ws`'s (test/helpers/ws-compat.ts): bytes written
// to the stream are messages, messages are what is read from it (text as strings in object mode), backpressure
// holds, ending the stream closes the WebSocket (1000), destroying it terminates the WebSocket (1006), and a
// failure of the WebSocket destroys the stream with its error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type Ws from 'ws';
import { rawFrame } from '../protocol/parser-helpers.js';
import { rawConnect } from '../server/raw-client.js';
import { connected, describeError, listening, sameAsWs, shutDown } from '../helpers/ws-compat.js';

test('writes become messages and messages are read, in order; end() closes the WebSocket (a close frame without a code: 1005)', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    wss.on('connection', (peer: Ws) => peer.on('message', (data: Buffer, isBinary: boolean) => peer.send(data, { binary: isBinary })));
    const client = new impl.WebSocket(url);
    const stream = impl.createWebSocketStream(client);
    // Written before the socket is open: the writes wait for it.
    const received: string[] = [];
    const both = new Promise<void>((resolve) =>
      stream.on('data', (chunk: Buffer) => {
        received.push(`${Buffer.isBuffer(chunk) ? 'Buffer' : typeof chunk} ${chunk}`);
        if (received.length === 2) resolve();
      }),
    );
    const closed = new Promise<string>((resolve) => client.on('close', (code: number) => resolve(`ws close ${code}`)));
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    const streamClosed = new Promise<void>((resolve) => stream.on('close', resolve));
    stream.write('one');
    stream.write(Buffer.from('two'));
    await both;
    stream.end();
    const result = { received, closed: await closed };
    await ended;
    await streamClosed;
    await shutDown(wss);
    return { ...result, destroyed: stream.destroyed };
  });
  assert.deepEqual(seen, { received: ['Buffer one', 'Buffer two'], closed: 'ws close 1005', destroyed: true });
});

test('readableObjectMode: text messages are read as strings, binary ones as Buffers', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const stream = impl.createWebSocketStream(client, { readableObjectMode: true });
    const chunks: string[] = [];
    const done = new Promise<void>((resolve) =>
      stream.on('data', (chunk: unknown) => {
        chunks.push(`${Buffer.isBuffer(chunk) ? 'Buffer' : typeof chunk} ${String(chunk)}`);
        if (chunks.length === 2) resolve();
      }),
    );
    peer.send('text');
    peer.send(Buffer.from('bytes'));
    await done;
    stream.destroy();
    await new Promise((resolve) => stream.on('close', resolve));
    await shutDown(wss);
    return chunks;
  });
  assert.deepEqual(seen, ['string text', 'Buffer bytes']);
});

test('a reader that does not keep up pauses the WebSocket; reading again resumes it', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    const { client, peer } = await connected(impl, wss, url);
    const stream = impl.createWebSocketStream(client, { highWaterMark: 16 });
    const before = client.isPaused;
    peer.send(Buffer.alloc(64, 1));
    await new Promise((resolve) => client.once('message', resolve));
    const paused = client.isPaused;
    stream.read();
    const resumed = client.isPaused;
    stream.destroy();
    await new Promise((resolve) => stream.on('close', resolve));
    await shutDown(wss);
    return { before, paused, resumed };
  });
  assert.deepEqual(seen, { before: false, paused: true, resumed: false });
});

test('destroy() terminates the WebSocket (1006); a protocol error destroys the stream with the error', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url, port } = await listening(impl);
    const { client } = await connected(impl, wss, url);
    const stream = impl.createWebSocketStream(client);
    const wsClosed = new Promise<number>((resolve) => client.on('close', resolve));
    stream.destroy();
    const destroyed = `ws close ${await wsClosed}`;

    const accepted = new Promise<Ws>((resolve) => wss.once('connection', resolve));
    const raw = await rawConnect(port);
    const peer = await accepted;
    const failing = impl.createWebSocketStream(peer);
    const streamError = new Promise<string>((resolve) => failing.on('error', (error: Error) => resolve(describeError(error))));
    const streamClosed = new Promise<void>((resolve) => failing.on('close', resolve));
    raw.socket.write(rawFrame({ opcode: 0x1, payload: 'x', maskKey: null }));
    const failed = await streamError;
    await streamClosed;
    const closeFrame = await raw.closeCode();
    raw.socket.destroy();
    await shutDown(wss);
    return { destroyed, failed, closeFrame };
  });
  assert.deepEqual(seen, {
    destroyed: 'ws close 1006',
    failed: 'error RangeError WS_ERR_EXPECTED_MASK: Invalid WebSocket frame: MASK must be set',
    closeFrame: 1002,
  });
});

test('pipe(): lines through the WebSocket to a server that pipes its stream into itself, and back', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl);
    wss.on('connection', (peer: Ws) => {
      const echo = impl.createWebSocketStream(peer);
      echo.on('error', () => {});
      echo.pipe(echo);
    });
    const client = new impl.WebSocket(url);
    const stream = impl.createWebSocketStream(client);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}\n`);
    const total = lines.join('').length;
    Readable.from(lines).pipe(stream, { end: false });
    let text = '';
    for await (const chunk of stream) {
      text += chunk;
      if (text.length === total) stream.end();
    }
    await shutDown(wss);
    return text === lines.join('');
  });
  assert.equal(seen, true);
});
