// With permessage-deflate, a connection's own sends are compressed asynchronously: a publish made after
// a send must not overtake it. Negotiation is asserted first: without it the test would prove nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connectPair, nextMessages, startServer } from './setup.js';

test('publishes stay in order behind compressed sends to the same subscriber', async () => {
  const { wss, port } = await startServer({ perMessageDeflate: true });
  const { client, socket } = await connectPair(wss, port);
  assert.match(client.extensions, /permessage-deflate/, 'permessage-deflate was negotiated');
  socket.subscribe('t');
  const expected: string[] = [];
  for (let i = 0; i < 60; i++) {
    if (i % 2 === 0) {
      const text = `compressed ${i} ` + 'abc '.repeat(2_000); // over the compression threshold
      socket.send(text);
      expected.push(text);
    } else {
      wss.publish('t', `published ${i}`);
      expected.push(`published ${i}`);
    }
  }
  const got = await nextMessages(client, expected.length);
  assert.deepEqual(
    got.map(([text]) => text),
    expected,
  );
  await closeAll(wss, client);
});
