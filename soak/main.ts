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
import { parseArgs } from 'node:util';
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
// Which soak: the others read their own flags (not strict here: they are theirs).
const mode = parseArgs({
  args: argv,
  strict: false,
  options: { traffic: { type: 'boolean' }, attacks: { type: 'boolean' }, relay: { type: 'boolean' } },
}).values;
if (mode.traffic === true) {
  await import('./relay-attacks.js'); // reads its own arguments, and exits
}
if (mode.attacks === true) {
  await import('./attacks.js'); // reads its own arguments, and exits
}
if (mode.relay === true) {
  await relayMain(argv);
  process.exit();
}
const flags = numberFlags(
  argv,
  ['rounds', 'connections', 'duration', 'rate', 'broadcast', 'churn', 'topics', 'payload', 'generators'],
  'soak',
);
if (flags.rounds !== undefined) rounds = Math.max(1, Math.floor(flags.rounds));
if (flags.connections !== undefined) options.connections = flags.connections;
if (flags.duration !== undefined) options.durationMs = flags.duration * 1000;
if (flags.rate !== undefined) options.publishPerSecond = flags.rate;
if (flags.broadcast !== undefined) options.broadcastPerSecond = flags.broadcast;
if (flags.churn !== undefined) options.churnPerSecond = flags.churn;
if (flags.topics !== undefined) options.topics = flags.topics;
if (flags.payload !== undefined) options.payloadBytes = flags.payload;
if (flags.generators !== undefined) options.generators = Math.max(1, Math.floor(flags.generators));

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
  console.log(
    `soak: rss after each round: ${ends.map(mb).join(', ')}; heap after each round: ${reports.map((r) => mb(r.memory.heapEnd)).join(', ')}; external (buffers) after each round: ${reports.map((r) => mb(r.memory.externalEnd)).join(', ')}`,
  );
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
  const ok =
    load.lost === 0 &&
    load.disorder === 0 &&
    load.stillOpen === 0 &&
    report.serverClientsAfter === 0 &&
    report.tcpHandlesAfter === 0 &&
    Object.keys(load.closes).every((k) => k === '1001');
  console.log('\nsoak: summary');
  console.log(
    `  ${options.connections} connections, ${options.durationMs / 1000} s, ${options.topics} topics, ${options.publishPerSecond} publishes/s + ${options.broadcastPerSecond} to all/s, churn ${options.churnPerSecond}/s`,
  );
  console.log(
    `  churn reached ${(load.churned / Math.max(0.001, load.churnMs / 1000)).toFixed(0)} closes (and as many opens) a second over ${(load.churnMs / 1000).toFixed(0)} s, from ${options.generators} generator processes`,
  );
  console.log(
    `  opened ${load.opened} (churned ${load.churned}, failed ${load.failedOpens}); published ${report.published}; deliveries accepted ${report.deliveries}; received ${load.received}`,
  );
  console.log(
    `  checked at shutdown: ${load.checked} connections; lost ${load.lost}; out of order ${load.disorder}; closes ${JSON.stringify(load.closes)}`,
  );
  console.log(
    `  shutdown took ${report.shutdownMs} ms; server clients after ${report.serverClientsAfter}; TCP handles left ${report.tcpHandlesAfter}; generator connections not closed ${load.stillOpen}`,
  );
  console.log(
    `  server rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → peak ${mb(memory.heapPeak)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`,
  );
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
  const flags = numberFlags(args, ['clients', 'channels', 'duration', 'http-rate', 'ws-rate', 'drops', 'history'], 'soak --relay', [
    'relay',
  ]);
  if (flags.clients !== undefined) relayOptions.clients = flags.clients;
  if (flags.channels !== undefined) relayOptions.channels = Math.max(2, flags.channels);
  if (flags.duration !== undefined) relayOptions.durationMs = flags.duration * 1000;
  if (flags['http-rate'] !== undefined) relayOptions.httpPerSecond = flags['http-rate'];
  if (flags['ws-rate'] !== undefined) relayOptions.wsPerSecond = flags['ws-rate'];
  if (flags.drops !== undefined) relayOptions.dropsPerSecond = flags.drops;
  if (flags.history !== undefined) relayOptions.history = flags.history;
  const report = await runRelaySoak(relayOptions);
  const { load, memory } = report;
  const ok =
    load.losses === 0 &&
    load.duplicates === 0 &&
    load.gaps === 0 &&
    load.behind === 0 &&
    report.httpFailed === 0 &&
    report.errorsLogged.length === 0;
  const o = relayOptions;
  console.log('\nsoak --relay: summary');
  console.log(
    `  ${o.clients} clients on ${o.channels} channels (2 each), ${(report.durationMs / 1000).toFixed(0)} s, ${o.httpPerSecond} HTTP + ${o.wsPerSecond} WebSocket publishes/s asked, ${o.dropsPerSecond} drops/s asked, history ${o.history}`,
  );
  console.log(
    `  published: ${report.httpPublished} over HTTP (${report.httpFailed} failed), ${load.published} over WebSocket by the clients; the relay numbered ${report.numbered}`,
  );
  console.log(`  connections lost: ${load.terminated} destroyed under the client + ${load.dropped} drop(); reconnects ${load.reconnects}`);
  console.log(
    `  delivered to the clients: ${load.received}; losses ${load.losses}; duplicates or out of order ${load.duplicates}; gaps ${load.gaps}; client-channels behind at the end ${load.behind}`,
  );
  console.log(
    `  relay rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`,
  );
  if (report.errorsLogged.length > 0) console.log(`  the relay logged errors: ${report.errorsLogged.slice(0, 5).join(' | ')}`);
  console.log(`  ${ok ? 'every check held' : 'A CHECK FAILED'}`);
  process.exitCode = ok ? 0 : 1;
}

/** Reads `--name NUMBER` flags (numbers 0 or more) with node:util's parseArgs; on a bad one, says so and exits 2. */
function numberFlags(args: string[], names: string[], command: string, switches: string[] = []): Record<string, number | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries([
      ...names.map((name) => [name, { type: 'string' as const }]),
      ...switches.map((name) => [name, { type: 'boolean' as const }]),
    ]);
    values = parseArgs({ args, strict: true, options }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    console.error(`${command}: ${(error as Error).message}`);
    process.exit(2);
  }
  const numbers: Record<string, number | undefined> = {};
  for (const name of names) {
    const text = values[name];
    if (text === undefined) continue;
    const value = Number(text);
    if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(value) || value < 0) {
      console.error(`${command}: --${name} takes a number`);
      process.exit(2);
    }
    numbers[name] = value;
  }
  return numbers;
}
