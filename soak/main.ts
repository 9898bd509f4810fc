// `npm run soak`: the soak of run.ts at full size, with a summary.
//   npm run soak -- [--connections N] [--duration SECONDS] [--rate PUBLISHES_PER_S] [--broadcast PER_S]
//                   [--churn PER_S] [--topics N] [--payload BYTES] [--rounds N] [--generators N]
// Defaults: 10,000 connections, 45 s, 2 rounds (about two minutes in all), the load spread over 2
// generator processes.
// With --rounds N the whole soak (connect, publish and churn, shut down) runs N times in this process, on
// a new server each time: RSS that a first round leaves behind (memory the allocator keeps for reuse)
// must not grow round after round.
//
//   npm run soak -- --relay [--clients N] [--channels N] [--duration SECONDS] [--http-rate PER_S]
//                   [--ws-rate PER_S] [--drops PER_S] [--history N]
// The relay soak (relay-run.ts): wavecast/browser clients dropped abruptly and reconnecting while
// messages are published over HTTP and WebSocket; every client must get every message of its channels
// exactly once, in order. Defaults: 1,000 clients, 50 channels, 120 s, 200 + 200 publishes/s, 20 drops/s.
//
//   npm run soak -- --attacks [--cli PATH] [--only NAME,...]
// The admission attacks (attacks.ts) against `wavecast serve` processes: this build's, or --cli's.
//
//   npm run soak -- --traffic [--cli PATH] [--only NAME,...] [--seconds N] [--cap-mib N]
// The attacks on the relay's traffic (relay-attacks.ts): replays, presence churn, pipelined history
// reads, HTTP publish floods, broker keys of idle channels, a stalled event loop.
import { mb, runSoak, type SoakOptions, type SoakReport } from './run.js';
import { runRelaySoak, type RelaySoakOptions } from './relay-run.js';

const options: SoakOptions = {
  connections: 10_000,
  durationMs: 45_000,
  topics: 100,
  publishPerSecond: 400,
  broadcastPerSecond: 2,
  churnPerSecond: 200,
  payloadBytes: 64,
  closeTimeoutMs: 10_000,
  generators: 2,
  log: (line) => console.log(line),
};
let rounds = 2;
const argv = process.argv.slice(2);
if (argv.includes('--traffic')) {
  await import('./relay-attacks.js'); // reads its own arguments, and exits
}
if (argv.includes('--attacks')) {
  await import('./attacks.js'); // reads its own arguments, and exits
}
if (argv.includes('--relay')) {
  await relayMain(argv.filter((a) => a !== '--relay'));
  process.exit();
}
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i]!;
  const value = Number(argv[++i]);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`soak: ${flag} takes a number`);
    process.exit(2);
  }
  if (flag === '--rounds') rounds = Math.max(1, Math.floor(value));
  else if (flag === '--connections') options.connections = value;
  else if (flag === '--duration') options.durationMs = value * 1000;
  else if (flag === '--rate') options.publishPerSecond = value;
  else if (flag === '--broadcast') options.broadcastPerSecond = value;
  else if (flag === '--churn') options.churnPerSecond = value;
  else if (flag === '--topics') options.topics = value;
  else if (flag === '--payload') options.payloadBytes = value;
  else if (flag === '--generators') options.generators = Math.max(1, Math.floor(value));
  else {
    console.error(`soak: unknown option ${flag}`);
    process.exit(2);
  }
}

const reports: SoakReport[] = [];
let ok = true;
for (let round = 1; round <= rounds; round++) {
  if (rounds > 1) console.log(`soak: round ${round} of ${rounds}`);
  const report = await runSoak(options);
  reports.push(report);
  ok = summarize(report) && ok;
}
if (rounds > 1) {
  const ends = reports.map((r) => r.memory.rssEnd);
  console.log(`soak: rss after each round: ${ends.map(mb).join(', ')}; heap after each round: ${reports.map((r) => mb(r.memory.heapEnd)).join(', ')}; external (buffers) after each round: ${reports.map((r) => mb(r.memory.externalEnd)).join(', ')}`);
  // What the first round left behind is kept for reuse, not leaked: later rounds must not add to it.
  const growth = ends.at(-1)! - ends[0]!;
  const held = growth <= 0.1 * ends[0]!;
  console.log(`soak: rss from the first round's end to the last's: ${growth >= 0 ? '+' : ''}${mb(growth)} (${held ? 'held' : 'GREW'})`);
  ok = ok && held;
}
console.log(`  ${ok ? 'every check held' : 'A CHECK FAILED'}`);
process.exitCode = ok ? 0 : 1;

function summarize(report: SoakReport): boolean {
  const { load, memory } = report;
  const ok = load.lost === 0 && load.disorder === 0 && load.stillOpen === 0 && report.serverClientsAfter === 0 && report.tcpHandlesAfter === 0 && Object.keys(load.closes).every((k) => k === '1001');
  console.log('\nsoak: summary');
  console.log(`  ${options.connections} connections, ${options.durationMs / 1000} s, ${options.topics} topics, ${options.publishPerSecond} publishes/s + ${options.broadcastPerSecond} to all/s, churn ${options.churnPerSecond}/s`);
  console.log(`  churn reached ${(load.churned / Math.max(0.001, load.churnMs / 1000)).toFixed(0)} closes (and as many opens) a second over ${(load.churnMs / 1000).toFixed(0)} s, from ${options.generators} generator processes`);
  console.log(`  opened ${load.opened} (churned ${load.churned}, failed ${load.failedOpens}); published ${report.published}; deliveries accepted ${report.deliveries}; received ${load.received}`);
  console.log(`  checked at shutdown: ${load.checked} connections; lost ${load.lost}; out of order ${load.disorder}; closes ${JSON.stringify(load.closes)}`);
  console.log(`  shutdown took ${report.shutdownMs} ms; server clients after ${report.serverClientsAfter}; TCP handles left ${report.tcpHandlesAfter}; generator connections not closed ${load.stillOpen}`);
  console.log(`  server rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → peak ${mb(memory.heapPeak)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`);
  console.log(`  server stats ${JSON.stringify(report.stats)}`);
  return ok;
}

async function relayMain(args: string[]): Promise<void> {
  const relayOptions: RelaySoakOptions = {
    clients: 1000,
    channels: 50,
    durationMs: 120_000,
    httpPerSecond: 200,
    wsPerSecond: 200,
    dropsPerSecond: 20,
    history: 1000,
    log: (line) => console.log(line),
  };
  const names: Record<string, (v: number) => void> = {
    '--clients': (v) => (relayOptions.clients = v),
    '--channels': (v) => (relayOptions.channels = Math.max(2, v)),
    '--duration': (v) => (relayOptions.durationMs = v * 1000),
    '--http-rate': (v) => (relayOptions.httpPerSecond = v),
    '--ws-rate': (v) => (relayOptions.wsPerSecond = v),
    '--drops': (v) => (relayOptions.dropsPerSecond = v),
    '--history': (v) => (relayOptions.history = v),
  };
  for (let i = 0; i < args.length; i += 2) {
    const set = names[args[i]!];
    const value = Number(args[i + 1]);
    if (set === undefined || !Number.isFinite(value) || value < 0) {
      console.error(`soak --relay: ${set === undefined ? `unknown option ${args[i]}` : `${args[i]} takes a number`}`);
      process.exit(2);
    }
    set(value);
  }
  const report = await runRelaySoak(relayOptions);
  const { load, memory } = report;
  const ok = load.losses === 0 && load.duplicates === 0 && load.gaps === 0 && load.behind === 0 && report.httpFailed === 0 && report.errorsLogged.length === 0;
  const o = relayOptions;
  console.log('\nsoak --relay: summary');
  console.log(`  ${o.clients} clients on ${o.channels} channels (2 each), ${(report.durationMs / 1000).toFixed(0)} s, ${o.httpPerSecond} HTTP + ${o.wsPerSecond} WebSocket publishes/s asked, ${o.dropsPerSecond} drops/s asked, history ${o.history}`);
  console.log(`  published: ${report.httpPublished} over HTTP (${report.httpFailed} failed), ${load.published} over WebSocket by the clients; the relay numbered ${report.numbered}`);
  console.log(`  connections lost: ${load.terminated} destroyed under the client + ${load.dropped} drop(); reconnects ${load.reconnects}`);
  console.log(`  delivered to the clients: ${load.received}; losses ${load.losses}; duplicates or out of order ${load.duplicates}; gaps ${load.gaps}; client-channels behind at the end ${load.behind}`);
  console.log(`  relay rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`);
  if (report.errorsLogged.length > 0) console.log(`  the relay logged errors: ${report.errorsLogged.slice(0, 5).join(' | ')}`);
  console.log(`  ${ok ? 'every check held' : 'A CHECK FAILED'}`);
  process.exitCode = ok ? 0 : 1;
}
