// Heartbeats and idle timeouts: quiet peers are pinged, silent ones terminated, idle ones closed, all by
// one timer for the whole server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/connection/websocket.js';
import { once } from '../helpers/net.js';
import { closeAll, connectPair, startServer, type WsClient } from './setup.js';

/** Resolves after `client` has received `count` pings. */
function pings(client: WsClient, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${count} pings arrived`)), 5_000);
    const onPing = () => {
      if (++seen < count) return;
      clearTimeout(timer);
      client.off('ping', onPing);
      resolve();
    };
    client.on('ping', onPing);
  });
}

test('a peer that stops answering pings is terminated', async () => {
  const { wss, port } = await startServer({ heartbeat: { interval: 40, timeout: 40 } });
  const { client, socket } = await connectPair(wss, port, { autoPong: false });
  const pinged = once(client, 'ping');
  const closed = once<[number]>(client, 'close');
  const serverClosed = once(socket, 'close');
  await pinged;
  const [code] = await closed;
  assert.equal(code, 1006, 'terminated, without a closing handshake');
  await serverClosed;
  assert.equal(socket.readyState, WebSocket.CLOSED);
  assert.equal(wss.stats.heartbeatTimeouts, 1);
  await wss.close({ timeout: 100 });
});

test('a peer that answers pings stays connected', async () => {
  const { wss, port } = await startServer({ heartbeat: { interval: 20, timeout: 1000 } });
  const { client, socket } = await connectPair(wss, port);
  await pings(client, 4);
  assert.equal(socket.readyState, WebSocket.OPEN);
  assert.equal(client.readyState, client.OPEN);
  assert.equal(wss.stats.heartbeatTimeouts, 0);
  await closeAll(wss, client);
});

test('a peer that does not answer pings but sends messages is alive: anything it sends counts', async () => {
  const { wss, port } = await startServer({ heartbeat: { interval: 20, timeout: 60 } });
  const { client, socket } = await connectPair(wss, port, { autoPong: false });
  let received = 0;
  socket.on('message', () => received++);
  client.on('ping', () => client.send('still here'));
  await pings(client, 6);
  assert.equal(socket.readyState, WebSocket.OPEN);
  assert.equal(wss.stats.heartbeatTimeouts, 0);
  assert.ok(received >= 5, `the messages sent in answer arrived (${received})`);
  await closeAll(wss, client);
});

test('idleTimeout closes a connection that sends nothing, with a reason', async () => {
  const { wss, port } = await startServer({ idleTimeout: 60 });
  const { client } = await connectPair(wss, port);
  const [code, reason] = await once<[number, Buffer]>(client, 'close');
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'Idle timeout: no message for 60 ms');
  assert.equal(wss.stats.idleCloses, 1);
  await wss.close({ timeout: 100 });
});

test('pongs are not activity: a peer that only answers pings is closed at idleTimeout, and was never taken for dead', async () => {
  const { wss, port } = await startServer({ idleTimeout: 200, heartbeat: { interval: 20, timeout: 1000 } });
  const { client } = await connectPair(wss, port);
  let pinged = 0;
  client.on('ping', () => pinged++);
  const [code, reason] = await once<[number, Buffer]>(client, 'close', 10_000);
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'Idle timeout: no message for 200 ms');
  // The heartbeat kept pinging a live peer, which answered every time: that did not keep it open.
  assert.ok(pinged >= 3, `pinged ${pinged} times`);
  assert.equal(wss.stats.heartbeatTimeouts, 0);
  assert.equal(wss.stats.idleCloses, 1);
  await wss.close({ timeout: 100 });
});

test('messages either way are activity: a peer that only listens, or only talks, stays past idleTimeout', async () => {
  // The heartbeat's pings come every 20 ms of quiet: they are the test's clock, 15 of them outlast idleTimeout.
  const { wss, port } = await startServer({ idleTimeout: 100, heartbeat: { interval: 20, timeout: 1000 } });
  const { client, socket } = await connectPair(wss, port);
  const closed = once(client, 'close', 10_000).then(() => 'closed');
  // The server sends; the client only answers pings.
  const onPingServerSends = () => socket.send('news');
  client.on('ping', onPingServerSends);
  assert.notEqual(await Promise.race([pings(client, 15).then(() => 'pinged'), closed]), 'closed');
  client.off('ping', onPingServerSends);
  // The client sends; the server sends nothing.
  const onPingClientSends = () => client.send('hello');
  client.on('ping', onPingClientSends);
  assert.notEqual(await Promise.race([pings(client, 15).then(() => 'pinged'), closed]), 'closed');
  client.off('ping', onPingClientSends);
  assert.equal(socket.readyState, WebSocket.OPEN);
  assert.equal(wss.stats.idleCloses, 0);
  // Nothing either way: closed.
  assert.equal(await closed, 'closed');
  assert.equal(wss.stats.idleCloses, 1);
  await wss.close({ timeout: 100 });
});

test('one timer serves every connection of a server', async () => {
  const created: string[] = [];
  const realInterval = globalThis.setInterval;
  const realTimeout = globalThis.setTimeout;
  const fromLibrary = () => /\/src\/(server|connection)\//.test(new Error().stack ?? '');
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    if (fromLibrary()) created.push('interval');
    return realInterval(...args);
  }) as typeof setInterval;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    if (fromLibrary()) created.push('timeout');
    return realTimeout(...args);
  }) as typeof setTimeout;
  try {
    const { wss, port } = await startServer({ heartbeat: { interval: 20, timeout: 1000 }, idleTimeout: 5000, handshakeTimeout: 5000 });
    const pairs = [];
    for (let i = 0; i < 20; i++) pairs.push(await connectPair(wss, port));
    await Promise.all(pairs.map((p) => pings(p.client, 3)));
    assert.deepEqual(created, ['interval']);
    await closeAll(wss, ...pairs.map((p) => p.client));
  } finally {
    globalThis.setInterval = realInterval;
    globalThis.setTimeout = realTimeout;
  }
});
