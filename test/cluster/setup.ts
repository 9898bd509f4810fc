// Shared set-up for the cluster tests: WebSocketServer nodes with an adapter each, `ws` clients that
// record what they receive, unique topic names per run (the Redis and NATS servers on 6379 and 4222 are
// shared with other tests), and private brokers on free ports for the tests that kill one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as netConnect } from 'node:net';
import type WsClient from 'ws';
import type { ClusterAdapter } from '../../src/server/cluster-hook.js';
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

// ---------------------------------------------------------------- private brokers

/**
 * A TCP port nothing listens on right now, for what cannot listen on port 0 itself (redis-server, whose
 * port 0 means no TCP at all) or a URL that must refuse connections. Another process may take it before
 * it is used: a broker started on it is started again on another port when it was taken (startOnFreePort).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls (every 50 ms, at most `timeoutMs`) until a broker accepts connections on `port`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A broker process of this test's own, which it may kill and start again on the same port. */
export class PrivateBroker {
  private _process: ChildProcess | null = null;
  private _output = '';

  private constructor(
    readonly kind: 'redis' | 'nats',
    readonly port: number,
    readonly monitorPort: number | null,
    /** A folder of its own where it keeps its data across restarts (Redis: an append-only file; NATS: JetStream). */
    readonly dataDir: string | null = null,
  ) {}

  /** With `persistent`, Redis keeps its data in an append-only file (fsync always) across restarts. */
  static async redis(persistent = false): Promise<PrivateBroker> {
    const dir = persistent ? mkdtempSync(join(tmpdir(), 'wavecast-redis-')) : null;
    return startOnFreePort(async () => new PrivateBroker('redis', await freePort(), null, dir));
  }

  /**
   * With `monitor`, also serves NATS's HTTP monitoring (for /connz subscription counts); with
   * `jetstream`, runs JetStream with its store in a folder of its own (kept across restarts).
   */
  static async nats(monitor = false, jetstream = false): Promise<PrivateBroker> {
    const dir = jetstream ? mkdtempSync(join(tmpdir(), 'wavecast-nats-')) : null;
    return startOnFreePort(async () => new PrivateBroker('nats', await freePort(), monitor ? await freePort() : null, dir));
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

  /** Kills the broker and deletes its data folder. */
  async dispose(): Promise<void> {
    await this.kill();
    if (this.dataDir !== null) rmSync(this.dataDir, { recursive: true, force: true });
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
    child.stdout?.on('data', (chunk: Buffer) => (this._output = (this._output + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => (this._output = (this._output + chunk.toString()).slice(-4000)));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`${command} did not start: ${error.message}`)));
      child.once('exit', (code) => reject(new Error(`${command} exited (${code}) at start: ${this._output}`)));
    });
    failed.catch(() => undefined);
    await Promise.race([waitForPort(this.port), failed]);
    if (this.monitorPort !== null) await Promise.race([waitForPort(this.monitorPort), failed]);
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

/** Starts a broker on a port freePort() gave; when something took the port meanwhile, on another one. */
async function startOnFreePort(make: () => Promise<PrivateBroker>): Promise<PrivateBroker> {
  for (let attempt = 1; ; attempt++) {
    const broker = await make();
    try {
      await broker.start();
      return broker;
    } catch (error) {
      if (attempt >= 5 || !/in use|address already/i.test(String((error as Error).message))) throw error;
    }
  }
}
