// The ceiling: a `node:net` server that does the minimal WebSocket handshake (sha1 accept) and echoes
// (or broadcasts) frames with as little work as it can: no streams beyond the socket's own, no message
// assembly, no UTF-8 validation, no limits. It coalesces writes the way Wavecast does (a socket written to
// in a turn is corked until the turn's I/O callbacks have run, then uncorked in setImmediate), so that in
// the rows where coalescing matters (chat, fan-out) it is a ceiling too, not a server that does more
// syscalls. Nothing on Node that speaks WebSocket can do less.
// Usage: node raw.js <mode> [http] [direct], where mode is echo | broadcast | publish (deflate is not
// supported); with `http` the handshake comes through a node:http server's 'upgrade' event; with `direct`
// every write goes to the socket at once, uncoalesced (the `raw-direct` peer: what coalescing costs or saves).
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { installControl, parseMode, ready, unsupported } from './control.js';
import {
  acceptKey,
  frameHeaderSize,
  headerLength,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  payloadLength,
  unmaskInPlace,
  writeHeader,
} from '../lib/wire.js';

installControl();
const mode = parseMode(process.argv[2]);
if (mode === 'deflate') unsupported('the raw server does not implement permessage-deflate');
const broadcast = mode === 'broadcast' || mode === 'publish';
const onHttp = process.argv.slice(3).includes('http');
const direct = process.argv.slice(3).includes('direct');

/** Payloads at least this big are written as header + payload (two buffers, one writev), not copied. */
const COPY_LIMIT = 16 * 1024;

class Conn {
  open = false;
  head: Buffer | null = null; // handshake bytes so far
  pending: Buffer[] = []; // bytes of an incomplete frame
  buffered = 0;
  need = 2; // bytes needed before the pending frame can be handled
  corked = false; // written to in this turn: corked until the turn ends
  constructor(readonly socket: net.Socket | Duplex) {}
}

const clients = new Set<Conn>();

// ---- per-turn coalescing: what one turn writes to a socket leaves in one write ----
let corked: Conn[] = [];

function endTurn(): void {
  const list = corked;
  corked = [];
  for (const c of list) {
    c.corked = false;
    c.socket.uncork();
  }
}

function send(c: Conn, data: Buffer): void {
  if (!c.corked && !direct) {
    c.corked = true;
    c.socket.cork();
    // setImmediate: after this turn's I/O callbacks have run, so that all they write leaves together.
    if (corked.push(c) === 1) setImmediate(endTurn);
  }
  c.socket.write(data);
}

function accept(c: Conn, key: string): void {
  c.socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(key.trim())}\r\n\r\n`,
  );
  c.open = true;
  clients.add(c);
}

function onHandshake(c: Conn, chunk: Buffer): void {
  const buf = c.head ? Buffer.concat([c.head, chunk]) : chunk;
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > 8192) c.socket.destroy();
    else c.head = buf;
    return;
  }
  const head = buf.toString('latin1', 0, end);
  const key = /\r\nsec-websocket-key:[ \t]*([^\r\n]+)/i.exec(head);
  if (!head.startsWith('GET ') || !key || !/\r\nupgrade:[ \t]*websocket/i.test(head)) {
    c.socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  c.head = null;
  accept(c, key[1]!);
  if (buf.length > end + 4) onFrames(c, buf.subarray(end + 4));
}

function onFrames(c: Conn, chunk: Buffer): void {
  let buf = chunk;
  if (c.buffered > 0) {
    c.pending.push(chunk);
    c.buffered += chunk.length;
    if (c.buffered < c.need) return;
    buf = Buffer.concat(c.pending, c.buffered);
    c.pending = [];
    c.buffered = 0;
  }
  const out: Buffer[] = [];
  let closing = false;
  let o = 0;
  for (;;) {
    const avail = buf.length - o;
    if (avail < 2) {
      c.need = 2;
      break;
    }
    const hl = headerLength(buf[o + 1]!);
    if (avail < hl) {
      c.need = hl;
      break;
    }
    const len = payloadLength(buf, o);
    if (avail < hl + len) {
      c.need = hl + len;
      break;
    }
    const b0 = buf[o]!;
    const p = o + hl;
    if (buf[o + 1]! & 0x80) unmaskInPlace(buf, p, len, buf.subarray(p - 4, p));
    o = p + len;
    let opcode = b0 & 0x0f;
    if (opcode >= 0x8) {
      if (opcode === OP_PONG) continue;
      if (opcode === OP_PING) opcode = OP_PONG;
      else if (opcode === OP_CLOSE) closing = true;
      // Control replies go to the sender only, echo or broadcast.
      const frame = Buffer.allocUnsafe(2 + len);
      writeHeader(frame, 0, opcode, len, null);
      buf.copy(frame, 2, p, p + len);
      send(c, frame);
      if (closing) break;
      continue;
    }
    // Data frame: same FIN/opcode byte, unmasked.
    if (len < COPY_LIMIT) {
      const frame = Buffer.allocUnsafe(frameHeaderSize(len, false) + len);
      const n = writeHeader(frame, 0, opcode, len, null);
      frame[0] = b0 & 0x8f;
      buf.copy(frame, n, p, p + len);
      out.push(frame);
    } else {
      const header = Buffer.allocUnsafe(frameHeaderSize(len, false));
      writeHeader(header, 0, opcode, len, null);
      header[0] = b0 & 0x8f;
      out.push(header, buf.subarray(p, p + len));
    }
  }
  if (closing) {
    clients.delete(c);
    c.socket.end();
    return;
  }
  if (o < buf.length) {
    c.pending.push(buf.subarray(o));
    c.buffered = buf.length - o;
  }
  if (out.length === 0) return;
  if (broadcast) {
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    for (const client of clients) send(client, data);
  } else {
    for (const b of out) send(c, b);
  }
}

function watch(c: Conn): void {
  // The peer ended: end ours too (a node:http server's sockets allow half-open connections).
  c.socket.on('end', () => c.socket.end());
  c.socket.on('error', () => {});
  c.socket.on('close', () => clients.delete(c));
}

const info = {
  mode,
  coalescing: direct ? 'none (every write at once)' : 'per turn (cork, uncork in setImmediate)',
  ...(onHttp ? { server: 'node:http' } : {}),
};
const listening = (address: net.AddressInfo) => ready(address.port, info);

if (onHttp) {
  // The handshake through node:http: it has parsed the request head; the upgraded socket is ours.
  const server = createHttpServer();
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const key = request.headers['sec-websocket-key'];
    if (typeof key !== 'string' || request.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    (socket as net.Socket).setNoDelay(true);
    const c = new Conn(socket);
    watch(c);
    accept(c, key);
    socket.on('data', (chunk: Buffer) => onFrames(c, chunk));
    if (head.length > 0) onFrames(c, head);
  });
  server.listen(0, '127.0.0.1', () => listening(server.address() as net.AddressInfo));
} else {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const c = new Conn(socket);
    watch(c);
    socket.on('data', (chunk: Buffer) => (c.open ? onFrames(c, chunk) : onHandshake(c, chunk)));
  });
  server.listen(0, () => listening(server.address() as net.AddressInfo));
}
