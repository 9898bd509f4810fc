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

/** Which servers run a scenario: the WebSocket libraries (baseline: the faster `ws`), or the relays (Socket.IO). */
export type ServerGroup = 'library' | 'relay';

/** The baseline servers of each group: a row's ratio is taken against the best of them in that row. */
export const BASELINES: Record<ServerGroup, string[]> = {
  library: ['ws', 'ws+bufferutil'],
  relay: ['socket.io'],
};

export interface Scenario {
  name: string;
  title: string;
  /** Short label for the README table (the metric's short name is added). */
  label: string;
  group: ServerGroup;
  /** Run the server on a `node:http` server (`new WebSocketServer({ server })`) instead of its own. */
  http?: boolean;
  /** Sample the server's memory before the clients connect and again after the measured window. */
  memory?: boolean;
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
const rate = (results: GenResult[], pick: (r: GenResult) => number) => sum(results.map((r) => (pick(r) * 1000) / r.elapsedMs));

const MSGS: Metric = { key: 'msgs', short: 'messages/s', label: 'messages/s', unit: 'msg/s', better: 'higher', cost: 'µs/msg', digits: 0 };
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
const RSS: Metric = { key: 'rss', short: 'RSS B/conn', label: 'server RSS per connection', unit: 'B/conn', better: 'lower', digits: 0 };
const HEAP: Metric = {
  key: 'heap',
  short: 'heap B/conn',
  label: 'server heapUsed + external per connection',
  unit: 'B/conn',
  better: 'lower',
  digits: 0,
};
const LAST: Metric = {
  key: 'latency',
  short: 'to last ms',
  label: 'publish → last subscriber has it, median',
  unit: 'ms',
  better: 'lower',
  digits: 2,
};
const P50: Metric = {
  key: 'p50',
  short: 'p50 ms',
  label: 'publish → delivery, p50 over every delivery',
  unit: 'ms',
  better: 'lower',
  digits: 2,
};
const P99: Metric = {
  key: 'p99',
  short: 'p99 ms',
  label: 'publish → delivery, p99 over every delivery',
  unit: 'ms',
  better: 'lower',
  digits: 2,
};
const DELIVERED: Metric = {
  key: 'delivered',
  short: 'deliveries/s',
  label: 'deliveries/s',
  unit: 'msg/s',
  better: 'higher',
  cost: 'µs/delivery',
  digits: 0,
};
const CLIENT_RSS: Metric = {
  ...RSS,
  label: 'server RSS per client, after the run (history included)',
  short: 'RSS B/client',
  unit: 'B/client',
};
const CLIENT_HEAP: Metric = {
  ...HEAP,
  label: 'server heapUsed + external per client, after the run (history included)',
  short: 'heap B/client',
  unit: 'B/client',
};

const echoMetrics = (results: GenResult[]) => ({
  msgs: rate(results, (r) => r.messages),
  mbps: rate(results, (r) => r.bytes) / 1e6,
});

/** Memory per connection: after minus before, over the connections the generators opened. */
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

/** Per-delivery percentiles (each generator's; with one generator process, exact). */
function percentiles(results: GenResult[]): Record<string, number> {
  const with50 = results.filter((r) => r.percentiles !== null);
  if (with50.length === 0) return {};
  return {
    p50: Math.max(...with50.map((r) => r.percentiles!.p50)),
    p99: Math.max(...with50.map((r) => r.percentiles!.p99)),
  };
}

function fanout(results: GenResult[]): Record<string, number> {
  const latencies = results.flatMap((r) => r.latenciesMs);
  return {
    latency: latencies.length ? median(latencies) : NaN,
    delivered: rate(results, (r) => r.messages),
    ...percentiles(results),
  };
}

const THROUGHPUT = { warmup: 1, measure: 3, quickWarmup: 0.3, quickMeasure: 1 };
const NO_TIME = { warmup: 0, measure: 0, quickWarmup: 0, quickMeasure: 0 };

function memoryScenario(n: number, options: { big?: boolean; traffic?: boolean; http?: boolean }): Scenario {
  const { big = false, traffic = false, http = false } = options;
  const addresses = big ? Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`) : [];
  const count = n.toLocaleString('en-US');
  const what = traffic ? 'after traffic' : 'idle';
  return {
    name: `memory-${n / 1000}k${traffic ? '-traffic' : ''}${http ? '-http' : ''}`,
    title: `memory per connection ${what}, ${count} connections${http ? ', on a node:http server' : ''}`,
    label: `memory per connection ${what}, ${count}${http ? ', on `node:http`' : ''}`,
    group: 'library',
    http,
    description:
      `opens ${count} connections` +
      (traffic
        ? ' and has each send three 16-byte text messages and a ping, and get the three echoes and the pong back'
        : ' that stay idle') +
      (http ? '; the server is `new WebSocketServer({ server })` on a node:http server' : '') +
      `; server RSS and heapUsed + external after gc, minus the same before any connection, divided by ${count}` +
      (big ? '; client sockets spread over 127.0.0.2-9 to get past the ephemeral-port limit' : ''),
    serverMode: 'echo',
    kind: 'idle',
    gen: { connections: n, concurrency: 128, localAddresses: addresses, traffic: traffic ? 3 : 0 },
    procs: 1,
    multiProc: false,
    big,
    seconds: NO_TIME,
    metrics: [RSS, HEAP],
    compute: memory,
  };
}

/** One publish at a time: the next once every subscriber has the previous. */
function oneAtATime(n: number, name: string, rate = 0): Scenario {
  const count = n.toLocaleString('en-US');
  const offered = (rate * n).toLocaleString('en-US');
  return {
    name,
    title: `one 64-byte message at a time to ${count} subscriber${n > 1 ? 's' : ''}`,
    label: `one message at a time to ${count} subscriber${n > 1 ? 's' : ''}`,
    group: 'library',
    description:
      `${count} connection${n > 1 ? 's' : ''} subscribed to one topic; the first publishes a 64-byte text message and ` +
      'the next as soon as every subscriber (itself included) has the previous' +
      (rate > 0
        ? `, but no sooner than 1/${rate} s after it (at most ${rate} publishes, ${offered} deliveries a second: the ` +
          'same offered load for every server, and the load generator is not the limit)'
        : '') +
      '; the time from publish to each ' +
      'delivery is taken in the generator that published (one clock); Wavecast uses wss.publish, ws loops over ' +
      'wss.clients with send, raw writes one frame to each',
    serverMode: 'publish',
    kind: 'fanout',
    gen: { connections: n, payloadSize: 64, concurrency: 128, rate },
    procs: 1,
    multiProc: false,
    seconds: THROUGHPUT,
    metrics: n > 1 ? [P50, P99, LAST, DELIVERED] : [P50, P99, DELIVERED],
    compute: fanout,
  };
}

/** The relay scenarios: the same rooms, clients and messages for `wavecast serve` and Socket.IO. */
function relayScenario(name: string, perSecond: number): Scenario {
  const open = perSecond > 0;
  return {
    name,
    title: open
      ? `relay, 500 clients in 50 rooms of 10, one sender per room at ${perSecond} messages/s`
      : 'relay, 500 clients in 50 rooms of 10, one sender per room with 8 messages in flight',
    label: open ? `relay at ${(perSecond * 50 * 10).toLocaleString('en-US')} deliveries/s offered` : 'relay, as fast as it goes',
    group: 'relay',
    memory: true,
    description:
      '500 clients in 50 rooms (channels) of 10; one client of each room sends 64-byte text messages, which the ' +
      'server delivers to the 10 clients of the room, the sender included; ' +
      (open
        ? `each sender sends ${perSecond} messages a second (open loop: on a timer, whatever the server does)`
        : 'each sender keeps 8 messages in flight (it sends one more each time one of its own comes back)') +
      '; every message carries its send time, read at each receiver (one generator process, one clock); ' +
      '`wavecast serve` runs with history on (100 per channel), no rate limit and no per-address limit, its ' +
      'clients either `wavecast.v1` (join and publish envelopes) or plain (the channel in the path); Socket.IO 4 ' +
      'runs on the websocket transport with io.to(room).emit, its clients speaking engine.io/socket.io packets',
    serverMode: 'echo',
    kind: 'relay',
    gen: { connections: 500, rooms: 50, payloadSize: 64, inflight: open ? 0 : 8, rate: perSecond, concurrency: 64 },
    procs: 1,
    multiProc: false,
    seconds: THROUGHPUT,
    metrics: [DELIVERED, P50, P99, CLIENT_RSS, CLIENT_HEAP],
    compute: (results, server) => ({
      delivered: rate(results, (r) => r.messages),
      ...percentiles(results),
      ...memory(results, server),
    }),
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'echo-16b',
    title: 'echo of 16-byte text messages, 100 connections',
    label: 'echo of 16-byte text, 100 connections',
    group: 'library',
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
    label: 'echo of 16 KiB binary, 10 connections',
    group: 'library',
    description:
      '10 connections, each with 4 binary messages of 16 KiB in flight (with one, the run is bound by ' + 'round trips, not by the server)',
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
    label: 'echo of 1 MiB binary, 10 connections',
    group: 'library',
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
    label: 'broadcast chat, 100 clients, `clients.forEach(send)`',
    group: 'library',
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
    label: 'broadcast chat through `publish`',
    group: 'library',
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
    label: 'handshakes per second',
    group: 'library',
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
  memoryScenario(10_000, {}),
  memoryScenario(10_000, { traffic: true }),
  memoryScenario(10_000, { traffic: true, http: true }),
  memoryScenario(50_000, { big: true }),
  oneAtATime(1, 'latency-1'),
  oneAtATime(100, 'latency-100', 500),
  oneAtATime(1_000, 'latency-1k', 50),
  {
    ...oneAtATime(10_000, 'fanout-10k'),
    title: 'publish one 64-byte message to 10,000 subscribers, one publish at a time',
    label: 'publish to 10,000 subscribers, one at a time',
    metrics: [LAST, DELIVERED],
  },
  {
    name: 'steady-1k',
    title: 'steady fan-out: one publisher, 100 messages/s, 1,000 subscribers',
    label: 'steady fan-out, 100 messages/s to 1,000 subscribers',
    group: 'library',
    description:
      '1,000 connections subscribed to one topic; the first publishes a 64-byte text message 100 times a ' +
      'second on a timer (open loop: whatever the server does); the time from publish to each delivery is ' +
      'taken in the generator that published (one clock); a server that falls behind shows it in p99',
    serverMode: 'publish',
    kind: 'steady',
    gen: { connections: 1000, payloadSize: 64, concurrency: 128, rate: 100 },
    procs: 1,
    multiProc: false,
    seconds: THROUGHPUT,
    metrics: [P50, P99, DELIVERED],
    compute: fanout,
  },
  {
    name: 'deflate-4k',
    title: 'compressed echo of 4 KiB JSON text, 10 connections (permessage-deflate)',
    label: 'compressed echo of 4 KiB JSON',
    group: 'library',
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
  relayScenario('relay-max', 0),
  relayScenario('relay-steady', 100),
];
