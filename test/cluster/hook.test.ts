// The server's cluster hook, without a broker: what a WebSocketServer tells its adapter (first and last
// local subscriber of a topic, every publish) and what it does with messages from other nodes. Three
// servers on one InProcessBus stand for three nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessAdapter, InProcessBus, WebSocketServer } from '../../src/index.js';
import type { ClusterAdapter, ClusterNode } from '../../src/server/cluster-hook.js';
import { once } from '../helpers/net.js';
import { startServer } from '../server/setup.js';
import { client, closeNodes, startNode, type Inbox, type Node } from './setup.js';

/** An adapter that records what the server tells it. */
class RecordingAdapter implements ClusterAdapter {
  node: ClusterNode | null = null;
  calls: string[] = [];
  refuse: string | null = null;
  attach(node: ClusterNode): void {
    this.node = node;
    this.calls.push('attach');
  }
  detach(): void {
    this.node = null;
    this.calls.push('detach');
  }
  subscribe(topic: string): void {
    if (topic === this.refuse) throw new RangeError(`cannot carry ${topic}`);
    this.calls.push(`subscribe ${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
  }
  publish(topic: string, payload: Buffer, binary: boolean): void {
    if (topic === this.refuse) throw new RangeError(`cannot carry ${topic}`);
    this.calls.push(`publish ${topic} ${binary ? 'binary' : 'text'} ${payload.toString()}`);
  }
}

test('the adapter hears of a topic on its first local subscriber and its last leaving, and of every publish', async () => {
  const adapter = new RecordingAdapter();
  const node = await startNode(adapter);
  assert.equal(node.wss.adapter, adapter);
  const a = await client(node, 'room');
  const b = await client(node, 'room', 'other');
  assert.deepEqual(adapter.calls, ['attach', 'subscribe room', 'subscribe other']);
  assert.deepEqual(adapter.node?.topics.sort(), ['other', 'room']);

  adapter.calls = [];
  assert.equal(node.wss.publish('room', 'hello'), 2);
  assert.equal(node.wss.publish('room', Buffer.from('bytes')), 2);
  assert.equal(node.wss.publish('nobody', 'x', { binary: true }), 0);
  assert.deepEqual(adapter.calls, ['publish room text hello', 'publish room binary bytes', 'publish nobody binary x']);
  await Promise.all([a.waitFor(2), b.waitFor(2)]);
  assert.deepEqual(
    a.messages.map((m) => [m.data.toString(), m.binary]),
    [
      ['hello', false],
      ['bytes', true],
    ],
  );

  adapter.calls = [];
  a.socket.unsubscribe('room');
  assert.deepEqual(adapter.calls, [], 'b still listens to room');
  const closed = once(b.socket, 'close');
  b.client.close();
  await closed;
  assert.deepEqual(adapter.calls.sort(), ['unsubscribe other', 'unsubscribe room']);

  adapter.calls = [];
  a.socket.subscribe('late');
  await node.wss.close({ timeout: 200 });
  assert.deepEqual(adapter.calls, ['subscribe late', 'unsubscribe late', 'detach']);
  a.client.terminate();
});

test('a message from another node reaches local subscribers only, and is not handed back to the adapter', async () => {
  const adapter = new RecordingAdapter();
  const node = await startNode(adapter);
  const a = await client(node, 'news');
  const b = await client(node);
  adapter.calls = [];
  assert.equal(adapter.node!.deliver('news', Buffer.from('from afar'), false), 1);
  assert.equal(adapter.node!.deliver('news', Buffer.from([0, 255, 1]), true), 1);
  assert.equal(adapter.node!.deliver('elsewhere', Buffer.from('x'), false), 0);
  await a.waitFor(2);
  assert.deepEqual(a.messages[0], { data: Buffer.from('from afar'), binary: false });
  assert.deepEqual(a.messages[1], { data: Buffer.from([0, 255, 1]), binary: true });
  assert.deepEqual(adapter.calls, [], 'no publish went back to the adapter');
  assert.equal(b.messages.length, 0);
  await closeNodes([node], [a, b]);
});

test('a topic or a message the adapter cannot carry is refused with its error, before anything is delivered', async () => {
  const adapter = new RecordingAdapter();
  adapter.refuse = 'too-big';
  const node = await startNode(adapter);
  const a = await client(node, 'ok');
  assert.throws(() => a.socket.subscribe('too-big'), { name: 'RangeError', message: 'cannot carry too-big' });
  assert.equal(a.socket.isSubscribed('too-big'), false);
  assert.equal(node.wss.subscriberCount('too-big'), 0);
  assert.deepEqual(node.wss.topics, ['ok']);
  assert.throws(() => node.wss.publish('too-big', 'x'), RangeError);
  assert.throws(() => node.wss.publish('ok', {} as never), TypeError);
  assert.equal(node.wss.publish('ok', 'still fine'), 1);
  await a.waitFor(1);
  assert.deepEqual(a.texts(), ['still fine']);
  await closeNodes([node], [a]);
});

test('something that is not an adapter is refused by the constructor, naming what is missing', () => {
  assert.throws(() => new WebSocketServer({ noServer: true, adapter: {} as never }), {
    name: 'TypeError',
    message: /Invalid adapter.*no attach, detach, subscribe, unsubscribe, publish method/,
  });
  assert.throws(() => new WebSocketServer({ noServer: true, adapter: 42 as never }), /Invalid adapter/);
  const wss = new WebSocketServer({ noServer: true });
  assert.equal(wss.adapter, null, 'no adapter: publishes stay in this process');
});

test('except leaves out local connections only; other nodes deliver to all their subscribers', async () => {
  const bus = new InProcessBus();
  const nodes: Node[] = [];
  for (let i = 0; i < 2; i++) nodes.push(await startNode(new InProcessAdapter(bus)));
  const sender = await client(nodes[0]!, 'chat');
  const local = await client(nodes[0]!, 'chat');
  const remote = await client(nodes[1]!, 'chat');
  assert.equal(nodes[0]!.wss.publish('chat', 'hi', { except: sender.socket }), 1);
  await Promise.all([local.waitFor(1), remote.waitFor(1)]);
  assert.deepEqual(remote.texts(), ['hi']);
  assert.equal(sender.messages.length, 0);
  await closeNodes(nodes, [sender, local, remote]);
});

test('three nodes on an InProcessBus: every subscriber on every node gets each publish once, text and binary, in order', async () => {
  const bus = new InProcessBus();
  const adapters = [new InProcessAdapter(bus), new InProcessAdapter(bus), new InProcessAdapter(bus)];
  const nodes: Node[] = [];
  for (const adapter of adapters) nodes.push(await startNode(adapter));
  const inboxes: Inbox[] = [];
  for (const node of nodes) inboxes.push(await client(node, 't'), await client(node, 't'));
  const bystander = await client(nodes[2]!, 'other');
  assert.deepEqual(
    adapters.map((a) => a.topics.sort()),
    [['t'], ['t'], ['other', 't']],
  );

  assert.equal(nodes[0]!.wss.publish('t', 'one'), 2, 'publish counts local subscribers');
  nodes[1]!.wss.publish('t', Buffer.from([1, 2, 3]));
  nodes[2]!.wss.publish('t', 'three');
  nodes[0]!.wss.publish('t', 'last');
  await Promise.all(inboxes.map((inbox) => inbox.waitFor(4)));
  for (const inbox of inboxes) {
    const fromNode0 = inbox.messages.filter((m) => !m.binary && ['one', 'last'].includes(m.data.toString())).map((m) => m.data.toString());
    assert.deepEqual(fromNode0, ['one', 'last']);
    assert.equal(inbox.messages.length, 4);
    assert.deepEqual(
      inbox.messages.find((m) => m.binary),
      { data: Buffer.from([1, 2, 3]), binary: true },
    );
  }
  assert.equal(bystander.messages.length, 0);
  await closeNodes(nodes, [...inboxes, bystander]);
});

test('an adapter serves one server', async () => {
  const adapter = new InProcessAdapter();
  const { wss } = await startServer({ adapter });
  assert.throws(() => new WebSocketServer({ noServer: true, adapter }), /already used by another WebSocketServer/);
  await wss.close({ timeout: 100 });
  const again = new WebSocketServer({ noServer: true, adapter });
  again.close();
});
