// `npm run soak`: the soak of run.ts at full size, with a summary.
//   npm run soak -- [--connections N] [--duration SECONDS] [--rate PUBLISHES_PER_S] [--broadcast PER_S]
//                   [--churn PER_S] [--topics N] [--payload BYTES] [--rounds N]
// Defaults: 10,000 connections, 45 s, 2 rounds (about two minutes in all).
// With --rounds N the whole soak (connect, publish and churn, shut down) runs N times in this process, on
// a new server each time: RSS that a first round leaves behind (memory the allocator keeps for reuse)
// must not grow round after round.
import { mb, runSoak, type SoakOptions, type SoakReport } from './run.js';

const options: SoakOptions = {
  connections: 10_000,
  durationMs: 45_000,
  topics: 100,
  publishPerSecond: 400,
  broadcastPerSecond: 2,
  churnPerSecond: 200,
  payloadBytes: 64,
  closeTimeoutMs: 10_000,
  log: (line) => console.log(line),
};
let rounds = 2;
const argv = process.argv.slice(2);
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
  console.log(`soak: rss after each round: ${ends.map(mb).join(', ')}; heap after each round: ${reports.map((r) => mb(r.memory.heapEnd)).join(', ')}`);
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
  console.log(`  opened ${load.opened} (churned ${load.churned}, failed ${load.failedOpens}); published ${report.published}; deliveries accepted ${report.deliveries}; received ${load.received}`);
  console.log(`  checked at shutdown: ${load.checked} connections; lost ${load.lost}; out of order ${load.disorder}; closes ${JSON.stringify(load.closes)}`);
  console.log(`  shutdown took ${report.shutdownMs} ms; server clients after ${report.serverClientsAfter}; TCP handles left ${report.tcpHandlesAfter}; generator connections not closed ${load.stillOpen}`);
  console.log(`  server rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → peak ${mb(memory.heapPeak)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`);
  console.log(`  server stats ${JSON.stringify(report.stats)}`);
  return ok;
}
