// What the relay soak's runner (relay-run.ts, the relay's process) and its load generator
// (relay-loadgen.ts, a child process of wavecast/browser clients) tell each other over IPC.

export interface StartRelayLoad {
  type: 'start';
  /** ws://host:port of the relay. */
  url: string;
  clients: number;
  /** Channel names; client i joins two of them. */
  channels: string[];
  /** Publishes per second from the clients, over WebSocket (all clients together). */
  publishPerSecond: number;
  /** Clients dropped per second (abruptly: the socket destroyed, or the client's drop()). */
  dropsPerSecond: number;
  /** Reconnection backoff of every client (ms). */
  backoff: { initial: number; max: number };
}

export type ToRelayLoad = StartRelayLoad | { type: 'quiesce' } | { type: 'final'; latest: number[] };

export interface RelayLoadReport {
  type: 'report';
  clients: number;
  /** Connections lost on purpose: destroyed under the client, or dropped by it. */
  terminated: number;
  dropped: number;
  /** Times a client was open again after being disconnected. */
  reconnects: number;
  /** Publishes the clients handed to the relay (or queued while offline). */
  published: number;
  /** Messages the clients' 'message' events delivered. */
  received: number;
  /** Sequence numbers missing from a client's stream (a jump, or short of the latest at the end). */
  losses: number;
  /** Messages delivered twice or out of order. */
  duplicates: number;
  /** `gap` events (history could not fill a reconnection). */
  gaps: number;
  /** Client-channel pairs not at the channel's latest seq at the end. */
  behind: number;
  rssMax: number;
}

export type FromRelayLoad = { type: 'ready'; open: number } | { type: 'quiet'; open: number } | RelayLoadReport;
