// The load generator: one child process (or a few) that drives a server the same way whatever the server
// is. It is built not to be the bottleneck: frames are built and masked once before the run and written
// as slices of one buffer; reads land in one shared buffer (`net`'s `onread`, no Readable, no copies) and
// only frame headers are parsed, payloads are skipped by length; several replies that arrive in one read
// are answered with one write. It reports its own CPU use and event-loop utilization so the runner can
// flag a run where it, not the server, was the limit.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import type { GenConfig, GenResult, GenToRunner, RunnerToGen } from './lib/types.js';
import { binaryPayload, jsonPayload, textPayload } from './lib/payloads.js';
import { acceptKey, buildFrame, headerLength, OP_BINARY, OP_CLOSE, OP_TEXT, payloadLength } from './lib/wire.js';

const KEY = 'd2F2ZWNhc3QtYmVuY2gtMQ=='; // base64 of 16 bytes; a fixed key costs the server the same
const ACCEPT = acceptKey(KEY).toLowerCase();
const MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024); // shared by every socket: reads are handled synchronously
const MAX_BATCH_BYTES = 1024 * 1024;

function send(message: GenToRunner): void {
  process.send?.(message);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- counters (module-level: the hot path touches nothing else) ----
let running = false;
let messages = 0;
let bytes = 0;
let sent = 0;
let handshakes = 0;
let lost = 0;

class Conn {
  readonly socket: net.Socket;
  open = false;
  closed = false;
  head: Buffer | null = null;
  headResolve: (() => void) | null = null;
  headReject: ((err: Error) => void) | null = null;
  windowBits = 15;
  deflateAccepted = false;
  // frame parser state
  skip = 0;
  readonly hdr = Buffer.allocUnsafe(14);
  hdrLen = 0;
  b0 = 0;
  len = 0;
  // traffic state
  toSend = 0;
  credit = 0;
  received = 0;
  capture: Buffer[] | null = null;
  onCapture: ((payload: Buffer, rsv1: boolean) => void) | null = null;

  constructor(
    readonly index: number,
    cfg: GenConfig,
    localAddress: string | undefined,
  ) {
    this.socket = net.connect({
      host: cfg.host,
      port: cfg.port,
      ...(localAddress ? { localAddress } : {}),
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
          this.onRead(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
  }

  onRead(buf: Buffer, n: number): void {
    if (this.open) {
      feed(this, buf, 0, n);
      if (this.toSend > 0) flushSends(this);
    } else {
      this.onHandshakeBytes(buf, n);
    }
  }

  onHandshakeBytes(buf: Buffer, n: number): void {
    const bytesIn = Buffer.from(buf.subarray(0, n)); // copied: the read buffer is reused
    const all = this.head ? Buffer.concat([this.head, bytesIn]) : bytesIn;
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) {
      this.head = all;
      return;
    }
    this.head = null;
    const head = all.toString('latin1', 0, end).toLowerCase();
    const fail = (why: string) => {
      this.headReject?.(new Error(`connection ${this.index}: ${why}: ${JSON.stringify(head.slice(0, 200))}`));
      this.socket.destroy();
    };
    if (!head.startsWith('http/1.1 101')) return fail('handshake refused');
    if (!head.includes(`\r\nsec-websocket-accept: ${ACCEPT}`)) return fail('bad Sec-WebSocket-Accept');
    const ext = /\r\nsec-websocket-extensions:([^\r\n]*)/.exec(head);
    if (ext && ext[1]!.includes('permessage-deflate')) {
      this.deflateAccepted = true;
      const bits = /client_max_window_bits=(\d+)/.exec(ext[1]!);
      if (bits) this.windowBits = Math.max(9, Number(bits[1]));
    }
    this.open = true;
    this.headResolve?.();
    this.headResolve = this.headReject = null;
    if (all.length > end + 4) {
      const rest = all.subarray(end + 4);
      feed(this, rest, 0, rest.length);
    }
  }
}

/** Parses frame headers in `buf[i..end)`, skipping payloads; calls `frameDone` for each complete frame. */
function feed(c: Conn, buf: Buffer, i: number, end: number): void {
  while (i < end) {
    if (c.skip > 0) {
      const n = Math.min(c.skip, end - i);
      if (c.capture) c.capture.push(Buffer.from(buf.subarray(i, i + n)));
      c.skip -= n;
      i += n;
      if (c.skip === 0) frameDone(c);
      continue;
    }
    if (c.hdrLen === 0 && end - i >= 14) {
      // Fast path: the whole header is in this read.
      c.b0 = buf[i]!;
      c.len = payloadLength(buf, i);
      i += headerLength(buf[i + 1]!);
    } else {
      // Slow path: the header is split across reads; gather it byte by byte.
      while (i < end && (c.hdrLen < 2 || c.hdrLen < headerLength(c.hdr[1]!))) c.hdr[c.hdrLen++] = buf[i++]!;
      if (c.hdrLen < 2 || c.hdrLen < headerLength(c.hdr[1]!)) return;
      c.b0 = c.hdr[0]!;
      c.len = payloadLength(c.hdr, 0);
      c.hdrLen = 0;
    }
    c.skip = c.len;
    if (c.len === 0) frameDone(c);
  }
}

function frameDone(c: Conn): void {
  const opcode = c.b0 & 0x0f;
  if (opcode >= 0x8) {
    if (opcode === OP_CLOSE && !c.closed) {
      c.closed = true;
      if (running) lost++;
    }
    c.capture = null;
    return;
  }
  bytes += c.len;
  if (c.capture) {
    const payload = Buffer.concat(c.capture);
    c.capture = null;
    c.onCapture?.(payload, (c.b0 & 0x40) !== 0);
  }
  if ((c.b0 & 0x80) === 0) return; // a fragment: the message is complete on FIN
  messages++;
  c.received++;
  onMessage(c);
}

// ---- what a complete message triggers, per scenario kind ----
let onMessage: (c: Conn) => void = () => {};
let frame: Buffer = Buffer.alloc(0);
let batchCount = 1;
/** slices[k] = k frames back to back, views of one buffer built once. */
let slices: Buffer[] = [];

function prepareFrames(payload: Buffer, cfg: GenConfig, windowBits: number): void {
  if (cfg.deflate) {
    const compressed = zlib.deflateRawSync(payload, { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    frame = buildFrame(OP_TEXT, compressed.subarray(0, compressed.length - 4), MASK, true);
  } else {
    frame = buildFrame(cfg.binary ? OP_BINARY : OP_TEXT, payload, MASK);
  }
  batchCount = Math.max(1, Math.min(64, Math.floor(MAX_BATCH_BYTES / frame.length)));
  const batch = Buffer.concat(Array.from({ length: batchCount }, () => frame));
  slices = Array.from({ length: batchCount + 1 }, (_, k) => batch.subarray(0, k * frame.length));
}

function flushSends(c: Conn): void {
  let k = c.toSend;
  c.toSend = 0;
  if (!running || c.closed) return;
  sent += k;
  while (k > 0) {
    const m = Math.min(k, batchCount);
    c.socket.write(slices[m]!);
    k -= m;
  }
}

function openConn(cfg: GenConfig, index: number): Promise<Conn> {
  const local = cfg.localAddresses.length ? cfg.localAddresses[index % cfg.localAddresses.length] : undefined;
  const c = new Conn(index, cfg, local);
  const done = new Promise<Conn>((resolve, reject) => {
    c.headResolve = () => resolve(c);
    c.headReject = reject;
  });
  c.socket.on('connect', () => {
    c.socket.write(
      `GET / HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        (cfg.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
        '\r\n',
    );
  });
  c.socket.on('error', (err) => {
    if (!c.open) c.headReject?.(new Error(`connection ${index}${local ? ` from ${local}` : ''}: ${err.message}`));
  });
  c.socket.on('close', () => {
    if (!c.open) c.headReject?.(new Error(`connection ${index}: closed during the handshake`));
    else if (!c.closed) {
      c.closed = true;
      if (running) lost++;
    }
  });
  return done;
}

async function connectAll(cfg: GenConfig): Promise<Conn[]> {
  const conns: Conn[] = new Array<Conn>(cfg.connections);
  let next = 0;
  const worker = async () => {
    while (next < cfg.connections) {
      const i = next++;
      conns[i] = await openConn(cfg, i);
    }
  };
  const workers = Array.from({ length: Math.min(cfg.concurrency, cfg.connections) }, worker);
  await withTimeout(Promise.all(workers), 30_000 + cfg.connections * 5, `opening ${cfg.connections} connections`);
  return conns;
}

/** Sends one message on the first connection and checks the first message it gets back. */
async function verify(cfg: GenConfig, conns: Conn[], payload: Buffer, waitAll: boolean): Promise<string> {
  const c = conns[0]!;
  const got = new Promise<{ payload: Buffer; rsv1: boolean }>((resolve) => {
    c.capture = [];
    c.onCapture = (p, rsv1) => {
      c.onCapture = null;
      resolve({ payload: p, rsv1 });
    };
  });
  running = true;
  c.toSend = 1;
  flushSends(c);
  running = false;
  const reply = await withTimeout(got, 10_000, 'the reply to the first message');
  let data = reply.payload;
  let how = 'echoed payload matches';
  if (reply.rsv1) {
    data = zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    how = 'compressed reply inflates to the payload';
  } else if (cfg.deflate) {
    how = 'reply (sent uncompressed) matches';
  }
  if (!data.equals(payload)) {
    throw new Error(`the server replied with ${data.length} bytes that differ from the payload`);
  }
  if (waitAll) {
    // Every connection of this process must see the broadcast (subscriptions are in place).
    const deadline = Date.now() + 10_000;
    while (conns.some((x) => x.received === 0)) {
      if (Date.now() > deadline) throw new Error('not every connection received the first broadcast');
      await sleep(5);
    }
  }
  return how;
}

// ---- handshake churn ----
async function handshakeLoop(cfg: GenConfig, stop: () => boolean): Promise<void> {
  const request =
    `GET / HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const close = buildFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]), MASK);
  let seq = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const local = cfg.localAddresses.length ? cfg.localAddresses[seq++ % cfg.localAddresses.length] : undefined;
      const socket = net.connect({ host: cfg.host, port: cfg.port, ...(local ? { localAddress: local } : {}) });
      socket.setNoDelay(true);
      let head = '';
      let upgraded = false;
      const timer = setTimeout(() => socket.destroy(), 5000);
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) return;
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!head.startsWith('HTTP/1.1 101') || !head.toLowerCase().includes(ACCEPT)) {
          lost++;
          socket.destroy();
          return;
        }
        upgraded = true;
        handshakes++;
        // Close cleanly: the server answers the close frame and ends the TCP connection first, so the
        // client's ports do not pile up in TIME_WAIT.
        socket.write(close);
      });
      socket.on('error', () => {
        if (!upgraded) lost++;
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const worker = async () => {
    while (!stop()) await one();
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
}

/** The server cannot run this scenario (the runner reports it as skipped, not failed). */
class Unsupported extends Error {}

// ---- the run ----
let goResolve: (() => void) | null = null;
const go = new Promise<void>((resolve) => (goResolve = resolve));

async function measureWindow(
  cfg: GenConfig,
): Promise<{ elapsedMs: number; cpu: number; cpuSystem: number; elu: number; at: [number, number] } & Counts> {
  await sleep(cfg.warmupMs);
  const c0 = counts();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  send({ type: 'measure-start', proc: cfg.proc });
  await sleep(cfg.measureMs);
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const c1 = counts();
  send({ type: 'measure-end', proc: cfg.proc });
  const elapsedMs = t1 - t0;
  return {
    elapsedMs,
    cpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
    cpuSystem: cpu.system / 1000 / elapsedMs,
    elu: elu.utilization,
    at: [t0, t1],
    messages: c1.messages - c0.messages,
    bytes: c1.bytes - c0.bytes,
    sent: c1.sent - c0.sent,
    handshakes: c1.handshakes - c0.handshakes,
  };
}

interface Counts {
  messages: number;
  bytes: number;
  sent: number;
  handshakes: number;
}
function counts(): Counts {
  return { messages, bytes, sent, handshakes };
}

async function run(cfg: GenConfig): Promise<GenResult> {
  const payload = cfg.deflate
    ? jsonPayload(cfg.payloadSize)
    : cfg.binary
      ? binaryPayload(cfg.payloadSize)
      : textPayload(cfg.payloadSize);
  const base = { proc: cfg.proc, latenciesMs: [] as number[], lost: 0 };

  if (cfg.kind === 'handshake') {
    const verified = 'every reply checked: 101 and Sec-WebSocket-Accept';
    send({ type: 'connected', proc: cfg.proc, connections: 0, verified });
    await go;
    let stopped = false;
    const loop = handshakeLoop(cfg, () => stopped);
    const m = await measureWindow(cfg);
    stopped = true;
    await withTimeout(loop, 10_000, 'the last handshakes to finish');
    return { ...base, ...m, connections: cfg.concurrency, lost, verified };
  }

  const conns = await connectAll(cfg);
  if (cfg.deflate && !conns[0]!.deflateAccepted) {
    throw new Unsupported('the server did not negotiate permessage-deflate');
  }
  prepareFrames(payload, cfg, conns[0]!.windowBits);

  let verified = `${conns.length} handshakes checked`;
  if (cfg.kind !== 'idle') {
    const fanout = cfg.kind === 'chat' || cfg.kind === 'fanout';
    // With several generator processes only the first sends the check message in fan-out scenarios.
    if (!fanout || cfg.proc === 0) verified += '; ' + (await verify(cfg, conns, payload, fanout));
    for (const c of conns) c.credit = 0;
  }
  send({ type: 'connected', proc: cfg.proc, connections: conns.length, verified });
  await go;

  if (cfg.kind === 'idle') {
    const none = { elapsedMs: 0, messages: 0, bytes: 0, sent: 0, handshakes: 0, cpu: 0, cpuSystem: 0, elu: 0 };
    return { ...base, ...none, connections: conns.length, verified };
  }

  const latencies: { ms: number; at: number }[] = [];
  if (cfg.kind === 'echo') {
    onMessage = (c) => {
      c.toSend++;
    };
  } else if (cfg.kind === 'chat') {
    // Each client sends one message for every `totalConnections` it receives: as many messages stay in
    // flight as the clients started with, whatever the server's speed.
    const n = cfg.totalConnections;
    onMessage = (c) => {
      if (++c.credit >= n) {
        c.credit -= n;
        c.toSend++;
      }
    };
  } else {
    // Fan-out: the first connection publishes; the next publish goes out once every connection has it.
    const publisher = conns[0]!;
    const n = conns.length;
    let target = 0;
    let got = 0;
    let start = 0;
    const publish = () => {
      got = 0;
      target = n;
      start = performance.now();
      publisher.toSend = 1;
      flushSends(publisher);
    };
    onMessage = () => {
      if (++got === target) {
        const now = performance.now();
        latencies.push({ ms: now - start, at: now });
        if (running) publish();
      }
    };
    running = true;
    const m = measureWindowAndStop(cfg);
    publish();
    const r = await m;
    const inWindow = latencies.filter((l) => l.at >= r.at[0] && l.at <= r.at[1]).map((l) => l.ms);
    return { ...base, ...r, latenciesMs: inWindow, connections: conns.length, lost, verified };
  }

  running = true;
  for (const c of conns) {
    c.toSend = cfg.inflight;
    flushSends(c);
  }
  const r = await measureWindowAndStop(cfg);
  return { ...base, ...r, connections: conns.length, lost, verified };
}

async function measureWindowAndStop(cfg: GenConfig) {
  const m = await measureWindow(cfg);
  running = false;
  return m;
}

process.on('message', (msg: RunnerToGen) => {
  if (msg.cmd === 'run') {
    const cfg = msg.config;
    run(cfg).then(
      (result) => send({ type: 'result', result }),
      (err: unknown) => {
        if (err instanceof Unsupported) send({ type: 'unsupported', proc: cfg.proc, reason: err.message });
        else send({ type: 'error', proc: cfg.proc, message: err instanceof Error ? err.message : String(err) });
      },
    );
  } else if (msg.cmd === 'go') {
    goResolve?.();
  } else if (msg.cmd === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
