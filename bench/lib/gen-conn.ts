// The load generator's client connections (used by loadgen.ts and relay-gen.ts): one socket each, read
// into one shared buffer (`net`'s `onread`: no Readable, no copies), only frame headers parsed and
// payloads skipped by length, except where a scenario must read them (`keep`: small payloads are gathered
// into a per-connection scratch buffer). Frames to send are built and masked once and written as slices
// of one buffer. The counters live in one object that the hot path touches and nothing else.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import type { GenConfig } from './types.js';
import { acceptKey, buildFrame, headerLength, OP_BINARY, OP_CLOSE, OP_PONG, OP_TEXT, payloadLength } from './wire.js';

export const KEY = 'd2F2ZWNhc3QtYmVuY2gtMQ=='; // base64 of 16 bytes; a fixed key costs the server the same
export const ACCEPT = acceptKey(KEY).toLowerCase();
export const MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024); // shared by every socket: reads are handled synchronously
const MAX_BATCH_BYTES = 1024 * 1024;
/** Largest payload a `keep` connection gathers (larger ones are counted, not read). */
export const SCRATCH = 1024;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The generator's counters and hooks. */
export const gen = {
  /** Traffic flows (sends are allowed, a close counts as a lost connection). */
  running: false,
  /** Inside the measured window (latency samples are kept). */
  measuring: false,
  messages: 0,
  bytes: 0,
  sent: 0,
  handshakes: 0,
  lost: 0,
  pongs: 0,
  /** A complete data message arrived (payload skipped). */
  onMessage: (_c: Conn): void => {},
  /** A complete data message arrived on a `keep` connection: its payload is `scratch[0..len)` (len ≤ SCRATCH). */
  onData: (_c: Conn, _payload: Buffer, _len: number): void => {},
  /** Writes what a connection owes (`toSend`) after a read: the prebuilt frames, or the relay's own. */
  flush: (c: Conn): void => flushSends(c),
};

export class Conn {
  readonly socket: net.Socket;
  open = false;
  closed = false;
  head: Buffer | null = null;
  headResolve: (() => void) | null = null;
  headReject: ((err: Error) => void) | null = null;
  windowBits = 15;
  deflateAccepted = false;
  /** The subprotocol the server chose (lower case), or ''. */
  protocol = '';
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
  /** Steady fan-out: `received` when the run started (the k-th message after it is the k-th publish). */
  base = 0;
  capture: Buffer[] | null = null;
  onCapture: ((payload: Buffer, rsv1: boolean) => void) | null = null;
  /** Gather small payloads into `scratch` and hand them to `gen.onData`. */
  keep = false;
  scratch: Buffer | null = null;
  /** Payload bytes of the current frame seen so far (all of them are in `scratch` while ≤ its size). */
  kept = 0;
  /** Relay: the room this client is in, whether it sends, and what it has in flight. */
  room = 0;
  sender = false;
  inflight = 0;

  constructor(
    readonly index: number,
    cfg: GenConfig,
    localAddress: string | undefined,
  ) {
    this.socket = net.connect({
      host: cfg.host,
      port: cfg.port,
      ...(localAddress ? { localAddress } : {}),
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
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
      if (this.toSend > 0) gen.flush(this);
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
    this.protocol = /\r\nsec-websocket-protocol:[ \t]*([^\r\n]*)/.exec(head)?.[1]?.trim() ?? '';
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
      if (c.keep) {
        if (c.kept + n <= SCRATCH) buf.copy(c.scratch!, c.kept, i, i + n);
        c.kept += n;
      } else if (c.capture) {
        c.capture.push(Buffer.from(buf.subarray(i, i + n)));
      }
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
    c.kept = 0;
    if (c.len === 0) frameDone(c);
  }
}

function frameDone(c: Conn): void {
  frame(c);
  if (watcher !== null) watcher();
}

function frame(c: Conn): void {
  const opcode = c.b0 & 0x0f;
  if (opcode >= 0x8) {
    if (opcode === OP_CLOSE && !c.closed) {
      c.closed = true;
      if (gen.running) gen.lost++;
    } else if (opcode === OP_PONG) {
      gen.pongs++;
    }
    c.capture = null;
    return;
  }
  gen.bytes += c.len;
  if (c.capture) {
    const payload = Buffer.concat(c.capture);
    c.capture = null;
    c.onCapture?.(payload, (c.b0 & 0x40) !== 0);
  }
  if ((c.b0 & 0x80) === 0) return; // a fragment: the message is complete on FIN
  if (c.keep) {
    if (c.len <= SCRATCH) gen.onData(c, c.scratch!, c.len);
    return;
  }
  gen.messages++;
  c.received++;
  gen.onMessage(c);
}

// ---- what the generator sends: one frame, prebuilt, in batches ----
let batchCount = 1;
/** slices[k] = k frames back to back, views of one buffer built once. */
let slices: Buffer[] = [];

/** Builds the frame every connection sends (masked once), and the batches of it. */
export function prepareFrames(payload: Buffer, cfg: GenConfig, windowBits: number): void {
  let frame: Buffer;
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

/** Writes the `toSend` frames a connection owes, in as few writes as the batches allow. */
export function flushSends(c: Conn): void {
  let k = c.toSend;
  c.toSend = 0;
  if (!gen.running || c.closed) return;
  gen.sent += k;
  while (k > 0) {
    const m = Math.min(k, batchCount);
    c.socket.write(slices[m]!);
    k -= m;
  }
}

/** What the client asks for besides the plain upgrade: a path, a subprotocol; and whether it reads payloads. */
export interface Upgrade {
  path: string;
  protocol?: string;
  /** Gather payloads for `gen.onData` from the first frame on (the server may speak first). */
  keep?: boolean;
}

export function openConn(cfg: GenConfig, index: number, upgrade: Upgrade = { path: '/' }): Promise<Conn> {
  const local = cfg.localAddresses.length ? cfg.localAddresses[index % cfg.localAddresses.length] : undefined;
  const c = new Conn(index, cfg, local);
  if (upgrade.keep) {
    c.keep = true;
    c.scratch = Buffer.allocUnsafe(SCRATCH);
  }
  const done = new Promise<Conn>((resolve, reject) => {
    c.headResolve = () => resolve(c);
    c.headReject = reject;
  });
  c.socket.on('connect', () => {
    c.socket.write(
      `GET ${upgrade.path} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        (upgrade.protocol ? `Sec-WebSocket-Protocol: ${upgrade.protocol}\r\n` : '') +
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
      if (gen.running) gen.lost++;
    }
  });
  return done;
}

/** Opens `cfg.connections` connections, `cfg.concurrency` at a time. */
export async function connectAll(cfg: GenConfig, upgrade?: (index: number) => Upgrade): Promise<Conn[]> {
  const conns: Conn[] = new Array<Conn>(cfg.connections);
  let next = 0;
  const worker = async () => {
    while (next < cfg.connections) {
      const i = next++;
      conns[i] = await openConn(cfg, i, upgrade?.(i));
    }
  };
  const workers = Array.from({ length: Math.min(cfg.concurrency, cfg.connections) }, worker);
  await withTimeout(Promise.all(workers), 30_000 + cfg.connections * 5, `opening ${cfg.connections} connections`);
  return conns;
}

/** Called after every complete frame while a setup step waits (see `until`). */
let watcher: (() => void) | null = null;

/** Resolves once `done()` is true, checked after every complete frame (no polling), or rejects after `ms`. */
export function until(done: () => boolean, ms: number, what: string): Promise<void> {
  if (done()) return Promise.resolve();
  const waiting = new Promise<void>((resolve) => {
    watcher = () => {
      if (done()) {
        watcher = null;
        resolve();
      }
    };
  });
  return withTimeout(waiting, ms, what).finally(() => (watcher = null));
}

/** A masked ping with an empty payload. */
export const PING = Buffer.from([0x89, 0x80, MASK[0]!, MASK[1]!, MASK[2]!, MASK[3]!]);

/**
 * Open-loop pacing: every `intervalMs`, `act(k)` with the k whole events owed at `perSecond` since the
 * start (what is owed follows the clock, whatever the server does). Returns the function that stops it.
 */
export function paced(perSecond: number, act: (k: number) => void, intervalMs = 5): () => void {
  let owed = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    owed += (perSecond * (now - last)) / 1000;
    last = now;
    const k = Math.floor(owed);
    if (k === 0) return;
    owed -= k;
    act(k);
  }, intervalMs);
  return () => clearInterval(timer);
}
