// The relay soak (`npm run soak -- --relay`): an in-process relay (`wavecast serve` without the CLI),
// many wavecast/browser clients in a child process (relay-loadgen.ts) that are dropped abruptly and
// reconnect, while this process publishes over HTTP and the clients publish over WebSocket. At the end,
// with publishing stopped and every client back, each client must have had every message of its two
// channels exactly once, in order, up to the channel's latest: losses, duplicates and gaps 0.
import { Agent, request } from 'node:http';
import { startRelay } from '../fuzz/relay-harness.js';
import { LoadChild } from './child.js';
import { watchMemory, type MemoryFigures } from './memory.js';
import type { FromRelayLoad, RelayLoadReport, ToRelayLoad } from './relay-protocol.js';

export interface RelaySoakOptions {
  clients: number;
  channels: number;
  durationMs: number;
  /** HTTP publishes per second from this process, and WebSocket publishes per second from the clients. */
  httpPerSecond: number;
  wsPerSecond: number;
  /** Clients dropped per second. */
  dropsPerSecond: number;
  /** Messages kept per channel: enough for what a client misses while it reconnects. */
  history: number;
  log?: (line: string) => void;
}

export interface RelaySoakReport {
  options: RelaySoakOptions;
  load: RelayLoadReport;
  httpPublished: number;
  httpFailed: number;
  /** Messages the relay numbered, all channels together. */
  numbered: number;
  durationMs: number;
  memory: MemoryFigures;
  errorsLogged: string[];
}

export async function runRelaySoak(options: RelaySoakOptions): Promise<RelaySoakReport> {
  const log = options.log ?? (() => {});
  const memory = watchMemory();
  const sample = memory.sample;
  // The relay of the fuzz targets: rate limit off, 4 MiB of backpressure a client, errors it logs kept.
  const { relay, errors: errorsLogged } = await startRelay({ maxPayload: 65536, historyLimit: options.history });
  const channels = Array.from({ length: options.channels }, (_, i) => `soak/${i}`);
  const child = new LoadChild<FromRelayLoad, ToRelayLoad>(new URL('./relay-loadgen.js', import.meta.url));
  const next = child.next.bind(child);
  const tell = child.tell.bind(child);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let httpPublished = 0;
  let httpFailed = 0;
  let inflight = 0;
  const idle: Array<() => void> = [];
  const post = (channel: string, text: string) => {
    inflight++;
    const done = (ok: boolean) => {
      if (ok) httpPublished++;
      else httpFailed++;
      if (--inflight === 0) for (const resolve of idle.splice(0)) resolve();
    };
    const body = Buffer.from(text);
    const req = request(
      {
        host: '127.0.0.1',
        port: relay.address().port,
        method: 'POST',
        path: `/channels/${encodeURIComponent(channel)}/messages`,
        agent,
        headers: { 'Content-Type': 'text/plain', 'Content-Length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode === 200));
      },
    );
    req.on('error', () => done(false));
    req.end(body);
  };

  try {
    const started = Date.now();
    tell({
      type: 'start',
      url: relay.url,
      clients: options.clients,
      channels,
      publishPerSecond: options.wsPerSecond,
      dropsPerSecond: options.dropsPerSecond,
      backoff: { initial: 50, max: 1000 },
    });
    const ready = await next('ready');
    sample();
    log(`relay soak: ${ready.open} clients open and joined in ${Date.now() - started} ms`);
    const runStart = Date.now();
    let owed = 0;
    let last = runStart;
    let lastLog = runStart;
    let n = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = Date.now();
        owed += (options.httpPerSecond * (now - last)) / 1000;
        last = now;
        // At most 64 requests under way: a slow relay slows the publisher instead of piling requests up.
        for (; owed >= 1 && inflight < 64; owed--) post(channels[n % channels.length]!, `h:${++n}`);
        owed = Math.min(owed, 64);
        if (now - lastLog >= 5000) {
          lastLog = now;
          sample();
          log(
            `relay soak: ${((now - runStart) / 1000).toFixed(0)} s, ${httpPublished} HTTP publishes, rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MiB`,
          );
        }
        if (now - runStart >= options.durationMs) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const durationMs = Date.now() - runStart;
    tell({ type: 'quiesce' });
    await next('quiet');
    if (inflight > 0) await new Promise<void>((resolve) => idle.push(resolve));
    sample();
    const latest = await Promise.all(channels.map((channel) => relay.history.latest(channel)));
    tell({ type: 'final', latest });
    const load = await next('report');
    await child.exited;
    await relay.close(5000);
    agent.destroy();
    return {
      options,
      load,
      httpPublished,
      httpFailed,
      numbered: latest.reduce((a, b) => a + b, 0),
      durationMs,
      memory: memory.end(),
      errorsLogged,
    };
  } finally {
    child.kill();
    agent.destroy();
    await relay.close(100);
  }
}
