// The soak: a WebSocketServer in this process, many connections from a load generator in a child process
// (loadgen.ts), connections churned while the server publishes to topics, then a graceful shutdown.
// Checks that no message published before the shutdown is lost (per connection, by sequence number),
// that every connection ends with the shutdown's close code and none is left half-open on either side,
// and measures memory before, at the peak and after.
import { WebSocketServer } from '../src/server/websocket-server.js';
import type { WebSocket } from '../src/connection/websocket.js';
import { LoadChild } from './child.js';
import { watchMemory, type MemoryFigures } from './memory.js';
import { allTopicIndex, encodePublished, type FromLoad, type LoadReport, type ToLoad } from './protocol.js';

export interface SoakOptions {
  connections: number;
  /** How long to publish and churn (ms). */
  durationMs: number;
  topics: number;
  /** Publishes per second to the topics t0..tN (each reaches connections / topics subscribers). */
  publishPerSecond: number;
  /** Publishes per second to 'all' (each reaches every connection). */
  broadcastPerSecond: number;
  churnPerSecond: number;
  payloadBytes: number;
  /** Load generator processes (default 1). */
  generators?: number;
  /** The graceful shutdown's timeout (ms). */
  closeTimeoutMs: number;
  /** Called with a line of progress now and then. */
  log?: (line: string) => void;
}

export interface SoakReport {
  options: SoakOptions;
  load: LoadReport;
  published: number;
  /** Deliveries the server accepted (the sum of what publish() returned). */
  deliveries: number;
  shutdownMs: number;
  /** Connections the server still had after close() resolved, and TCP sockets left in this process. */
  serverClientsAfter: number;
  tcpHandlesAfter: number;
  memory: MemoryFigures;
  stats: WebSocketServer['stats'];
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap').length;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const memory = watchMemory();
  const sample = memory.sample;

  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', backlog: 4096, handshakeTimeout: 30_000 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const port = (wss.address() as { port: number }).port;
  const topics = Array.from({ length: options.topics }, (_, i) => `t${i}`);
  const all = allTopicIndex(options.topics);
  const seqs = new Array<number>(options.topics + 1).fill(0);
  wss.on('connection', (ws: WebSocket, request: { url?: string }) => {
    const id = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('id'));
    const t = id % options.topics;
    ws.send(JSON.stringify({ last: [seqs[t], seqs[all]] }));
    ws.subscribe(topics[t]!);
    ws.subscribe('all');
  });

  // The load is spread over several generator processes (one process reading every message was the
  // limit of the churn rate); each gets its share of the connections and of the churn.
  const generators = Math.max(1, Math.min(options.generators ?? 1, options.connections));
  const children = Array.from({ length: generators }, () => new LoadChild<FromLoad, ToLoad>(new URL('./loadgen.js', import.meta.url)));
  const share = (total: number, i: number) => Math.floor(total / generators) + (i < total % generators ? 1 : 0);
  const nextAll = <T extends FromLoad['type']>(type: T) => Promise.all(children.map((c) => c.next(type)));
  const tellAll = (message: ToLoad) => children.forEach((c) => c.tell(message));

  try {
    const started = Date.now();
    children.forEach((c, i) =>
      c.tell({
        type: 'start',
        port,
        connections: share(options.connections, i),
        topics: options.topics,
        churnPerSecond: options.churnPerSecond / generators,
        openConcurrency: Math.ceil(256 / generators),
        firstId: i * 10_000_000,
      }),
    );
    const ready = { open: (await nextAll('ready')).reduce((sum, r) => sum + r.open, 0) };
    sample();
    log(
      `soak: ${ready.open} connections open in ${Date.now() - started} ms; server clients ${wss.clients.size}; rss ${mb(process.memoryUsage().rss)}`,
    );

    // Publish (and the generator churns) for the duration: one timer, a batch per 10 ms.
    let published = 0;
    let deliveries = 0;
    let topicCursor = 0;
    let owed = 0;
    let broadcastOwed = 0;
    const publish = (t: number, name: string) => {
      seqs[t]!++;
      deliveries += wss.publish(name, encodePublished(t, seqs[t]!, options.payloadBytes));
      published++;
    };
    const runStart = Date.now();
    let lastLog = runStart;
    let lastTick = runStart;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        // What is owed follows the clock, however late the timer fires.
        const tick = Date.now();
        owed += (options.publishPerSecond * (tick - lastTick)) / 1000;
        broadcastOwed += (options.broadcastPerSecond * (tick - lastTick)) / 1000;
        lastTick = tick;
        for (; owed >= 1; owed--) {
          publish(topicCursor, topics[topicCursor]!);
          topicCursor = (topicCursor + 1) % options.topics;
        }
        for (; broadcastOwed >= 1; broadcastOwed--) publish(all, 'all');
        const now = Date.now();
        if (now - lastLog >= 5000) {
          lastLog = now;
          sample();
          log(
            `soak: ${((now - runStart) / 1000).toFixed(0)} s, ${published} publishes, ${deliveries} deliveries, ${wss.clients.size} clients, rss ${mb(process.memoryUsage().rss)}, heap ${mb(process.memoryUsage().heapUsed)}`,
          );
        }
        if (now - runStart >= options.durationMs) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    sample();

    // Shut down: no more churn, one last publish round, then close gracefully right behind it.
    tellAll({ type: 'stopChurn' });
    const quiet = { open: (await nextAll('churnStopped')).reduce((sum, r) => sum + r.open, 0) };
    for (let t = 0; t < options.topics; t++) publish(t, topics[t]!);
    publish(all, 'all');
    sample();
    log(
      `soak: shutting down with ${quiet.open} checked connections (${wss.clients.size} on the server), ${published} publishes, ${deliveries} deliveries`,
    );
    const closeStart = Date.now();
    await wss.close({ code: 1001, reason: 'soak over', timeout: options.closeTimeoutMs });
    const shutdownMs = Date.now() - closeStart;
    const serverClientsAfter = wss.clients.size;
    tellAll({ type: 'final', finals: seqs });
    const load = mergeReports(await nextAll('report'));
    await Promise.all(children.map((c) => c.exited));
    const tcpHandlesAfter = tcpHandles();
    return {
      options,
      load,
      published,
      deliveries,
      shutdownMs,
      serverClientsAfter,
      tcpHandlesAfter,
      memory: memory.end(),
      stats: { ...wss.stats },
    };
  } finally {
    for (const c of children) c.kill();
    await wss.close({ timeout: 100 });
  }
}

/** The generators' reports as one: counts added, close codes merged, the largest RSS. */
function mergeReports(reports: LoadReport[]): LoadReport {
  const merged: LoadReport = {
    type: 'report',
    opened: 0,
    churned: 0,
    checked: 0,
    received: 0,
    lost: 0,
    disorder: 0,
    closes: {},
    stillOpen: 0,
    failedOpens: 0,
    rssMax: 0,
    churnMs: 0,
  };
  for (const r of reports) {
    for (const key of ['opened', 'churned', 'checked', 'received', 'lost', 'disorder', 'stillOpen', 'failedOpens'] as const)
      merged[key] += r[key];
    for (const [code, n] of Object.entries(r.closes)) merged.closes[code] = (merged.closes[code] ?? 0) + n;
    merged.rssMax = Math.max(merged.rssMax, r.rssMax);
    merged.churnMs = Math.max(merged.churnMs, r.churnMs);
  }
  return merged;
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
