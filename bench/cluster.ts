// Cross-node publish through a broker (`npm run bench:cluster`): node A publishes, node B (another
// WebSocketServer with its own adapter) delivers to a `ws` client subscribed to the topic, and the time
// from A's publish() to the client's 'message' is measured. All in one process, so one clock serves both
// ends; the figures include the broker round trip, B's framing and the client's parsing.
//
// Two measurements per broker:
//   - one at a time: publish, wait for the client to get it, publish the next (latency without load);
//   - flood: keep up to --window messages in flight for --seconds (throughput, and latency under load).
// The in-process bus (no broker) is the baseline: what the servers and the client cost by themselves.
//
// Options: --seconds S (per measurement, default 2), --brokers inprocess,redis,nats, --size BYTES
// (payload, default 64), --window N (default 256), --redis URL, --nats URL.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WsClient from 'ws';
import { InProcessAdapter, InProcessBus, WebSocketServer, type ClusterAdapter } from '../src/index.js';
import { RedisAdapter } from '../src/cluster/redis.js';
import { NatsAdapter } from '../src/cluster/nats.js';

interface Options {
  seconds: number;
  brokers: string[];
  size: number;
  window: number;
  redis: string;
  nats: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: 'string' },
      size: { type: 'string' },
      window: { type: 'string' },
      brokers: { type: 'string' },
      redis: { type: 'string' },
      nats: { type: 'string' },
    },
  });
  const number = (flag: 'seconds' | 'size' | 'window', min: number, fallback: number): number => {
    const value = values[flag];
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} must be a number of at least ${min}, not ${value}`);
    return n;
  };
  const options: Options = {
    seconds: number('seconds', 0.1, 2),
    brokers: (values.brokers ?? 'inprocess,redis,nats')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    size: Math.floor(number('size', 8, 64)),
    window: Math.floor(number('window', 1, 256)),
    redis: values.redis ?? 'redis://127.0.0.1:6379',
    nats: values.nats ?? 'nats://127.0.0.1:4222',
  };
  for (const broker of options.brokers) {
    if (!['inprocess', 'redis', 'nats'].includes(broker)) throw new Error(`unknown broker ${broker} (inprocess, redis, nats)`);
  }
  return options;
}

interface Result {
  broker: string;
  oneP50: number;
  oneP99: number;
  oneCount: number;
  rate: number;
  floodP50: number;
  floodP99: number;
  floodCount: number;
  note?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function makeAdapters(broker: string, options: Options): Promise<{ a: ClusterAdapter; b: ClusterAdapter; close(): Promise<void> }> {
  const prefix = `wcbench-${randomBytes(4).toString('hex')}`;
  if (broker === 'inprocess') {
    const bus = new InProcessBus();
    return { a: new InProcessAdapter(bus), b: new InProcessAdapter(bus), close: async () => undefined };
  }
  const make = () =>
    broker === 'redis' ? new RedisAdapter({ url: options.redis, prefix: `${prefix}:` }) : new NatsAdapter({ url: options.nats, prefix });
  const a = make();
  const b = make();
  await a.connect();
  await b.connect();
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

async function listening(wss: WebSocketServer): Promise<number> {
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function measure(broker: string, options: Options): Promise<Result> {
  const adapters = await makeAdapters(broker, options);
  const nodeA = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: adapters.a });
  const nodeB = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: adapters.b });
  const [, portB] = await Promise.all([listening(nodeA), listening(nodeB)]);
  const subscribed = new Promise<void>((resolve) =>
    nodeB.once('connection', (socket) => {
      socket.subscribe('bench');
      resolve();
    }),
  );
  const client = new WsClient(`ws://127.0.0.1:${portB}`);
  await Promise.all([subscribed, new Promise((resolve) => client.once('open', resolve))]);
  if (adapters.b instanceof RedisAdapter || adapters.b instanceof NatsAdapter) await adapters.b.synced();

  const payload = Buffer.alloc(options.size, 0x61);
  let onMessage: (sentAt: number) => void = () => undefined;
  let arrived = 0;
  client.on('message', (data: Buffer) => {
    arrived++;
    onMessage(data.readDoubleLE(0));
  });
  // A message that never arrives must not hang the benchmark: give up after 5 s without progress.
  const stalled = (reject: (error: Error) => void) => {
    let seen = -1;
    const timer = setInterval(() => {
      if (arrived === seen) reject(new Error(`no message arrived for 5 s (${arrived} in all)`));
      seen = arrived;
    }, 5000);
    return () => clearInterval(timer);
  };
  const publish = () => {
    const message = Buffer.from(payload);
    message.writeDoubleLE(performance.now(), 0);
    nodeA.publish('bench', message);
  };

  // One at a time: half the time, at most 5000 messages.
  const one: number[] = [];
  const oneUntil = performance.now() + (options.seconds * 1000) / 2;
  await new Promise<void>((resolve, reject) => {
    const stop = stalled(reject);
    onMessage = (sentAt) => {
      one.push(performance.now() - sentAt);
      if (performance.now() >= oneUntil || one.length >= 5000) {
        stop();
        resolve();
      } else {
        publish();
      }
    };
    publish();
  });

  // Flood: up to `window` in flight for `seconds`, then wait for the stragglers.
  const latencies = new Float64Array(10_000_000);
  let received = 0;
  let sent = 0;
  const start = performance.now();
  const floodUntil = start + options.seconds * 1000;
  let end = start;
  await new Promise<void>((resolve, reject) => {
    const stop = stalled(reject);
    const refill = () => {
      while (sent - received < options.window && performance.now() < floodUntil) {
        publish();
        sent++;
      }
    };
    onMessage = (sentAt) => {
      const now = performance.now();
      if (received < latencies.length) latencies[received] = now - sentAt;
      received++;
      if (received === sent && now >= floodUntil) {
        end = now;
        stop();
        resolve();
      } else if (sent - received <= options.window / 2) {
        refill();
      }
    };
    refill();
  });
  onMessage = () => undefined;

  client.terminate();
  await Promise.all([nodeA.close({ timeout: 200 }), nodeB.close({ timeout: 200 })]);
  await adapters.close();
  const oneSorted = Float64Array.from(one).sort();
  const floodSorted = latencies.subarray(0, Math.min(received, latencies.length)).sort();
  return {
    broker,
    oneP50: percentile(oneSorted, 0.5),
    oneP99: percentile(oneSorted, 0.99),
    oneCount: one.length,
    rate: received / ((end - start) / 1000),
    floodP50: percentile(floodSorted, 0.5),
    floodP99: percentile(floodSorted, 0.99),
    floodCount: received,
  };
}

function table(results: Result[]): string {
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  const rows = [
    ['broker', 'one at a time: p50 ms', 'p99 ms', 'n', 'flood: msg/s', 'p50 ms', 'p99 ms', 'n'],
    ...results.map((r) =>
      r.note !== undefined
        ? [r.broker, r.note, '', '', '', '', '', '']
        : [
            r.broker,
            ms(r.oneP50),
            ms(r.oneP99),
            String(r.oneCount),
            Math.round(r.rate).toLocaleString('en-US'),
            ms(r.floodP50),
            ms(r.floodP99),
            String(r.floodCount),
          ],
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(
    `Cross-node publish, ${options.size}-byte binary payload, ${options.seconds} s flood per broker (window ${options.window}), ` +
      `one process on ${cpus().length} core(s), node ${process.version}`,
  );
  const results: Result[] = [];
  for (const broker of options.brokers) {
    try {
      results.push(await measure(broker, options));
    } catch (error) {
      results.push({
        broker,
        note: `skipped: ${(error as Error).message}`,
        oneP50: NaN,
        oneP99: NaN,
        oneCount: 0,
        rate: NaN,
        floodP50: NaN,
        floodP99: NaN,
        floodCount: 0,
      });
    }
  }
  console.log(table(results));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
