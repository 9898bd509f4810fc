// The load generator: one child process (or a few) that drives a server the same way whatever the server
// is. It is built not to be the bottleneck: frames are built and masked once before the run and written
// as slices of one buffer; reads land in one shared buffer (`net`'s `onread`, no Readable, no copies) and
// only frame headers are parsed, payloads are skipped by length; several replies that arrive in one read
// are answered with one write (the connections are in lib/gen-conn.ts; the relay scenarios' clients in
// relay-gen.ts). It reports its own CPU use and event-loop utilization so the runner can flag a run where
// it, not the server, was the limit.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import type { GenConfig, GenResult, GenToRunner, RunnerToGen } from './lib/types.js';
import { binaryPayload, jsonPayload, textPayload } from './lib/payloads.js';
import { Samples } from './lib/stats.js';
import { buildFrame, OP_CLOSE } from './lib/wire.js';
import {
  ACCEPT,
  connectAll,
  flushSends,
  gen,
  KEY,
  MASK,
  paced,
  PING,
  prepareFrames,
  sleep,
  until,
  withTimeout,
  type Conn,
} from './lib/gen-conn.js';
import { runRelay } from './relay-gen.js';

function send(message: GenToRunner): void {
  process.send?.(message);
}

/** Sends one message on the first connection and checks the first message it gets back. */
async function verify(cfg: GenConfig, conns: Conn[], payload: Buffer, waitAll: boolean): Promise<string> {
  const c = conns[0]!;
  const got = new Promise<{ payload: Buffer; rsv1: boolean }>((resolve) => {
    c.capture = [];
    c.onCapture = (p, rsv1) => {
      c.onCapture = null;
      resolve({ payload: p, rsv1 });
    };
  });
  gen.running = true;
  c.toSend = 1;
  flushSends(c);
  gen.running = false;
  const reply = await withTimeout(got, 10_000, 'the reply to the first message');
  let data = reply.payload;
  let how = 'echoed payload matches';
  if (reply.rsv1) {
    data = zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    how = 'compressed reply inflates to the payload';
  } else if (cfg.deflate) {
    how = 'reply (sent uncompressed) matches';
  }
  if (!data.equals(payload)) {
    throw new Error(`the server replied with ${data.length} bytes that differ from the payload`);
  }
  if (waitAll) {
    // Every connection of this process must see the broadcast (subscriptions are in place).
    let missing = conns.filter((x) => x.received === 0).length;
    gen.onMessage = (x) => {
      if (x.received === 1) missing--;
    };
    await until(() => missing === 0, 10_000, 'every connection to receive the first broadcast');
    gen.onMessage = () => {};
  }
  return how;
}

// ---- handshake churn ----
async function handshakeLoop(cfg: GenConfig, stop: () => boolean): Promise<void> {
  const request =
    `GET / HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const close = buildFrame(OP_CLOSE, Buffer.from([0x03, 0xe8]), MASK);
  let seq = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const local = cfg.localAddresses.length ? cfg.localAddresses[seq++ % cfg.localAddresses.length] : undefined;
      const socket = net.connect({ host: cfg.host, port: cfg.port, ...(local ? { localAddress: local } : {}) });
      socket.setNoDelay(true);
      let head = '';
      let upgraded = false;
      const timer = setTimeout(() => socket.destroy(), 5000);
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) return;
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!head.startsWith('HTTP/1.1 101') || !head.toLowerCase().includes(ACCEPT)) {
          gen.lost++;
          socket.destroy();
          return;
        }
        upgraded = true;
        gen.handshakes++;
        // Close cleanly: the server answers the close frame and ends the TCP connection first, so the
        // client's ports do not pile up in TIME_WAIT.
        socket.write(close);
      });
      socket.on('error', () => {
        if (!upgraded) gen.lost++;
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const worker = async () => {
    while (!stop()) await one();
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
}

/** The server cannot run this scenario (the runner reports it as skipped, not failed). */
export class Unsupported extends Error {}

// ---- the run ----
let goResolve: (() => void) | null = null;
const go = new Promise<void>((resolve) => (goResolve = resolve));
let proceedResolve: (() => void) | null = null;
const proceed = new Promise<void>((resolve) => (proceedResolve = resolve));

async function measureWindow(
  cfg: GenConfig,
): Promise<{ elapsedMs: number; cpu: number; cpuSystem: number; elu: number; at: [number, number] } & Counts> {
  await sleep(cfg.warmupMs);
  gen.measuring = true;
  const c0 = counts();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  send({ type: 'measure-start', proc: cfg.proc });
  await sleep(cfg.measureMs);
  gen.measuring = false;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const c1 = counts();
  send({ type: 'measure-end', proc: cfg.proc });
  const elapsedMs = t1 - t0;
  return {
    elapsedMs,
    cpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
    cpuSystem: cpu.system / 1000 / elapsedMs,
    elu: elu.utilization,
    at: [t0, t1],
    messages: c1.messages - c0.messages,
    bytes: c1.bytes - c0.bytes,
    sent: c1.sent - c0.sent,
    handshakes: c1.handshakes - c0.handshakes,
  };
}

interface Counts {
  messages: number;
  bytes: number;
  sent: number;
  handshakes: number;
}
function counts(): Counts {
  return { messages: gen.messages, bytes: gen.bytes, sent: gen.sent, handshakes: gen.handshakes };
}

async function run(cfg: GenConfig): Promise<GenResult> {
  const base = { proc: cfg.proc, latenciesMs: [] as number[], percentiles: null, lost: 0 };
  if (cfg.kind === 'relay') {
    return runRelay(cfg, {
      connected: (connections, verified) => send({ type: 'connected', proc: cfg.proc, connections, verified }),
      go,
      measure: () => measureWindowAndStop(cfg),
    });
  }
  const payload = cfg.deflate ? jsonPayload(cfg.payloadSize) : cfg.binary ? binaryPayload(cfg.payloadSize) : textPayload(cfg.payloadSize);

  if (cfg.kind === 'handshake') {
    const verified = 'every reply checked: 101 and Sec-WebSocket-Accept';
    send({ type: 'connected', proc: cfg.proc, connections: 0, verified });
    await go;
    let stopped = false;
    const loop = handshakeLoop(cfg, () => stopped);
    const m = await measureWindow(cfg);
    stopped = true;
    await withTimeout(loop, 10_000, 'the last handshakes to finish');
    return { ...base, ...m, connections: cfg.concurrency, lost: gen.lost, verified };
  }

  if (cfg.kind === 'idle') {
    await warmUp(cfg, payload);
    send({ type: 'warmed', proc: cfg.proc });
    await proceed;
  }
  const conns = await connectAll(cfg);
  if (cfg.deflate && !conns[0]!.deflateAccepted) {
    throw new Unsupported('the server did not negotiate permessage-deflate');
  }
  prepareFrames(payload, cfg, conns[0]!.windowBits);

  let verified = `${conns.length} handshakes checked`;
  if (cfg.kind === 'idle' && cfg.traffic > 0) verified += '; ' + (await traffic(cfg, conns));
  if (cfg.kind !== 'idle') {
    const fanout = cfg.kind === 'chat' || cfg.kind === 'fanout' || cfg.kind === 'steady';
    // With several generator processes only the first sends the check message in fan-out scenarios.
    if (!fanout || cfg.proc === 0) verified += '; ' + (await verify(cfg, conns, payload, fanout));
    for (const c of conns) c.credit = 0;
  }
  send({ type: 'connected', proc: cfg.proc, connections: conns.length, verified });
  await go;

  if (cfg.kind === 'idle') {
    const none = { elapsedMs: 0, messages: 0, bytes: 0, sent: 0, handshakes: 0, cpu: 0, cpuSystem: 0, elu: 0 };
    return { ...base, ...none, connections: conns.length, verified };
  }
  if (cfg.kind === 'fanout') return { ...base, ...(await oneAtATime(cfg, conns)), verified };
  if (cfg.kind === 'steady') return { ...base, ...(await steady(cfg, conns)), verified };

  if (cfg.kind === 'echo') {
    gen.onMessage = (c) => {
      c.toSend++;
    };
  } else {
    // Chat: each client sends one message for every `totalConnections` it receives: as many messages stay
    // in flight as the clients started with, whatever the server's speed.
    const n = cfg.totalConnections;
    gen.onMessage = (c) => {
      if (++c.credit >= n) {
        c.credit -= n;
        c.toSend++;
      }
    };
  }
  gen.running = true;
  for (const c of conns) {
    c.toSend = cfg.inflight;
    flushSends(c);
  }
  const r = await measureWindowAndStop(cfg);
  return { ...base, ...r, connections: conns.length, lost: gen.lost, verified };
}

/** Connections opened before the memory scenarios' first reading, taken through the same steps, closed. */
const WARM_UP_CONNECTIONS = 100;

async function warmUp(cfg: GenConfig, payload: Buffer): Promise<void> {
  const warm = { ...cfg, connections: Math.min(WARM_UP_CONNECTIONS, cfg.connections) };
  const conns = await connectAll(warm);
  prepareFrames(payload, cfg, conns[0]!.windowBits);
  if (cfg.traffic > 0) await traffic(warm, conns);
  // Closed from this side: each socket's 'close' comes once the server has ended its side too.
  await withTimeout(
    Promise.all(
      conns.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.closed = true;
            c.socket.once('close', () => resolve());
            c.socket.end();
          }),
      ),
    ),
    30_000,
    'the warm-up connections to close',
  );
}

/** Memory after traffic: every connection sends `cfg.traffic` messages and a ping, and gets them back. */
async function traffic(cfg: GenConfig, conns: Conn[]): Promise<string> {
  const messages = gen.messages;
  const pongs = gen.pongs;
  gen.running = true;
  for (const c of conns) {
    c.toSend = cfg.traffic;
    flushSends(c);
    c.socket.write(PING);
  }
  gen.running = false;
  const n = conns.length;
  await until(
    () => gen.messages - messages >= n * cfg.traffic && gen.pongs - pongs >= n,
    30_000 + n,
    `${n * cfg.traffic} echoes and ${n} pongs`,
  );
  return `${cfg.traffic} messages echoed and a ping answered on each`;
}

/**
 * Fan-out, one publish at a time: the first connection publishes; the next publish goes out once every
 * connection has it, and (with `cfg.rate`) no sooner than 1/rate s after the previous one, so that every
 * server gets the same offered load and the generator is not the limit. Every delivery's time since the
 * publish is a sample; so is the time to the last.
 */
async function oneAtATime(cfg: GenConfig, conns: Conn[]) {
  const publisher = conns[0]!;
  const n = conns.length;
  const interval = cfg.rate > 0 ? 1000 / cfg.rate : 0;
  const latencies: { ms: number; at: number }[] = [];
  const samples = new Samples();
  let got = 0;
  let start = 0;
  const publish = () => {
    if (!gen.running) return;
    got = 0;
    start = performance.now();
    publisher.toSend = 1;
    flushSends(publisher);
  };
  gen.onMessage = () => {
    const now = performance.now();
    if (gen.measuring) samples.push(now - start);
    if (++got === n) {
      latencies.push({ ms: now - start, at: now });
      const wait = start + interval - now;
      if (wait <= 0) publish();
      else setTimeout(publish, wait);
    }
  };
  gen.running = true;
  const m = measureWindowAndStop(cfg);
  publish();
  const r = await m;
  const inWindow = latencies.filter((l) => l.at >= r.at[0] && l.at <= r.at[1]).map((l) => l.ms);
  return { ...r, latenciesMs: inWindow, percentiles: samples.summary(), connections: n, lost: gen.lost };
}

/**
 * Steady fan-out: the first connection publishes `cfg.rate` times a second on a timer (open loop). Each
 * connection gets the publishes in order, so its k-th message since the start is the k-th publish.
 */
async function steady(cfg: GenConfig, conns: Conn[]) {
  const publisher = conns[0]!;
  const sentAt = new Samples();
  const samples = new Samples();
  let unmatched = 0;
  for (const c of conns) c.base = c.received;
  gen.onMessage = (c) => {
    const k = c.received - c.base - 1;
    if (k >= sentAt.length) unmatched++;
    else if (gen.measuring) samples.push(performance.now() - sentAt.at(k));
  };
  gen.running = true;
  const stop = paced(cfg.rate, (k) => {
    for (let i = 0; i < k; i++) sentAt.push(performance.now());
    publisher.toSend += k;
    flushSends(publisher);
  });
  const r = await measureWindowAndStop(cfg);
  stop();
  if (unmatched > 0) throw new Error(`${unmatched} messages arrived that were never published (lost or reordered deliveries)`);
  return { ...r, percentiles: samples.summary(), connections: conns.length, lost: gen.lost };
}

async function measureWindowAndStop(cfg: GenConfig) {
  const m = await measureWindow(cfg);
  gen.running = false;
  return m;
}

process.on('message', (msg: RunnerToGen) => {
  if (msg.cmd === 'run') {
    const cfg = msg.config;
    run(cfg).then(
      (result) => send({ type: 'result', result }),
      (err: unknown) => {
        if (err instanceof Unsupported) send({ type: 'unsupported', proc: cfg.proc, reason: err.message });
        else send({ type: 'error', proc: cfg.proc, message: err instanceof Error ? err.message : String(err) });
      },
    );
  } else if (msg.cmd === 'proceed') {
    proceedResolve?.();
  } else if (msg.cmd === 'go') {
    goResolve?.();
  } else if (msg.cmd === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
