// The relay scenarios' clients (run by loadgen.ts): `cfg.connections` clients in `cfg.rooms` rooms; the
// first client of each room sends. They speak one of three protocols, on the same sockets and frame
// parser as the rest of the generator (lib/gen-conn.ts):
//   - v1: `wavecast serve`'s wavecast.v1: connect to / with the subprotocol, send a join envelope, wait
//     for `joined`; publish envelopes out, message envelopes in;
//   - plain: `wavecast serve`'s plain clients: connect to /<room>; text out, the same text in;
//   - socketio: Socket.IO 4 over its websocket transport, spoken directly (engine.io packets: the server's
//     open packet `0{...}`, our namespace connect `40`, its `40{...}`, events `42["msg","..."]`, its pings
//     `2` answered `3`), which costs the generator less than the socket.io-client package would.
// Each message's 64 bytes of data carry its send time (µs on this process's clock) and its room, so every
// receiver takes the delivery latency on the clock that stamped it and checks the room. In every protocol
// the data ends 2 bytes before the end of the frame (`"}` and `"]`), or is the whole payload (plain).
import { performance } from 'node:perf_hooks';
import type { GenConfig, GenResult } from './lib/types.js';
import { Samples } from './lib/stats.js';
import { connectAll, gen, MASK, paced, until, type Conn, type Upgrade } from './lib/gen-conn.js';
import { frameHeaderSize, OP_TEXT, writeHeader } from './lib/wire.js';

type Measured = Omit<GenResult, 'proc' | 'latenciesMs' | 'percentiles' | 'lost' | 'verified' | 'connections'> & {
  at: [number, number];
};

export interface RelayHooks {
  connected(connections: number, verified: string): void;
  go: Promise<void>;
  measure(): Promise<Measured>;
}

const DATA = 64;
const TS_DIGITS = 15;
const ROOM_DIGITS = 4;
// The bytes that tell envelopes and packets apart.
const [ZERO, TWO, FOUR, E, J, M] = ['0', '2', '4', 'e', 'j', 'm'].map((ch) => ch.charCodeAt(0)) as [
  number,
  number,
  number,
  number,
  number,
  number,
];

const roomName = (r: number) => `room-${r}`;

function upgradeFor(cfg: GenConfig, index: number): Upgrade {
  const room = roomName(index % cfg.rooms);
  if (cfg.protocol === 'v1') return { path: '/', protocol: 'wavecast.v1', keep: true };
  if (cfg.protocol === 'plain') return { path: `/${room}`, keep: true };
  return { path: `/socket.io/?EIO=4&transport=websocket&room=${room}`, keep: true };
}

/** A masked text frame of `text`. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const out = Buffer.allocUnsafe(frameHeaderSize(payload.length, true) + payload.length);
  const n = writeHeader(out, 0, OP_TEXT, payload.length, MASK);
  for (let i = 0; i < payload.length; i++) out[n + i] = payload[i]! ^ MASK[i & 3]!;
  return out;
}

/** What a sender writes: a frame template with room for the send time, and where the time goes. */
interface Template {
  frame: Buffer;
  /** Offset of the data in the frame, and in the (masked) payload. */
  at: number;
  payloadAt: number;
}

function template(cfg: GenConfig, room: number): Template {
  const data = '0'.repeat(TS_DIGITS) + ':' + String(room).padStart(ROOM_DIGITS, '0') + ':';
  const filler = 'x'.repeat(DATA - data.length);
  const [before, after] =
    cfg.protocol === 'v1'
      ? [`{"type":"publish","channel":"${roomName(room)}","data":"`, '"}']
      : cfg.protocol === 'socketio'
        ? ['42["msg","', '"]']
        : ['', ''];
  const frame = textFrame(before + data + filler + after);
  const payloadAt = before.length;
  return { frame, at: frame.length - after.length - DATA, payloadAt };
}

/** Copies the template and writes `micros` (15 digits) into its data, masked. */
function stamp(t: Template, out: Buffer, o: number, micros: number): void {
  t.frame.copy(out, o);
  let v = micros;
  for (let k = TS_DIGITS - 1; k >= 0; k--) {
    const digit = 48 + (v % 10);
    v = Math.floor(v / 10);
    out[o + t.at + k] = digit ^ MASK[(t.payloadAt + k) & 3]!;
  }
}

function readNumber(buf: Buffer, at: number, digits: number): number {
  let v = 0;
  for (let k = 0; k < digits; k++) v = v * 10 + (buf[at + k]! - 48);
  return v;
}

const nowMicros = () => Math.round(performance.now() * 1000);

export async function runRelay(cfg: GenConfig, hooks: RelayHooks): Promise<GenResult> {
  const templates = new Map<number, Template>();
  const samples = new Samples();
  let misrouted = 0;
  let failure: string | null = null;
  const ready = new Set<Conn>();
  const PONG = textFrame('3');
  const CONNECT = textFrame('40');

  const send = (c: Conn) => {
    const t = templates.get(c.room)!;
    const k = c.toSend;
    c.toSend = 0;
    if (!gen.running || c.closed || k === 0) return;
    const len = t.frame.length;
    const out = Buffer.allocUnsafe(len * k);
    const micros = nowMicros();
    for (let i = 0; i < k; i++) stamp(t, out, i * len, micros);
    gen.sent += k;
    c.inflight += k;
    c.socket.write(out);
  };

  /** A data message: its room and send time, at `at` in the payload. */
  const delivered = (c: Conn, payload: Buffer, at: number) => {
    const room = readNumber(payload, at + TS_DIGITS + 1, ROOM_DIGITS);
    if (room !== c.room) {
      misrouted++;
      return;
    }
    gen.messages++;
    c.received++;
    if (gen.measuring) samples.push((nowMicros() - readNumber(payload, at, TS_DIGITS)) / 1000);
    if (c.sender && c.inflight > 0) {
      c.inflight--;
      // Closed loop: one more for each of its own that came back.
      if (cfg.rate === 0) c.toSend++;
    }
  };

  gen.flush = send;
  gen.onData = (c, payload, len) => {
    if (cfg.protocol === 'plain') {
      if (len === DATA) delivered(c, payload, 0);
      return;
    }
    if (cfg.protocol === 'v1') {
      // {"type":"<t>...: byte 9 tells the type apart (message, joined, error, presence, ...).
      const t = payload[9];
      if (t === M && len >= DATA + 2) delivered(c, payload, len - 2 - DATA);
      else if (t === J) ready.add(c);
      else if (t === E) failure ??= `the relay answered with an error: ${payload.toString('utf8', 0, Math.min(len, 300))}`;
      return;
    }
    // Socket.IO: engine.io packet type, then socket.io packet type.
    const p0 = payload[0];
    if (p0 === FOUR) {
      const p1 = payload[1];
      if (p1 === TWO) delivered(c, payload, len - 2 - DATA);
      else if (p1 === ZERO) ready.add(c);
      else failure ??= `Socket.IO answered: ${payload.toString('utf8', 0, Math.min(len, 300))}`;
    } else if (p0 === TWO && len === 1) {
      c.socket.write(PONG);
    } else if (p0 === ZERO) {
      c.socket.write(CONNECT); // the open packet: connect to the main namespace
    }
  };

  const conns = await connectAll(cfg, (i) => upgradeFor(cfg, i));
  for (const c of conns) {
    c.room = c.index % cfg.rooms;
    c.sender = c.index < cfg.rooms;
    if (!templates.has(c.room)) templates.set(c.room, template(cfg, c.room));
  }
  if (cfg.protocol === 'v1') {
    if (conns[0]!.protocol !== 'wavecast.v1') throw new Error(`the server did not accept the wavecast.v1 subprotocol`);
    for (const c of conns) c.socket.write(textFrame(JSON.stringify({ type: 'join', channel: roomName(c.room) })));
  } else if (cfg.protocol === 'plain') {
    for (const c of conns) ready.add(c);
  }
  const n = conns.length;
  const check = () => {
    if (failure !== null) throw new Error(failure);
  };
  await until(() => ready.size === n || failure !== null, 30_000 + n * 10, `${n} clients to join their rooms`);
  check();

  // Verify: one message from each sender reaches the 10 clients of its room, and no other.
  const senders = conns.filter((c) => c.sender);
  gen.running = true;
  for (const c of senders) {
    c.toSend = 1;
    send(c);
  }
  gen.running = false; // what comes back now sends nothing more
  await until(() => conns.every((c) => c.received >= 1) || failure !== null, 10_000, "every client to receive its room's first message");
  check();
  if (misrouted > 0) throw new Error(`${misrouted} messages reached a client of another room`);
  const verified =
    `${n} clients in ${cfg.rooms} rooms (${cfg.protocol}); each room's first message reached every client of the ` + 'room and no other';
  hooks.connected(n, verified);
  await hooks.go;

  gen.running = true;
  let stop = () => {};
  if (cfg.rate > 0) {
    // Open loop: every sender owes `rate` messages a second, whatever comes back. The senders take turns
    // (each one message at a time, round robin, checked every millisecond), so their messages are spread
    // over the second instead of leaving together in bursts that would queue behind each other.
    let next = 0;
    stop = paced(
      cfg.rate * senders.length,
      (k) => {
        for (let i = 0; i < k; i++) {
          const c = senders[next++ % senders.length]!;
          c.toSend++;
          send(c);
        }
      },
      1,
    );
  } else {
    for (const c of senders) {
      c.toSend = cfg.inflight;
      send(c);
    }
  }
  const r = await hooks.measure();
  stop();
  check();
  if (misrouted > 0) throw new Error(`${misrouted} messages reached a client of another room`);
  return { proc: cfg.proc, ...r, latenciesMs: [], percentiles: samples.summary(), connections: n, lost: gen.lost, verified };
}
