// Shared set-up for the cluster tests: WebSocketServer nodes with an adapter each, `ws` clients that
// record what they receive, unique topic names per run (the Redis and NATS servers on 6379 and 4222 are
// shared with other tests), and private brokers on ports held for them, for the tests that kill one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import type WsClient from 'ws';
import assert from 'node:assert/strict';
import type { BrokerAdapter } from '../../src/cluster/broker-adapter.js';
import { checkTopic, encodeMessage } from '../../src/cluster/wire.js';
import type { ClusterAdapter, ClusterNode, ClusterStamp } from '../../src/server/cluster-hook.js';
import type { WebSocketServer } from '../../src/server/websocket-server.js';
import type { WebSocket } from '../../src/connection/websocket.js';
import { startServer, connectPair } from '../server/setup.js';

export const SHARED_REDIS = 'redis://127.0.0.1:6379';
export const SHARED_NATS = 'nats://127.0.0.1:4222';

/** A prefix no other run (or other engineer's test) uses. */
export function uniquePrefix(label: string): string {
  return `wctest-${label}-${randomBytes(5).toString('hex')}`;
}

export interface Node {
  wss: WebSocketServer;
  port: number;
}

export async function startNode(adapter: ClusterAdapter): Promise<Node> {
  return startServer({ adapter });
}

/** Received messages of one client, as [payload, isBinary], with a way to wait for the next n. */
export class Inbox {
  readonly messages: Array<{ data: Buffer; binary: boolean }> = [];
  private _waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(
    readonly client: WsClient,
    readonly socket: WebSocket,
  ) {
    client.on('message', (data: WsClient.RawData, binary: boolean) => {
      const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.messages.push({ data: buffer, binary });
      this._waiters = this._waiters.filter((waiter) => {
        if (this.messages.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
    });
  }

  /** Resolves once `count` messages in all have arrived; fails after `timeoutMs` saying what came. */
  waitFor(count: number, timeoutMs = 5_000): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const last = this.texts()
          .slice(-3)
          .map((text) => (text.length > 40 ? `${text.slice(0, 40)}... (${text.length} chars)` : text));
        reject(new Error(`client got ${this.messages.length} of ${count} messages; the last: ${JSON.stringify(last)}`));
      }, timeoutMs);
      this._waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  texts(): string[] {
    return this.messages.map((m) => m.data.toString());
  }
}

/** Connects a client to a node; the server-side socket subscribes to `topics`. */
export async function client(node: Node, ...topics: string[]): Promise<Inbox> {
  const pair = await connectPair(node.wss, node.port);
  for (const topic of topics) pair.socket.subscribe(topic);
  return new Inbox(pair.client, pair.socket);
}

export async function closeNodes(nodes: Node[], inboxes: Inbox[]): Promise<void> {
  for (const inbox of inboxes) inbox.client.terminate();
  await Promise.all(nodes.map((node) => node.wss.close({ timeout: 200 })));
}

// ---------------------------------------------------------------- stamps

interface Delivery {
  topic: string;
  payload: string;
  binary: boolean;
  stamp: ClusterStamp | undefined;
}

/** A ClusterNode (what the relay is to its adapter) that records what the adapter delivers. */
class RecordingNode implements ClusterNode {
  readonly deliveries: Delivery[] = [];
  readonly topics: string[] = [];
  private _waiter: (() => void) | null = null;

  deliver(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): number {
    this.deliveries.push({ topic, payload: payload.toString(), binary, stamp });
    this._waiter?.();
    return 1;
  }

  /** Resolves once `count` deliveries in all have arrived. */
  async waitFor(count: number): Promise<void> {
    while (this.deliveries.length < count) await new Promise<void>((resolve) => (this._waiter = resolve));
  }
}

/**
 * Two adapters on one broker: a stamped publish on one reaches the other with its stamp, a plain one
 * without, in order; a message from the broker whose stamp is cut short is counted as malformed,
 * logged, and delivered to nobody. `inject` publishes raw bytes on the broker as `topic`.
 */
export async function checkStampsCarried(
  make: () => BrokerAdapter,
  inject: (adapter: BrokerAdapter, topic: string, bytes: Buffer) => Promise<void>,
): Promise<void> {
  const [sender, receiver] = [make(), make()];
  await Promise.all([sender.connect(), receiver.connect()]);
  const node = new RecordingNode();
  try {
    receiver.attach(node);
    receiver.subscribe('\u0000m\u0000room');
    await receiver.synced();
    const stamp: ClusterStamp = { seq: 41, time: 1_765_000_000_000, epoch: 'e1', from: 'ann 😀' };
    sender.publish('\u0000m\u0000room', Buffer.from('stamped'), false, stamp);
    sender.publish('\u0000m\u0000room', Buffer.from('plain'), true);
    sender.publish('\u0000m\u0000room', Buffer.from('no from'), false, { seq: 42, time: 1, epoch: 'e1' });
    await node.waitFor(3);
    assert.deepEqual(node.deliveries, [
      { topic: '\u0000m\u0000room', payload: 'stamped', binary: false, stamp },
      { topic: '\u0000m\u0000room', payload: 'plain', binary: true, stamp: undefined },
      { topic: '\u0000m\u0000room', payload: 'no from', binary: false, stamp: { seq: 42, time: 1, epoch: 'e1' } },
    ]);
    assert.throws(
      () => sender.publish('\u0000m\u0000room', Buffer.from('x'), false, { ...stamp, epoch: 'x'.repeat(300) }),
      /Stamp epoch too long/,
    );

    const whole = encodeMessage(Buffer.alloc(8), '\u0000m\u0000room', checkTopic('\u0000m\u0000room'), Buffer.alloc(0), false, stamp);
    const logged = new Promise<string>((resolve) => receiver.once('log', (_level: string, line: string) => resolve(line)));
    await inject(receiver, '\u0000m\u0000room', whole.subarray(0, whole.length - 2));
    assert.match(await logged, /not in Wavecast's wire format: the stamp's publisher id length 8 runs past the end/);
    assert.equal(receiver.stats.malformed, 1);
    sender.publish('\u0000m\u0000room', Buffer.from('after'), false, { ...stamp, seq: 43 });
    await node.waitFor(4);
    assert.equal(node.deliveries.length, 4, 'the malformed message reached nobody');
    assert.equal(node.deliveries[3]?.payload, 'after');
  } finally {
    receiver.detach(node);
    await Promise.all([sender.close(), receiver.close()]);
  }
}

// ---------------------------------------------------------------- private brokers

/**
 * A TCP port on 127.0.0.1 held for this test until release(), for what cannot listen on port 0 itself
 * (redis-server, whose port 0 means no TCP at all) or a URL that must refuse connections. The hold is a
 * connected socket whose local port it is (bound with SO_REUSEADDR, as libuv binds): nothing listens on
 * the port, so a connection to it is refused; listen(0) and outgoing connections never get it, so no
 * other test can take it; and a broker told to listen on it can (redis-server and nats-server bind with
 * SO_REUSEADDR too, which Linux allows beside a socket that is not listening). Unref'd: a hold that is
 * never released does not keep the process alive.
 */
export class PortHold {
  private constructor(
    readonly port: number,
    private readonly _server: Server,
    private readonly _sockets: Socket[],
  ) {}

  static async take(): Promise<PortHold> {
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // localAddress makes Node bind the socket before connecting, and so with SO_REUSEADDR.
    const socket = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const peer = await accepted;
    for (const handle of [server, socket, peer]) handle.unref();
    if (socket.localPort === undefined) throw new Error('the holding socket has no local port');
    return new PortHold(socket.localPort, server, [socket, peer]);
  }

  /** Lets the port go. */
  release(): void {
    for (const socket of this._sockets) socket.destroy();
    this._server.close();
  }
}

/** A broker process of this test's own, which it may kill and start again on the same port. */
export class PrivateBroker {
  private _process: ChildProcess | null = null;
  private _output = '';

  private constructor(
    readonly kind: 'redis' | 'nats',
    /** The broker's port and its monitoring port, held for it from start to dispose() (also while it is killed). */
    private readonly _holds: PortHold[],
    /** A folder of its own where it keeps its data across restarts (Redis: an append-only file; NATS: JetStream). */
    readonly dataDir: string | null = null,
  ) {}

  get port(): number {
    return this._holds[0]!.port;
  }

  get monitorPort(): number | null {
    return this._holds[1]?.port ?? null;
  }

  /** With `persistent`, Redis keeps its data in an append-only file (fsync always) across restarts. */
  static async redis(persistent = false): Promise<PrivateBroker> {
    const dir = persistent ? mkdtempSync(join(tmpdir(), 'wavecast-redis-')) : null;
    return PrivateBroker._started(new PrivateBroker('redis', [await PortHold.take()], dir));
  }

  /**
   * With `monitor`, also serves NATS's HTTP monitoring (for /connz subscription counts); with
   * `jetstream`, runs JetStream with its store in a folder of its own (kept across restarts).
   */
  static async nats(monitor = false, jetstream = false): Promise<PrivateBroker> {
    const dir = jetstream ? mkdtempSync(join(tmpdir(), 'wavecast-nats-')) : null;
    const holds = [await PortHold.take(), ...(monitor ? [await PortHold.take()] : [])];
    return PrivateBroker._started(new PrivateBroker('nats', holds, dir));
  }

  private static async _started(broker: PrivateBroker): Promise<PrivateBroker> {
    try {
      await broker.start();
      return broker;
    } catch (error) {
      await broker.dispose();
      throw error;
    }
  }

  /** Kills the broker and starts it again with its data gone (a broker that lost its disk). */
  async restartEmpty(): Promise<void> {
    await this.kill();
    if (this.dataDir !== null) {
      rmSync(this.dataDir, { recursive: true, force: true });
      mkdirSync(this.dataDir);
    }
    await this.start();
  }

  /** Kills the broker, deletes its data folder and lets its ports go. */
  async dispose(): Promise<void> {
    await this.kill();
    if (this.dataDir !== null) rmSync(this.dataDir, { recursive: true, force: true });
    for (const hold of this._holds) hold.release();
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const dir = this.dataDir;
    const args =
      this.kind === 'redis'
        ? [
            '--port',
            String(this.port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--daemonize',
            'no',
            ...(dir === null ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]),
          ]
        : [
            '-a',
            '127.0.0.1',
            '-p',
            String(this.port),
            ...(this.monitorPort !== null ? ['-m', String(this.monitorPort)] : []),
            ...(dir === null ? [] : ['-js', '-sd', dir]),
          ];
    // Where Debian puts them (scripts/ensure-env.sh installs them), else whatever PATH finds.
    const installed = this.kind === 'redis' ? '/usr/bin/redis-server' : '/usr/sbin/nats-server';
    const command = existsSync(installed) ? installed : installed.slice(installed.lastIndexOf('/') + 1);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this._process = child;
    this._output = '';
    child.stdout?.on('data', (chunk: Buffer) => (this._output = (this._output + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => (this._output = (this._output + chunk.toString()).slice(-4000)));
    // Ready once it says so (both print it after binding every port they were given, monitoring included).
    const ready = this.kind === 'redis' ? /Ready to accept connections/ : /Server is ready/;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (ready.test(this._output)) done(null);
      };
      const done = (error: Error | null): void => {
        child.stdout?.off('data', check);
        child.stderr?.off('data', check);
        child.off('error', failed);
        child.off('exit', exited);
        if (error === null) resolve();
        else reject(error);
      };
      const failed = (error: Error): void => done(new Error(`${command} did not start: ${error.message}`));
      const exited = (code: number | null): void => done(new Error(`${command} exited (${code}) at start: ${this._output}`));
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('error', failed);
      child.once('exit', exited);
    });
  }

  /** Kills the broker (SIGKILL: no goodbye to clients) and waits until it has exited. */
  async kill(): Promise<void> {
    const child = this._process;
    this._process = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Sends a signal to the broker (SIGSTOP makes a broker that hangs without closing its connections). */
  signal(signal: NodeJS.Signals): void {
    this._process?.kill(signal);
  }

  /** NATS only: the subscriptions of the client connection named `name` (from /connz). */
  async natsSubscriptions(name: string): Promise<string[]> {
    if (this.monitorPort === null) throw new Error('no monitoring port');
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?subs=1`);
    const body = (await response.json()) as { connections?: Array<{ name?: string; subscriptions_list?: string[] }> };
    const connection = (body.connections ?? []).find((c) => c.name === name);
    return connection?.subscriptions_list ?? [];
  }
}
