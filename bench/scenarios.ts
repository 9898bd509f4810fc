// The scenarios: what load each one puts on a server and what it reports.
import type { ServerMode } from './servers/control.js';
import type { GenConfig, GenKind, GenResult, MemoryUsage } from './lib/types.js';
import { median } from './lib/stats.js';

export interface Metric {
  key: string;
  /** For the overview table. */
  short: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** For rates: the unit of the server's CPU time per operation (server CPU / rate), e.g. µs/msg. */
  cost?: string;
  digits: number;
}

/** What the runner measured on the server's side during one run. */
export interface ServerSample {
  /** Share of one core the server used in the measured window. */
  cpu: number | null;
  memBefore: MemoryUsage | null;
  memAfter: MemoryUsage | null;
}

export interface Scenario {
  name: string;
  title: string;
  /** One line for the README and the report: what is measured and how. */
  description: string;
  serverMode: ServerMode;
  kind: GenKind;
  gen: Partial<GenConfig>;
  /** Generator processes (the `--gen-procs` option overrides it where `multiProc` is true). */
  procs: number;
  multiProc: boolean;
  /** Only with --big. */
  big?: boolean;
  /** Measured seconds (and warm-up) for a normal and a --quick run. */
  seconds: { warmup: number; measure: number; quickWarmup: number; quickMeasure: number };
  metrics: Metric[];
  compute(results: GenResult[], server: ServerSample): Record<string, number>;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const rate = (results: GenResult[], pick: (r: GenResult) => number) =>
  sum(results.map((r) => (pick(r) * 1000) / r.elapsedMs));

const MSGS: Metric = {
  key: 'msgs',
  short: 'messages/s',
  label: 'messages/s',
  unit: 'msg/s',
  better: 'higher',
  cost: 'µs/msg',
  digits: 0,
};
const MBPS: Metric = {
  key: 'mbps',
  short: 'MB/s',
  label: 'MB/s echoed (10^6 B of payload back per s)',
  unit: 'MB/s',
  better: 'higher',
  cost: 'µs/MB',
  digits: 1,
};
const FRAMES: Metric = {
  key: 'frames',
  short: 'frames/s',
  label: 'frames delivered/s',
  unit: 'frames/s',
  better: 'higher',
  cost: 'µs/frame',
  digits: 0,
};
const HANDSHAKES: Metric = {
  key: 'handshakes',
  short: 'handshakes/s',
  label: 'handshakes/s (open + clean close)',
  unit: 'hs/s',
  better: 'higher',
  cost: 'µs/handshake',
  digits: 0,
};
const RSS: Metric = {
  key: 'rss',
  short: 'RSS B/conn',
  label: 'server RSS per idle connection',
  unit: 'B/conn',
  better: 'lower',
  digits: 0,
};
const HEAP: Metric = {
  key: 'heap',
  short: 'heap B/conn',
  label: 'server heapUsed + external per idle connection',
  unit: 'B/conn',
  better: 'lower',
  digits: 0,
};
const LATENCY: Metric = {
  key: 'latency',
  short: 'latency ms',
  label: 'publish → last subscriber has it, median',
  unit: 'ms',
  better: 'lower',
  digits: 2,
};
const DELIVERED: Metric = {
  key: 'delivered',
  short: 'deliveries/s',
  label: 'deliveries/s (one publish in flight)',
  unit: 'msg/s',
  better: 'higher',
  cost: 'µs/delivery',
  digits: 0,
};

const echoMetrics = (results: GenResult[]) => ({
  msgs: rate(results, (r) => r.messages),
  mbps: rate(results, (r) => r.bytes) / 1e6,
});

function memory(results: GenResult[], server: ServerSample): Record<string, number> {
  const n = sum(results.map((r) => r.connections));
  const a = server.memAfter;
  const b = server.memBefore;
  if (!a || !b || n === 0) return {};
  return {
    rss: (a.rss - b.rss) / n,
    heap: (a.heapUsed + a.external - b.heapUsed - b.external) / n,
  };
}

function fanout(results: GenResult[]): Record<string, number> {
  const latencies = results.flatMap((r) => r.latenciesMs);
  return {
    latency: latencies.length ? median(latencies) : NaN,
    delivered: rate(results, (r) => r.messages),
  };
}

const THROUGHPUT = { warmup: 1, measure: 3, quickWarmup: 0.3, quickMeasure: 1 };

function idle(n: number, big: boolean): Scenario {
  const addresses = big ? Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`) : [];
  return {
    name: `memory-${n / 1000}k`,
    title: `memory per idle connection, ${n.toLocaleString('en-US')} connections`,
    description:
      `opens ${n.toLocaleString('en-US')} connections that stay idle; server RSS and heapUsed + external ` +
      `after gc, minus the same before any connection, divided by ${n.toLocaleString('en-US')}` +
      (big ? '; client sockets spread over 127.0.0.2-9 to get past the ephemeral-port limit' : ''),
    serverMode: 'echo',
    kind: 'idle',
    gen: { connections: n, concurrency: 128, localAddresses: addresses },
    procs: 1,
    multiProc: false,
    big,
    seconds: { warmup: 0, measure: 0, quickWarmup: 0, quickMeasure: 0 },
    metrics: [RSS, HEAP],
    compute: memory,
  };
}

function fan(n: number): Scenario {
  return {
    name: `fanout-${n / 1000}k`,
    title: `publish one 64-byte message to ${n.toLocaleString('en-US')} subscribers`,
    description:
      `${n.toLocaleString('en-US')} connections subscribed to one topic; the first one publishes a 64-byte ` +
      'text message and publishes the next as soon as every subscriber (itself included) has the previous; ' +
      'Wavecast uses wss.publish, ws loops over wss.clients with send, raw writes one prebuilt frame to each',
    serverMode: 'publish',
    kind: 'fanout',
    gen: { connections: n, payloadSize: 64, concurrency: 128 },
    procs: 1,
    multiProc: false,
    seconds: THROUGHPUT,
    metrics: [LATENCY, DELIVERED],
    compute: fanout,
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'echo-16b',
    title: 'echo of 16-byte text messages, 100 connections',
    description: '100 connections, each with one 16-byte text message in flight: send, wait for the echo, send again',
    serverMode: 'echo',
    kind: 'echo',
    gen: { connections: 100, payloadSize: 16, inflight: 1 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [MSGS],
    compute: echoMetrics,
  },
  {
    name: 'echo-16k',
    title: 'echo of 16 KiB binary messages, 10 connections',
    description:
      '10 connections, each with 4 binary messages of 16 KiB in flight (with one, the run is bound by ' +
      'round trips, not by the server)',
    serverMode: 'echo',
    kind: 'echo',
    gen: { connections: 10, payloadSize: 16 * 1024, binary: true, inflight: 4 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [MBPS],
    compute: echoMetrics,
  },
  {
    name: 'echo-1m',
    title: 'echo of 1 MiB binary messages, 10 connections',
    description: '10 connections, each with one 1 MiB binary message in flight',
    serverMode: 'echo',
    kind: 'echo',
    gen: { connections: 10, payloadSize: 1024 * 1024, binary: true, inflight: 1 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [MBPS],
    compute: echoMetrics,
  },
  {
    name: 'chat',
    title: 'broadcast chat, 100 clients, wss.clients.forEach(c => c.send(data))',
    description:
      '100 clients; every 16-byte text message any of them sends goes to all 100 through the loop over ' +
      'wss.clients; each client starts with one message and sends another for every 100 it receives',
    serverMode: 'broadcast',
    kind: 'chat',
    gen: { connections: 100, payloadSize: 16, inflight: 1 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [FRAMES],
    compute: (results) => ({ frames: rate(results, (r) => r.messages) }),
  },
  {
    name: 'chat-publish',
    title: 'broadcast chat, 100 clients, through publish',
    description:
      'the chat scenario with the server relaying through its native publish (wss.publish for Wavecast; ' +
      'ws has none, so its rows are the clients.forEach loop again)',
    serverMode: 'publish',
    kind: 'chat',
    gen: { connections: 100, payloadSize: 16, inflight: 1 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [FRAMES],
    compute: (results) => ({ frames: rate(results, (r) => r.messages) }),
  },
  {
    name: 'handshake',
    title: 'handshakes per second',
    description:
      '32 clients in a loop: connect, upgrade (checking 101 and Sec-WebSocket-Accept), send a close frame, ' +
      'wait for the server to close; counts completed upgrades',
    serverMode: 'echo',
    kind: 'handshake',
    gen: { concurrency: 32 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [HANDSHAKES],
    compute: (results) => ({ handshakes: rate(results, (r) => r.handshakes) }),
  },
  idle(10_000, false),
  idle(50_000, true),
  fan(1_000),
  fan(10_000),
  {
    name: 'deflate-4k',
    title: 'compressed echo of 4 KiB JSON text, 10 connections (permessage-deflate)',
    description:
      '10 connections with permessage-deflate negotiated, each with one 4 KiB JSON text message in flight, ' +
      'sent compressed; servers without permessage-deflate are skipped',
    serverMode: 'deflate',
    kind: 'echo',
    gen: { connections: 10, payloadSize: 4096, deflate: true, inflight: 1 },
    procs: 1,
    multiProc: true,
    seconds: THROUGHPUT,
    metrics: [MSGS],
    compute: echoMetrics,
  },
];
