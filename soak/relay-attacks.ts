// `npm run soak -- --traffic [--cli PATH] [--only NAME,...] [--seconds N] [--cap-mib N]`: the attacks of
// issue 14 on the relay's traffic, run against a real `wavecast serve` process, to measure what each makes
// the relay hold and whether others are still served. The before/after figures in docs/RELIABILITY.md
// come from here (--cli: another build of the command, such as main's dist/cli/main.js).
//
// Each attack starts its own relay (default flags unless said), samples its RSS every 100 ms, and stops
// early, killing the relay, if the RSS passes --cap-mib (default 1,536: the machine is shared).
// ATTACK_DEBUG=1 passes the relay's log through and prints why clients were closed.
// Attacks: replay, presence-churn, presence-fanout, pipelined-get, post-flood, post-flood-unlimited (the
// same with --http-rate-limit 0, where the build has it: what history alone keeps), redis-keys,
// nats-streams, stall.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WsClient from 'ws';
import { RawV1 } from '../fuzz/relay-harness.js';
import { CLI_MAIN, killAll, startRelay, type RelayProcess } from '../test/relay/relay-process.js';
import { processRssMiB as rssMiB } from './memory.js';

// `--traffic` is how soak/main.ts chose this script.
const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: {
    traffic: { type: 'boolean' },
    cli: { type: 'string' },
    seconds: { type: 'string' },
    'cap-mib': { type: 'string' },
    only: { type: 'string' },
  },
});
const SERVE = flags.cli ?? CLI_MAIN;
const SECONDS = Number(flags.seconds ?? '30');
const CAP_MIB = Number(flags['cap-mib'] ?? '1536');
if (!(SECONDS > 0) || !(CAP_MIB > 0)) throw new Error('--seconds and --cap-mib take positive numbers');
const ONLY = (flags.only ?? '').split(',').filter(Boolean);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Flags a build has (one from before them has no such limit to lift). */
const HELP = spawnSync(process.execPath, [SERVE, 'serve', '--help'], { encoding: 'utf8' }).stdout;
const HTTP_UNLIMITED = HELP.includes('--http-rate-limit') ? ['--http-rate-limit', '0'] : [];
/** All the attack's connections come from 127.0.0.1. */
const PER_IP_UNLIMITED = HELP.includes('--max-connections-per-ip') ? ['--max-connections-per-ip', '0'] : [];

interface Served {
  relay: RelayProcess;
  port: number;
  pid: number;
  rssStart: number;
  rssPeak: number;
  /** Set when the relay passed the RSS cap and was killed. */
  cappedAfter: number | null;
  rss(): number;
  stop(): Promise<void>;
}

/** Starts the relay (log level error), sampling its RSS every 100 ms and killing it past the cap. */
async function serve(args: string[]): Promise<Served> {
  const relay = await startRelay(['--log-level', 'error', ...PER_IP_UNLIMITED, ...args], {}, { cli: SERVE });
  if (process.env.ATTACK_DEBUG) relay.child.stderr!.pipe(process.stderr);
  const pid = relay.child.pid!;
  const started = performance.now();
  const served: Served = {
    relay,
    port: relay.port,
    pid,
    rssStart: rssMiB(pid),
    rssPeak: 0,
    cappedAfter: null,
    rss: () => rssMiB(pid),
    async stop() {
      clearInterval(timer);
      await relay.stop('SIGKILL');
    },
  };
  const timer = setInterval(() => {
    const rss = rssMiB(pid);
    served.rssPeak = Math.max(served.rssPeak, rss);
    if (rss > CAP_MIB && served.cappedAfter === null) {
      served.cappedAfter = Math.round((performance.now() - started) / 100) / 10;
      relay.child.kill('SIGKILL');
    }
  }, 100);
  timer.unref();
  return served;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function http(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - start }));
      res.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - start }));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - start }));
    req.end(body);
  });
}

async function queuedBytes(port: number): Promise<number> {
  const metrics = await http(port, 'GET', '/metrics', undefined, {}, 5000);
  const line = metrics.body.split('\n').find((l) => l.startsWith('wavecast_relay_queued_bytes '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** A reading client that pings the relay (a wavecast.v1 ping envelope) every 200 ms; the slowest answer. */
async function probe(port: number): Promise<{ stop(): { maxRttMs: number; unanswered: number } }> {
  const ws = new WsClient(`ws://127.0.0.1:${port}/`, 'wavecast.v1');
  ws.on('error', () => {});
  await new Promise((resolve) => ws.once('open', resolve).once('close', resolve));
  const sent = new Map<number, number>();
  let maxRttMs = 0;
  let id = 0;
  ws.on('message', (data) => {
    const e = JSON.parse(String(data)) as { type: string; id?: number };
    if (e.type !== 'pong' || typeof e.id !== 'number') return;
    maxRttMs = Math.max(maxRttMs, performance.now() - sent.get(e.id)!);
    sent.delete(e.id);
  });
  const timer = setInterval(() => {
    if (ws.readyState !== 1) return;
    sent.set(++id, performance.now());
    ws.send(JSON.stringify({ type: 'ping', id }));
  }, 200);
  return {
    stop() {
      clearInterval(timer);
      // Pings never answered count from when they were sent.
      for (const at of sent.values()) maxRttMs = Math.max(maxRttMs, performance.now() - at);
      ws.terminate();
      return { maxRttMs: Math.round(maxRttMs), unanswered: sent.size };
    },
  };
}

/** Runs `tick` every 1000/perSecond ms until stopped. */
function every(perSecond: number, tick: () => void): () => void {
  const timer = setInterval(tick, 1000 / perSecond);
  return () => clearInterval(timer);
}

/** Waits `seconds`, or less if the relay was killed at the cap; samples the relay's queued bytes meanwhile. */
async function hold(relay: Served, seconds: number): Promise<{ queuedPeak: number }> {
  let queuedPeak = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && relay.cappedAfter === null) {
    await sleep(1000);
    if (relay.cappedAfter === null) {
      const q = await queuedBytes(relay.port).catch(() => NaN);
      if (Number.isFinite(q)) queuedPeak = Math.max(queuedPeak, q);
    }
  }
  return { queuedPeak };
}

type Result = Record<string, unknown>;

function memory(relay: Served): Result {
  return { rssStartMiB: Math.round(relay.rssStart), rssPeakMiB: Math.round(relay.rssPeak), cappedAfterSeconds: relay.cappedAfter };
}

async function fill(port: number, channel: string, count: number, size: number): Promise<void> {
  for (let i = 0; i < count; i++)
    await http(port, 'POST', `/channels/${channel}/messages`, 'x'.repeat(size), { 'Content-Type': 'text/plain' });
}

/** 20 connections that never read rejoin `since: 0` as fast as the rate limit lets them (a replay of ~1 MiB each time). */
async function replay(): Promise<Result> {
  const relay = await serve([]);
  try {
    await fill(relay.port, 'firehose', 16, 60_000);
    const p = await probe(relay.port);
    const attackers = await Promise.all(Array.from({ length: 20 }, () => RawV1.open(relay.port)));
    for (const a of attackers) a.socket.pause();
    let n = 0;
    const stop = every(18, () => {
      n++;
      for (const a of attackers)
        if (!a.socket.destroyed)
          a.sendJson(n % 2 === 1 ? { type: 'join', channel: 'firehose', since: 0 } : { type: 'leave', channel: 'firehose' });
    });
    const { queuedPeak } = await hold(relay, SECONDS);
    stop();
    const probed = p.stop();
    const closed = attackers.filter((a) => a.socket.destroyed || a.closeCode !== null).length;
    for (const a of attackers) a.socket.destroy();
    return {
      ...memory(relay),
      queuedPeakMiB: Math.round(queuedPeak / 1048576),
      probeMaxRttMs: probed.maxRttMs,
      probeUnanswered: probed.unanswered,
      attackersCut: closed,
    };
  } finally {
    await relay.stop();
  }
}

/** 100 members that never read; 100 connections join and leave their channel (names of 64 characters) as fast as the rate limit lets them. */
async function presenceChurn(): Promise<Result> {
  const relay = await serve([]);
  try {
    const p = await probe(relay.port);
    const members = await Promise.all(Array.from({ length: 100 }, () => RawV1.open(relay.port)));
    for (const [i, m] of members.entries()) m.sendJson({ type: 'join', channel: 'lobby', name: `member-${i}` });
    await Promise.all(members.map((m) => m.barrier()));
    for (const m of members) m.socket.pause();
    const churners = await Promise.all(Array.from({ length: 100 }, () => RawV1.open(relay.port)));
    let n = 0;
    const stop = every(18, () => {
      n++;
      for (const [i, c] of churners.entries())
        c.sendJson(
          n % 2 === 1
            ? { type: 'join', channel: 'lobby', name: `churner-${i}-${n}-`.padEnd(64, 'x') }
            : { type: 'leave', channel: 'lobby' },
        );
    });
    const { queuedPeak } = await hold(relay, SECONDS);
    stop();
    const probed = p.stop();
    for (const c of [...members, ...churners]) c.socket.destroy();
    return {
      ...memory(relay),
      queuedPeakMiB: Math.round(queuedPeak / 1048576),
      probeMaxRttMs: probed.maxRttMs,
      probeUnanswered: probed.unanswered,
    };
  } finally {
    await relay.stop();
  }
}

/** A raw wavecast.v1 member that reads and counts what it gets. */
async function countingMember(port: number, name: string): Promise<{ socket: Socket; bytes(): number }> {
  const m = await RawV1.open(port);
  // Counted, not parsed: 2,000 members' envelopes would fill this process.
  m.socket.removeAllListeners('data');
  let bytes = 0;
  m.socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  m.sendJson({ type: 'join', channel: 'crowd', name });
  return { socket: m.socket, bytes: () => bytes };
}

/** 2,000 members that read; about 11 KB/s of joins and leaves (15 connections); a fresh client's join time. */
async function presenceFanout(): Promise<Result> {
  const relay = await serve([]);
  try {
    const members: Array<{ socket: Socket; bytes(): number }> = [];
    for (let i = 0; i < 2000; i += 100)
      members.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => countingMember(relay.port, `m${i + k}`)))));
    await sleep(2000);
    const before = members.reduce((sum, m) => sum + m.bytes(), 0);
    const churners = await Promise.all(Array.from({ length: 15 }, () => RawV1.open(relay.port)));
    let n = 0;
    let inBytes = 0;
    const stop = every(18, () => {
      n++;
      for (const [i, c] of churners.entries()) {
        const envelope = n % 2 === 1 ? { type: 'join', channel: 'crowd', name: `churner-${i}-${n}` } : { type: 'leave', channel: 'crowd' };
        inBytes += JSON.stringify(envelope).length;
        c.sendJson(envelope);
      }
    });
    const started = performance.now();
    let freshMaxMs = 0;
    while (performance.now() - started < 16_000 && relay.cappedAfter === null) {
      await sleep(2000);
      const fresh = await RawV1.open(relay.port).catch(() => null);
      if (fresh === null) continue;
      const at = performance.now();
      fresh.sendJson({ type: 'join', channel: 'crowd', name: 'fresh' });
      await fresh.until(() => fresh.envelopes.some((e) => e.type === 'joined'), 'joined', 30_000).catch(() => undefined);
      freshMaxMs = Math.max(freshMaxMs, performance.now() - at);
      await fresh.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    stop();
    const out = members.reduce((sum, m) => sum + m.bytes(), 0) - before;
    for (const c of churners) c.socket.destroy();
    for (const m of members) m.socket.destroy();
    return {
      ...memory(relay),
      churnInKiBPerSecond: Math.round(inBytes / 1024 / seconds),
      outMiB: Math.round(out / 1048576),
      seconds: Math.round(seconds),
      freshJoinMaxMs: Math.round(freshMaxMs),
    };
  } finally {
    await relay.stop();
  }
}

/** 2,000 pipelined history reads (113 KiB of requests) from a client that never reads; /healthz probed meanwhile. */
async function pipelinedGet(): Promise<Result> {
  const relay = await serve([]);
  try {
    await fill(relay.port, 'big', 16, 60_000);
    const attacker = netConnect({ port: relay.port, host: '127.0.0.1' });
    attacker.on('error', () => {});
    await new Promise((resolve) => attacker.once('connect', resolve));
    attacker.pause();
    const requestText = 'GET /channels/big/messages HTTP/1.1\r\nHost: x\r\n\r\n';
    attacker.write(requestText.repeat(Math.ceil((113 * 1024) / requestText.length)));
    let maxMs = 0;
    let failed = 0;
    const started = performance.now();
    while (performance.now() - started < SECONDS * 1000 && relay.cappedAfter === null) {
      const answer = await http(relay.port, 'GET', '/healthz', undefined, { Connection: 'close' }, 60_000);
      if (answer.status !== 200) failed++;
      maxMs = Math.max(maxMs, answer.ms);
      await sleep(100);
    }
    const cut = attacker.destroyed || attacker.readableEnded;
    attacker.destroy();
    return { ...memory(relay), healthzMaxMs: Math.round(maxMs), healthzFailed: failed, attackerCut: cut };
  } finally {
    await relay.stop();
  }
}

/** One client POSTing empty messages to new channels as fast as it can (64 at a time). */
async function postFlood(extra: string[]): Promise<Result> {
  const relay = await serve(extra);
  try {
    const counts = new Map<number, number>();
    let i = 0;
    const started = performance.now();
    const worker = async () => {
      while (performance.now() - started < SECONDS * 1000 && relay.cappedAfter === null) {
        const { status } = await http(relay.port, 'POST', `/channels/c-${i++}/messages`, '', { 'Content-Type': 'text/plain' });
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const seconds = (performance.now() - started) / 1000;
    const rssEnd = relay.rss();
    return {
      ...memory(relay),
      rssEndMiB: Math.round(rssEnd),
      publishedPerSecond: Math.round((counts.get(200) ?? 0) / seconds),
      refused429: counts.get(429) ?? 0,
      seconds: Math.round(seconds),
    };
  } finally {
    await relay.stop();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Publishes one message to each of 2,000 new channels (round `round`). */
async function newChannels(port: number, round: number): Promise<void> {
  for (let i = 0; i < 2000; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, k) =>
        http(port, 'POST', `/channels/r${round}-${i + k}/messages`, 'x', { 'Content-Type': 'text/plain' }),
      ),
    );
}

/** Waits up to 30 s (checking every second) until `held()` is at most `floor`; what it is then. */
async function idle(held: () => Promise<number>, floor: number): Promise<number> {
  const since = performance.now();
  let now = await held();
  while (performance.now() - since < 30_000 && now > floor) {
    await sleep(1000);
    now = await held();
  }
  return now;
}

/**
 * Three rounds of 2,000 new channels of one message each, through a relay on a private Redis with
 * --history-ttl 2: the keys and memory Redis holds once each round's channels are idle.
 */
async function redisKeys(): Promise<Result> {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const relay = await serve(['--redis', `redis://127.0.0.1:${port}`, '--history-ttl', '2', ...HTTP_UNLIMITED]);
    try {
      const { createClient } = await import('redis');
      const client = createClient({ url: `redis://127.0.0.1:${port}` });
      await client.connect();
      const keys = async () => {
        // Touch every key: Redis also expires lazily.
        for await (const batch of client.scanIterator({ COUNT: 1000 })) void batch;
        return client.dbSize();
      };
      const rounds: Array<{ keys: number; usedMiB: number }> = [];
      for (let round = 1; round <= 3; round++) {
        await newChannels(relay.port, round);
        await sleep(2500);
        const left = await idle(keys, 3);
        const usedMiB = Math.round((Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]) / 1048576) * 10) / 10;
        rounds.push({ keys: left, usedMiB });
      }
      await client.quit();
      return { keysLeftPerRound: rounds.map((r) => r.keys), redisUsedMemoryMiBPerRound: rounds.map((r) => r.usedMiB) };
    } finally {
      await relay.stop();
    }
  } finally {
    redis.kill('SIGKILL');
  }
}

/** The same through a private nats-server -js: the channel streams left and the server's RSS after each round. */
async function natsStreams(): Promise<Result> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-attack-nats-'));
  const nats = spawn('nats-server', ['-js', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const relay = await serve(['--nats', `nats://127.0.0.1:${port}`, '--history-ttl', '2', ...HTTP_UNLIMITED]);
    try {
      const { connect } = await import('nats');
      const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
      const streams = async () => {
        const lister = (await nc.jetstreamManager()).streams.names();
        let n = 0;
        for (let page = await lister.next(); page.length > 0; page = await lister.next())
          n += page.filter((name) => name.includes('_h_')).length;
        return n;
      };
      const rssStart = rssMiB(nats.pid!);
      const rounds: Array<{ streams: number; rssMiB: number }> = [];
      for (let round = 1; round <= 3; round++) {
        await newChannels(relay.port, round);
        // The messages expire after 2 s; the relay's sweep (every second) then deletes the streams.
        await sleep(2500);
        const left = await idle(streams, 0);
        rounds.push({ streams: left, rssMiB: Math.round(rssMiB(nats.pid!)) });
      }
      await nc.close();
      return {
        natsRssStartMiB: Math.round(rssStart),
        streamsLeftPerRound: rounds.map((r) => r.streams),
        natsRssMiBPerRound: rounds.map((r) => r.rssMiB),
      };
    } finally {
      await relay.stop();
    }
  } finally {
    nats.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 10 clients at 12 messages a second; the relay's process is stopped (SIGSTOP) for 13 s, then continued. */
async function stall(): Promise<Result> {
  const relay = await serve([]);
  try {
    const closes: number[] = [];
    const clients = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const ws = new WsClient(`ws://127.0.0.1:${relay.port}/stall`);
        ws.on('error', () => {});
        ws.on('message', () => {});
        ws.on('close', (code, reason) => {
          closes.push(code);
          if (process.env.ATTACK_DEBUG) console.log(code, String(reason));
        });
        await new Promise((resolve) => ws.once('open', resolve));
        return ws;
      }),
    );
    const stop = every(12, () => {
      for (const ws of clients) if (ws.readyState === 1) ws.send('tick');
    });
    await sleep(2000);
    relay.relay.child.kill('SIGSTOP');
    await sleep(13_000);
    relay.relay.child.kill('SIGCONT');
    await sleep(4000);
    stop();
    const closed1008 = closes.filter((code) => code === 1008).length;
    for (const ws of clients) ws.terminate();
    return { clients: 10, closedWith1008: closed1008 };
  } finally {
    await relay.stop();
  }
}

const ATTACKS: Record<string, () => Promise<Result>> = {
  replay,
  'presence-churn': presenceChurn,
  'presence-fanout': presenceFanout,
  'pipelined-get': pipelinedGet,
  'post-flood': () => postFlood([]),
  'post-flood-unlimited': () => postFlood(HTTP_UNLIMITED),
  'redis-keys': redisKeys,
  'nats-streams': natsStreams,
  stall,
};

console.log(JSON.stringify({ serve: SERVE, seconds: SECONDS, capMiB: CAP_MIB }));
for (const [name, attack] of Object.entries(ATTACKS)) {
  if (ONLY.length > 0 && !ONLY.includes(name)) continue;
  try {
    console.log(JSON.stringify({ attack: name, ...(await attack()) }));
  } catch (error) {
    console.log(JSON.stringify({ attack: name, error: String((error as Error)?.message ?? error) }));
  }
}
agent.destroy();
// A relay whose start failed (no listening line in time) is still running: it goes too.
killAll();
process.exit(0);
