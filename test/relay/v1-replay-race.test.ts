// The replay race, in process, with a history store that answers later (as a shared store would): a
// message published while a join's replay is still being read must reach the client once, after the
// replayed ones, and before nothing it follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WsClient from 'ws';
import { MemoryHistory, type HistoryRead, type HistoryStore, type StoredMessage } from '../../src/relay/history.js';
import { createLogger } from '../../src/relay/log.js';
import { Relay } from '../../src/relay/relay.js';
import { once } from '../helpers/net.js';

/** A store whose reads wait until the test releases them. */
class SlowHistory implements HistoryStore {
  readonly inner = new MemoryHistory({ limit: 100, ttl: 0, maxBytes: 1 << 20, epoch: 'slow' });
  readonly epoch = 'slow';
  private readonly _held: Array<() => void> = [];
  reading: Promise<void>;
  private _readStarted!: () => void;
  constructor() {
    this.reading = new Promise((resolve) => (this._readStarted = resolve));
  }
  append(channel: string, data: Buffer, binary: boolean): Promise<StoredMessage> {
    return Promise.resolve(this.inner.append(channel, data, binary));
  }
  read(channel: string, since: number): Promise<HistoryRead> {
    const result = this.inner.read(channel, since);
    this._readStarted();
    return new Promise((resolve) => this._held.push(() => resolve(result)));
  }
  latest(channel: string): Promise<number> {
    return Promise.resolve(this.inner.latest(channel));
  }
  release(): void {
    for (const go of this._held.splice(0)) go();
  }
}

test('a message published during a slow replay arrives once, after the replay', { timeout: 20_000 }, async () => {
  const store = new SlowHistory();
  const relay = await Relay.start({
    port: 0,
    host: '127.0.0.1',
    maxPayload: 65536,
    origins: [],
    rateLimit: { rate: 0, burst: 1 },
    maxBackpressure: 1 << 20,
    backpressurePolicy: 'drop',
    maxConnections: 0,
    heartbeat: 0,
    metricsChannels: 5,
    history: { limit: 100, ttl: 0, maxBytes: 1 << 20 },
    historyStore: store,
    log: createLogger({ level: 'error', write: () => {} }),
  });
  try {
    for (const text of ['a', 'b', 'c']) await relay.publish('race', Buffer.from(text), false, 'http');
    const client = new WsClient(`${relay.url}/`, 'wavecast.v1');
    await once(client, 'open');
    const got: Array<Record<string, unknown>> = [];
    let joined!: () => void;
    const done = new Promise<void>((resolve) => (joined = resolve));
    let after!: () => void;
    const afterDone = new Promise<void>((resolve) => (after = resolve));
    client.on('message', (data: Buffer) => {
      const e = JSON.parse(data.toString()) as Record<string, unknown>;
      got.push(e);
      if (e.type === 'joined') joined();
      if (e.type === 'message' && e.seq === 5) after();
    });
    client.send(JSON.stringify({ type: 'join', channel: 'race', since: 1, epoch: 'slow' }));
    await store.reading;
    // The replay (b, c) is being read; d is published now.
    await relay.publish('race', Buffer.from('d'), false, 'http');
    store.release();
    await done;
    await relay.publish('race', Buffer.from('e'), false, 'http');
    await afterDone;
    assert.deepEqual(
      got.map((e) => (e.type === 'message' ? `${e.seq}:${e.data}` : e.type)),
      ['2:b', '3:c', '4:d', 'joined', '5:e'],
    );
    client.close();
  } finally {
    await relay.close(1000);
  }
});
