// What the relay fuzz targets share: an in-process relay (`wavecast serve` without the CLI) started once
// per run and stopped by the target's dispose(), its error log kept (an error logged while answering a
// request is a failure), raw HTTP exchanges over TCP with a strict reader of the answers, and a
// wavecast.v1 connection made by hand (raw frames, so that anything can be sent) with a ping barrier.
import type { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { createLogger } from '../src/relay/log.js';
import { Relay, type RelayOptions } from '../src/relay/relay.js';
import { Parser } from '../src/protocol/parser.js';
import { encodeSpec } from './wire.js';

export interface RelayUnderTest {
  relay: Relay;
  port: number;
  maxPayload: number;
  historyLimit: number;
  /** Lines the relay logged at level error (each is a failure of the target). */
  errors: string[];
}

export interface RelaySettings {
  maxPayload: number;
  historyLimit: number;
}

/**
 * Starts a relay on 127.0.0.1, port 0, rate limits off, history `historyLimit` per channel (4 MiB of it at
 * most), no age limit; `overrides` replace any of these options. (The relay soak and tests use it too.)
 */
export async function startRelay(settings: RelaySettings, overrides: Partial<RelayOptions> = {}): Promise<RelayUnderTest> {
  const errors: string[] = [];
  const relay = await Relay.start({
    port: 0,
    host: '127.0.0.1',
    maxPayload: settings.maxPayload,
    origins: [],
    rateLimit: { rate: 0, burst: 1 },
    httpRateLimit: { rate: 0, burst: 1 },
    maxBackpressure: 1 << 22,
    backpressurePolicy: 'drop',
    maxConnections: 0,
    // Every client of the fuzzers and the relay soak comes from 127.0.0.1.
    maxConnectionsPerIp: 0,
    heartbeat: 0,
    metricsChannels: 5,
    history: { limit: settings.historyLimit, ttl: 0, maxBytes: 1 << 22 },
    log: createLogger({ level: 'error', write: (line) => errors.push(line) }),
    ...overrides,
  });
  return { relay, port: relay.address().port, maxPayload: settings.maxPayload, historyLimit: settings.historyLimit, errors };
}

/** A relay started on first use and shared by the inputs of one target; `stop()` ends it. */
export function sharedRelay(settings: RelaySettings): { get(): Promise<RelayUnderTest>; stop(): Promise<void> } {
  let started: Promise<RelayUnderTest> | null = null;
  return {
    get: () => (started ??= startRelay(settings)),
    async stop() {
      const running = started;
      started = null;
      if (running) await (await running).relay.close(1000);
    },
  };
}

export function fail(message: string): never {
  throw new Error(message);
}

/** Fails if the relay logged an error (a request it could not answer, a failed publish...). */
export function checkRelayLog(r: RelayUnderTest): void {
  if (r.errors.length > 0) {
    const lines = r.errors.splice(0);
    fail(`the relay logged errors: ${lines.join(' | ').slice(0, 1000)}`);
  }
}

/**
 * Once every client has gone: waits for the relay to see each connection close, then fails if it still
 * holds a wavecast.v1 session or channel membership, or a topic (what would leak, connection after
 * connection). Looks at the relay's private fields: this is a leak check, not an API.
 */
export async function checkRelayForgets(r: RelayUnderTest, keep = 0): Promise<void> {
  const inner = r.relay as unknown as {
    _wss: { clients: Set<EventEmitter & { readyState: number }>; topics: string[] };
    _v1: { _sessions: Map<unknown, unknown>; _channels: Map<string, unknown> };
  };
  const open = [...inner._wss.clients].filter((ws) => ws.readyState !== 3);
  if (open.length > keep) {
    // Connections the test closed are still closing on the relay's side: wait for their 'close'.
    await within(
      Promise.all(open.slice(keep).map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
      10_000,
      'close of every connection on the relay side',
    );
  }
  const v1 = inner._v1;
  if (inner._wss.clients.size > keep || v1._sessions.size > keep)
    fail(`the relay still holds ${inner._wss.clients.size} clients, ${v1._sessions.size} v1 sessions after the clients left`);
  if (keep === 0 && (v1._channels.size > 0 || inner._wss.topics.length > 0))
    fail(`the relay still has members of ${[...v1._channels.keys()].join(', ')}, topics ${inner._wss.topics.length}`);
}

/** Rejects after `ms` with a message naming what did not happen (the fuzzers' guard against hangs). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hang: no ${what} within ${ms} ms`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------- raw HTTP

export interface HttpAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

export interface Exchange {
  /** The answers read, in order (interim 1xx ones included). */
  answers: HttpAnswer[];
  /** Whether the server closed the connection. */
  closed: boolean;
  /** Problems with the bytes read: a malformed status line or header, a short body... */
  malformed: string | null;
}

/**
 * Sends `chunks` (each its own write) on a new connection, optionally half-closing after them, and reads
 * until a final (non-1xx) answer is complete or the server closes. `head` says whether the request was
 * HEAD (whose answers have no body). Rejects on a hang.
 */
export async function exchange(
  port: number,
  chunks: readonly Buffer[],
  options: { halfClose: boolean; head: boolean; timeoutMs?: number },
): Promise<Exchange> {
  const socket = netConnect({ port, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => {});
  const result: Exchange = { answers: [], closed: false, malformed: null };
  let buffer = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      socket.destroy();
      resolve();
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const read = readAnswer(buffer, options.head);
        if (read === null) break;
        if (typeof read === 'string') {
          result.malformed = read;
          return finish();
        }
        result.answers.push(read.answer);
        buffer = buffer.subarray(read.used);
        if (read.answer.status >= 200 || read.answer.status === 101) return finish();
      }
    });
    socket.on('close', () => {
      result.closed = true;
      if (buffer.length > 0 && result.malformed === null) {
        result.malformed = `${buffer.length} bytes that are not a complete answer before the close: ${JSON.stringify(buffer.toString('latin1').slice(0, 200))}`;
      }
      resolve();
    });
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve));
  for (const chunk of chunks) {
    if (socket.destroyed) break;
    await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
  }
  if (options.halfClose && !socket.destroyed) socket.end();
  await within(
    done,
    options.timeoutMs ?? 10_000,
    `answer or close (sent ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))})`,
  );
  return result;
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ?([^\r\n]*)$/;

/** One answer from the front of `bytes`: null when incomplete, a string when malformed. */
function readAnswer(bytes: Buffer, head: boolean): { answer: HttpAnswer; used: number } | string | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return bytes.length > 65536 ? 'a head over 64 KiB' : null;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (status === null) return `status line ${JSON.stringify(lines[0])}`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const m = HEADER_LINE.exec(line);
    if (m === null) return `header line ${JSON.stringify(line)}`;
    const name = m[1]!.toLowerCase();
    if (headers.has(name) && name === 'content-length') return 'two Content-Length headers';
    headers.set(name, m[2]!);
  }
  const code = Number(status[1]);
  let used = end + 4;
  let body = Buffer.alloc(0);
  const noBody = head || code < 200 || code === 204 || code === 304;
  if (!noBody) {
    const length = headers.get('content-length');
    if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      // Node's own answers (a request without Host, say) are chunked.
      const chunked = readChunked(bytes, used);
      if (chunked === null || typeof chunked === 'string') return chunked;
      return { answer: { status: code, headers, body: chunked.body }, used: chunked.used };
    }
    if (length === undefined) {
      // Node's own answers to malformed requests (400, 431...) have no body and close the connection.
      if (headers.get('connection')?.toLowerCase() !== 'close') return `an answer ${code} without Content-Length on a kept connection`;
    } else {
      if (!/^\d+$/.test(length)) return `Content-Length ${JSON.stringify(length)}`;
      const n = Number(length);
      if (bytes.length < used + n) return null;
      body = Buffer.from(bytes.subarray(used, used + n));
      used += n;
    }
  }
  return { answer: { status: code, headers, body }, used };
}

/** A chunked body from `start`: null when incomplete, a string when malformed. */
function readChunked(bytes: Buffer, start: number): { body: Buffer; used: number } | string | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol === -1) return null;
    const size = bytes.subarray(at, eol).toString('latin1');
    if (!/^[0-9a-fA-F]{1,8}$/.test(size)) return `chunk size ${JSON.stringify(size)}`;
    const n = parseInt(size, 16);
    if (bytes.length < eol + 2 + n + 2) return null;
    if (n === 0) return { body: Buffer.concat(parts), used: eol + 4 };
    parts.push(bytes.subarray(eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
}

// ---------------------------------------------------------------- a wavecast.v1 connection by hand

export type Envelope = Record<string, unknown> & { type: string };

/** What came from the server on a raw v1 connection: envelopes, and how it closed. */
export class RawV1 {
  readonly envelopes: Envelope[] = [];
  /** The close code of the server's close frame, or 1006 when the TCP connection ended without one. */
  closeCode: number | null = null;
  problems: string[] = [];
  private readonly _waiters = new Set<() => void>();
  private _pingId = 0;

  private constructor(readonly socket: Socket) {
    let upgraded = false;
    let head = Buffer.alloc(0);
    const parser = new Parser(
      {
        onMessage: (data, isBinary) => {
          if (isBinary) this.problems.push('a binary message from the relay');
          try {
            this.envelopes.push(JSON.parse(Buffer.from(data as Buffer).toString()) as Envelope);
          } catch {
            this.problems.push(
              `a message that is not JSON: ${Buffer.from(data as Buffer)
                .toString()
                .slice(0, 100)}`,
            );
          }
          this._wake();
        },
        onPing: () => {},
        onPong: () => {},
        onClose: (code) => {
          this.closeCode ??= code;
          this._wake();
        },
        onError: (error) => {
          this.problems.push(`the relay's frames do not parse: ${error.message}`);
          this._wake();
        },
      },
      { expectMasked: false },
    );
    socket.on('data', (chunk: Buffer) => {
      if (!upgraded) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        upgraded = true;
        chunk = head.subarray(end + 4);
        if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101'))
          this.problems.push(`upgrade refused: ${head.subarray(0, end).toString()}`);
      }
      if (chunk.length > 0) parser.push(Buffer.from(chunk));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closeCode ??= 1006;
      this._wake();
    });
  }

  static async open(port: number, path = '/'): Promise<RawV1> {
    const socket = netConnect({ port, host: '127.0.0.1', noDelay: true });
    const key = Buffer.from('wavecast-fuzz-k!').toString('base64');
    const v1 = new RawV1(socket);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wavecast.v1\r\n\r\n`,
    );
    // The first envelope the relay sends is an answer; the handshake completes with the barrier.
    await v1.barrier();
    if (v1.problems.length > 0) fail(v1.problems.join('; '));
    return v1;
  }

  /** Sends one frame (masked, as a client must). */
  sendFrame(opcode: number, payload: Buffer, fin = true): void {
    this.socket.write(encodeSpec({ opcode, fin, rsv: 0, maskKey: [0x12, 0x34, 0x56, 0x78], payload }));
  }

  sendJson(value: unknown): void {
    this.sendFrame(1, Buffer.from(JSON.stringify(value)));
  }

  private _wake(): void {
    for (const w of [...this._waiters]) w();
  }

  /** Resolves when `test` holds (checked after each envelope and at the close); rejects on a hang. */
  until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (test()) return Promise.resolve();
    let waiter!: () => void;
    const p = new Promise<void>((resolve) => {
      waiter = () => {
        if (!test()) return;
        this._waiters.delete(waiter);
        resolve();
      };
      this._waiters.add(waiter);
    });
    return within(p, ms, what).finally(() => this._waiters.delete(waiter));
  }

  /**
   * Two ping round trips, each its own write: everything the relay does for what was sent before (its
   * microtasks included) is done and sent by the time the second pong comes. The pongs are removed from
   * `envelopes`. Resolves early if the connection closes.
   */
  async barrier(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      const id = `barrier-${++this._pingId}`;
      if (this.closeCode === null) this.sendJson({ type: 'ping', id });
      await this.until(() => this.closeCode !== null || this.envelopes.some((e) => e.type === 'pong' && e.id === id), `pong ${id}`);
      const at = this.envelopes.findIndex((e) => e.type === 'pong' && e.id === id);
      if (at !== -1) this.envelopes.splice(at, 1);
    }
  }

  /** The envelopes received since the last call. */
  take(): Envelope[] {
    return this.envelopes.splice(0);
  }

  /** Closes the TCP connection and waits for it to be gone. */
  async destroy(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.destroy();
    await closed;
  }
}
