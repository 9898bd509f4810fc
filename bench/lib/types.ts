// Messages and shapes shared by the runner, the load generator and the servers.

export type GenKind = 'echo' | 'chat' | 'fanout' | 'steady' | 'handshake' | 'idle' | 'relay';

/** How the relay scenario's clients speak: wavecast.v1 envelopes, plain messages, or Socket.IO packets. */
export type RelayProtocol = 'v1' | 'plain' | 'socketio';

export interface GenConfig {
  kind: GenKind;
  host: string;
  port: number;
  /** Index of this generator process among `procs`. */
  proc: number;
  procs: number;
  /** Connections opened by this process. */
  connections: number;
  /** Connections across all generator processes (the chat clients' send rule needs it). */
  totalConnections: number;
  payloadSize: number;
  binary: boolean;
  /** Payload is JSON text sent compressed (permessage-deflate). */
  deflate: boolean;
  /** Messages in flight per connection (echo), or messages each chat client starts with. */
  inflight: number;
  /** Connects (handshakes) in flight at once. */
  concurrency: number;
  /** Idle: messages each connection sends (and gets echoed) before the memory is read, then a ping. */
  traffic: number;
  /** Steady: publishes per second; relay: messages per second from each sender (0: closed loop, `inflight`). */
  rate: number;
  /** Relay: rooms (channels); the connections are spread over them, and the first of each room sends. */
  rooms: number;
  /** Relay: the clients' protocol (set by the server peer). */
  protocol: RelayProtocol;
  /** Source addresses to spread client sockets over (empty: let the kernel choose). */
  localAddresses: string[];
  warmupMs: number;
  measureMs: number;
}

export interface CpuSample {
  user: number;
  system: number;
}

export interface GenResult {
  proc: number;
  connections: number;
  elapsedMs: number;
  /** Complete data messages received in the measured window. */
  messages: number;
  /** Payload bytes received in the measured window. */
  bytes: number;
  /** Messages sent in the measured window. */
  sent: number;
  handshakes: number;
  /** Fan-out: time from publish to the last subscriber having it, for each publish in the window. */
  latenciesMs: number[];
  /** Publish → delivery over every delivery in the window (ms), or null where not measured. */
  percentiles: { p50: number; p99: number; count: number } | null;
  /** Share of one core the generator used in the window (1 = a full core). */
  cpu: number;
  /** The part of `cpu` spent in the kernel (on loopback, much of TCP's work is charged to the sender). */
  cpuSystem: number;
  /** Event loop utilization in the window (1 = never idle). */
  elu: number;
  /** Connections the server closed or reset while traffic ran. */
  lost: number;
  verified: string;
}

export type GenToRunner =
  | { type: 'warmed'; proc: number }
  | { type: 'connected'; proc: number; connections: number; verified: string }
  | { type: 'measure-start'; proc: number }
  | { type: 'measure-end'; proc: number }
  | { type: 'result'; result: GenResult }
  | { type: 'error'; proc: number; message: string }
  | { type: 'unsupported'; proc: number; reason: string };

export type RunnerToGen = { cmd: 'run'; config: GenConfig } | { cmd: 'proceed' } | { cmd: 'go' } | { cmd: 'exit' };

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export type ServerToRunner =
  | { type: 'ready'; port: number; info: Record<string, unknown> }
  | { type: 'unsupported'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'mem'; usage: MemoryUsage; gc: boolean }
  | { type: 'snapshot'; file: string }
  | { type: 'cpu'; usage: CpuSample; at: number };
