// Connections per client address: how many sockets each address has open, so that one address cannot
// take every place a server has. An IPv4 address counts on its own; an IPv6 address counts by its /64
// (the block one household, phone or server is given: an attacker with one has 2^64 addresses), and an
// IPv4-mapped IPv6 address (::ffff:192.0.2.1) as the IPv4 address it is.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Refusal } from './admission.js';

/** The key an address is counted under: the IPv4 address, or the /64 of an IPv6 one. */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const zone = address.indexOf('%');
  return ipv6Prefix64(zone === -1 ? address : address.slice(0, zone));
}

/** The first four groups of an IPv6 address, without leading zeros, as `2001:db8:0:1::/64`. */
function ipv6Prefix64(address: string): string {
  const gap = address.indexOf('::');
  let groups: string[];
  if (gap === -1) {
    groups = address.split(':');
  } else {
    const left = gap === 0 ? [] : address.slice(0, gap).split(':');
    const tail = address.slice(gap + 2);
    const right = tail === '' ? [] : tail.split(':');
    // An IPv4 tail (::ffff:0:192.0.2.1, 64:ff9b::192.0.2.1) stands for two groups.
    const rightGroups = right.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
    groups = [...left, ...new Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill('0'), ...right];
  }
  return `${groups
    .slice(0, 4)
    .map((group) => (parseInt(group, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/**
 * Counts open sockets per address key. A socket is counted from `add` until it closes (it is released
 * by its own 'close' event, through one listener function shared by every socket).
 */
export class AddressCounter {
  private readonly _counts = new Map<string, number>();
  private readonly _sockets = new Map<Duplex, string>();
  private readonly _onClose: (this: Duplex) => void;

  constructor() {
    const counter = this;
    this._onClose = function (this: Duplex) {
      counter._release(this);
    };
  }

  /** How many sockets are counted under `key`. */
  count(key: string): number {
    return this._counts.get(key) ?? 0;
  }

  /** Whether `socket` is counted (under any key). */
  has(socket: Duplex): boolean {
    return this._sockets.has(socket);
  }

  /** The key `socket` is counted under (undefined when it is not counted). */
  keyOf(socket: Duplex): string | undefined {
    return this._sockets.get(socket);
  }

  /** Counts `socket` under `key` until it closes (once: a socket already counted is left as it is). */
  add(socket: Duplex, key: string): void {
    if (this._sockets.has(socket) || socket.destroyed) return;
    this._sockets.set(socket, key);
    this._counts.set(key, this.count(key) + 1);
    socket.on('close', this._onClose);
  }

  /** Addresses with at least one socket counted (what the counter holds). */
  get addresses(): number {
    return this._counts.size;
  }

  /** Sockets counted. */
  get sockets(): number {
    return this._sockets.size;
  }

  private _release(socket: Duplex): void {
    const key = this._sockets.get(socket);
    if (key === undefined) return;
    this._sockets.delete(socket);
    socket.removeListener('close', this._onClose);
    const left = this.count(key) - 1;
    if (left > 0) this._counts.set(key, left);
    else this._counts.delete(key);
  }
}

/**
 * A WebSocketServer's maxConnectionsPerIp: sockets are counted from the first time the server sees them
 * until they close; an address over the limit has its upgrades refused, and one at twice the limit has
 * its new connections dropped unanswered.
 */
export class AddressLimit {
  private readonly _counter = new AddressCounter();
  constructor(readonly max: number) {}

  /** Counts `socket` (once); false when its address already has twice the limit open (drop it). */
  admit(socket: Duplex): boolean {
    if (this._counter.has(socket)) return true;
    const address = (socket as Partial<Socket>).remoteAddress;
    if (address === undefined) return true; // not a network socket: nothing to count it under
    const key = addressKey(address);
    if (this._counter.count(key) >= 2 * this.max) return false;
    this._counter.add(socket, key);
    return true;
  }

  /** A 429 while the socket's address has more than the limit open, this socket included. */
  refusal(socket: Duplex): Refusal | null {
    const key = this._counter.keyOf(socket);
    if (key === undefined || this._counter.count(key) <= this.max) return null;
    return { status: 429, body: perAddressRefusalBody(key, this.max) };
  }
}

/** The body of a refusal for an address over its limit. */
export function perAddressRefusalBody(key: string, limit: number): string {
  return `Too many connections from ${key}: the limit is ${limit} per address; close some and try again`;
}
