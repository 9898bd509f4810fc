// Who may hold a connection to the relay, counted at the TCP level: every socket its HTTP(S) server
// accepts (a WebSocket, an HTTP client, a TLS handshake under way, a socket that has said nothing yet)
// takes one of --max-connections places and one of its address's --max-connections-per-ip, until it
// closes. How long the unfinished ones may take is node:http's and node:tls's business (the relay sets
// their timeouts); this file decides who gets a place:
// - an address at its limit: the new connection is answered 429 (once its request head has come);
// - the relay full: the connection that has waited longest without a request under way (a silent or
//   half-sent head, an unfinished TLS handshake, an idle keep-alive socket) is cut to make room, so
//   sockets that do nothing cannot keep a client out; when every place holds a WebSocket or a request
//   being served, the new connection is answered 503.
// Refused connections are answered, not counted, and at most REFUSING of them are held at once (the
// oldest is cut past that), so a flood of them is bounded too.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AddressCounter, addressKey, perAddressRefusalBody } from '../server/address-limit.js';
import type { Logger } from './log.js';

export interface GateOptions {
  /** Most connections of any kind (Infinity: as many as the descriptors allow). */
  maxConnections: number;
  /** Most connections from one address (an IPv6 /64); Infinity: no limit. */
  maxPerAddress: number;
  /** Connections being refused (answered 429 or 503) held at once; past it, the oldest is cut. */
  refusing?: number;
}

export interface Refusal {
  status: number;
  body: string;
}

/** What the gate did, for /metrics. */
export interface GateStats {
  refusedPerAddress: number;
  refusedAtCapacity: number;
  /** Connections cut to make room: they had waited longest without a request under way. */
  evicted: number;
}

export const REFUSING = 64;

/** A connection's state: waiting (no request under way), busy (serving one), a WebSocket, or refused. */
const WAITING = 0;
const BUSY = 1;
const UPGRADED = 2;
const REFUSED = 3;

interface Entry {
  /** The TCP socket (what is destroyed and what closes). */
  tcp: Socket;
  /** With TLS, the secure socket over it once its handshake is done (what requests come on). */
  secure: Duplex | null;
  state: number;
  /** Requests under way (pipelined ones overlap). */
  busy: number;
  refusal: Refusal | null;
}

export class ConnectionGate {
  readonly stats: GateStats = { refusedPerAddress: 0, refusedAtCapacity: 0, evicted: 0 };
  private readonly _addresses = new AddressCounter();
  /** Every connection held, by its TCP socket and (TLS) by its secure socket. */
  private readonly _entries = new Map<Duplex, Entry>();
  /** TLS connections whose handshake is under way, by their addresses and ports. */
  private readonly _handshaking = new Map<string, Entry>();
  /** Admitted connections without a request under way, the longest waiting first. */
  private readonly _waiting = new Set<Entry>();
  /** Connections being refused, the oldest first. */
  private readonly _refused = new Set<Entry>();
  private _admitted = 0;
  private readonly _refusing: number;
  private readonly _onClose: (this: Socket) => void;
  private _full = false;
  private _refusedSinceLog = 0;
  private _lastRefusalLog = 0;

  constructor(
    private readonly _options: GateOptions,
    private readonly _tls: boolean,
    private readonly _log: Logger,
  ) {
    this._refusing = _options.refusing ?? REFUSING;
    const gate = this;
    this._onClose = function (this: Socket) {
      gate._closed(this);
    };
  }

  /** Connections held: admitted and being refused. */
  get open(): number {
    return this._admitted + this._refused.size;
  }

  /** A TCP connection was accepted ('connection' of the server, before any TLS handshake). */
  accepted(socket: Socket): void {
    const key = addressKey(socket.remoteAddress);
    const entry: Entry = { tcp: socket, secure: null, state: WAITING, busy: 0, refusal: null };
    if (this._addresses.count(key) >= this._options.maxPerAddress) {
      this.stats.refusedPerAddress++;
      this._refuse(entry, { status: 429, body: perAddressRefusalBody(key, this._options.maxPerAddress) }, key);
    } else if (this._admitted >= this._options.maxConnections && !this._evictOne()) {
      this.stats.refusedAtCapacity++;
      this._refuse(
        entry,
        { status: 503, body: `The relay has reached its limit of ${this._options.maxConnections} connections; try again later` },
        key,
      );
    } else {
      this._admitted++;
      this._addresses.add(socket, key);
      this._waiting.add(entry);
      this._checkFull();
    }
    this._entries.set(socket, entry);
    if (this._tls) this._handshaking.set(tupleOf(socket), entry);
    socket.on('close', this._onClose);
  }

  /** A TLS handshake is done ('secureConnection'): requests come on `secure` from now on. */
  secured(secure: Duplex): void {
    const tuple = tupleOf(secure as Socket);
    const entry = this._handshaking.get(tuple);
    if (entry === undefined) return;
    this._handshaking.delete(tuple);
    entry.secure = secure;
    this._entries.set(secure, entry);
  }

  /** The refusal a connection gets (429 or 503), or null when it was admitted. */
  refusalOf(socket: Duplex): Refusal | null {
    return this._entries.get(socket)?.refusal ?? null;
  }

  /**
   * An HTTP request begins on a connection. A refused connection is answered here (true: the request
   * is handled); an admitted one is busy until the response is over.
   */
  request(request: IncomingMessage, response: ServerResponse): boolean {
    const entry = this._entries.get(request.socket);
    if (entry === undefined) return false;
    if (entry.refusal !== null) {
      const { status, body } = entry.refusal;
      response.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body) + 1,
        Connection: 'close',
      });
      response.end(`${body}\n`);
      return true;
    }
    entry.busy++;
    entry.state = BUSY;
    this._waiting.delete(entry);
    response.once('close', () => {
      if (--entry.busy > 0 || entry.state !== BUSY || !this._entries.has(entry.tcp)) return;
      entry.state = WAITING;
      this._waiting.add(entry); // idle keep-alive: now the longest waiting is someone else
    });
    return false;
  }

  /** A connection became a WebSocket: it is never cut to make room (its own bounds apply). */
  upgraded(socket: Duplex): void {
    const entry = this._entries.get(socket);
    if (entry === undefined || entry.refusal !== null) return;
    entry.state = UPGRADED;
    this._waiting.delete(entry);
  }

  /** Destroys every connection held (the end of a shutdown). */
  destroyAll(): void {
    for (const entry of new Set(this._entries.values())) entry.tcp.destroy();
  }

  /** Refused connections are answered once their request has come; past REFUSING, the oldest is cut. */
  private _refuse(entry: Entry, refusal: Refusal, key: string): void {
    entry.state = REFUSED;
    entry.refusal = refusal;
    this._refused.add(entry);
    if (this._refused.size > this._refusing) {
      const oldest = this._refused.values().next().value!;
      this._forget(oldest);
      oldest.tcp.destroy();
    }
    this._logRefusal(refusal, key);
  }

  /** Cuts the admitted connection that has waited longest with no request under way; false if none. */
  private _evictOne(): boolean {
    const victim = this._waiting.values().next().value;
    if (victim === undefined) return false;
    this.stats.evicted++;
    this._forget(victim);
    victim.tcp.destroy();
    return true;
  }

  private _closed(socket: Socket): void {
    socket.removeListener('close', this._onClose);
    const entry = this._entries.get(socket);
    if (entry !== undefined) this._forget(entry);
    this._checkFull();
  }

  /** Takes a connection off every list (its place is free from now on). */
  private _forget(entry: Entry): void {
    if (!this._entries.delete(entry.tcp)) return;
    if (entry.secure !== null) this._entries.delete(entry.secure);
    else if (this._tls) this._handshaking.delete(tupleOf(entry.tcp));
    if (entry.refusal !== null) {
      this._refused.delete(entry);
    } else {
      this._admitted--;
      this._waiting.delete(entry);
    }
  }

  /** Says when the relay becomes full, and when it is well below full again (not at every place freed and taken). */
  private _checkFull(): void {
    const max = this._options.maxConnections;
    if (!this._full && this._admitted >= max) {
      this._full = true;
      this._log.warn(
        'connection limit reached: connections that wait without a request are cut to make room, others are refused with 503',
        { limit: max },
      );
    } else if (this._full && this._admitted < max * 0.9) {
      this._full = false;
      this._log.info('below 90% of the connection limit again', { limit: max, open: this._admitted });
    }
  }

  /** At most one line a second about refused connections, however many there are. */
  private _logRefusal(refusal: Refusal, key: string): void {
    this._refusedSinceLog++;
    const now = Date.now();
    if (now - this._lastRefusalLog < 1000) return;
    this._lastRefusalLog = now;
    this._log.warn('connections refused', { status: refusal.status, address: key, refused: this._refusedSinceLog, reason: refusal.body });
    this._refusedSinceLog = 0;
  }
}

/** Both ends of a TCP connection: what a TLS socket and the TCP socket under it have in common. */
function tupleOf(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

/** Descriptors kept for what is not a client connection (listening socket, logs, broker links, files). */
export const RESERVED_DESCRIPTORS = 64;

/** The process's limit on open files (`ulimit -n`), where the system tells it (Linux); null elsewhere. */
export function descriptorLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const value = Number(soft);
    return Number.isInteger(value) && value > 0 ? value : null;
  } catch {
    return null;
  }
}
