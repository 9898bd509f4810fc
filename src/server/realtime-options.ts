// The real-time options of a WebSocketServer, checked and given their defaults in one place.
import type { BackpressurePolicy } from './backpressure.js';
import type { HeartbeatOptions } from './sweep.js';

export const DEFAULT_MAX_BACKPRESSURE = 16 * 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The real-time options of `ServerOptions` (beyond `ws`). */
export interface RealtimeOptions {
  /**
   * Most bytes that may wait for one connection after the operating system has been offered them: its
   * backlog, whatever wrote them (send, publish, broadcast). Default 16 MiB; Infinity for no bound.
   * What happens to a message that would pass it is `backpressurePolicy`. Frames corked for the current
   * turn of the event loop are not backlog, so a burst reaches a client that reads.
   */
  maxBackpressure?: number;
  /**
   * 'close' (default): close the connection with 1008. 'drop': skip messages for it until its backlog is
   * gone (a dropped send() calls back with an error; the server emits 'drop' and then 'drain').
   */
  backpressurePolicy?: BackpressurePolicy;
  /** Ping connections that have been quiet for `interval` ms; terminate those silent `timeout` ms after. */
  heartbeat?: HeartbeatOptions;
  /**
   * Close (1000) a connection when no message (text or binary) has gone either way for this long (ms;
   * off by default). Pings, pongs and other control frames do not count.
   */
  idleTimeout?: number;
  /** Most open connections; an upgrade beyond it is answered 503 (default: no limit). */
  maxConnections?: number;
  /**
   * Most connections from one IP address (an IPv6 address counts by its /64), handshakes under way
   * included: while an address has more, its upgrades are answered 429, and a connection from an
   * address with twice as many is dropped at once (default: no limit, as in `ws`).
   */
  maxConnectionsPerIp?: number;
  /** Drop a connection whose opening handshake is not done in this long (ms, default 10000; 0 is off). */
  handshakeTimeout?: number;
}

export interface RealtimeSettings {
  maxBackpressure: number;
  backpressurePolicy: BackpressurePolicy;
  heartbeat: HeartbeatOptions | null;
  idleTimeout: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  handshakeTimeout: number;
}

/** Throws a TypeError naming the option for a value that makes no sense. */
export function resolveRealtimeOptions(options: RealtimeOptions): RealtimeSettings {
  const policy = options.backpressurePolicy ?? 'close';
  if (policy !== 'close' && policy !== 'drop') throw new TypeError(`Invalid backpressurePolicy: ${String(policy)} (use 'close' or 'drop')`);
  let heartbeat: HeartbeatOptions | null = null;
  if (options.heartbeat != null) {
    heartbeat = {
      interval: positive('heartbeat.interval', options.heartbeat.interval),
      timeout: positive('heartbeat.timeout', options.heartbeat.timeout),
    };
  }
  return {
    maxBackpressure: nonNegative('maxBackpressure', options.maxBackpressure, DEFAULT_MAX_BACKPRESSURE),
    backpressurePolicy: policy,
    heartbeat,
    idleTimeout: nonNegative('idleTimeout', options.idleTimeout, 0),
    maxConnections: nonNegative('maxConnections', options.maxConnections, Infinity),
    maxConnectionsPerIp: atLeastOne('maxConnectionsPerIp', options.maxConnectionsPerIp),
    handshakeTimeout: nonNegative('handshakeTimeout', options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT),
  };
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`Invalid ${name}: ${String(value)} (expected a number of ms above 0)`);
  return value;
}

function atLeastOne(name: string, value: number | undefined): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number' || !(value >= 1)) throw new TypeError(`Invalid ${name}: ${String(value)} (expected a number, 1 or more)`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0)
    throw new TypeError(`Invalid ${name}: ${String(value)} (expected a number, 0 or more)`);
  return value;
}
