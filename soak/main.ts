// `npm run soak`: the soak of run.ts at full size, with a summary.
//   npm run soak -- [--connections N] [--duration SECONDS] [--rate PUBLISHES_PER_S] [--broadcast PER_S]
//                   [--churn PER_S] [--topics N] [--payload BYTES]
import { mb, runSoak, type SoakOptions } from './run.js';

const options: SoakOptions = {
  connections: 10_000,
  durationMs: 60_000,
  topics: 100,
  publishPerSecond: 400,
  broadcastPerSecond: 2,
  churnPerSecond: 200,
  payloadBytes: 64,
  closeTimeoutMs: 10_000,
  log: (line) => console.log(line),
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i]!;
  const value = Number(argv[++i]);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`soak: ${flag} takes a number`);
    process.exit(2);
  }
  if (flag === '--connections') options.connections = value;
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

const report = await runSoak(options);
const { load, memory } = report;
const ok = load.lost === 0 && load.disorder === 0 && load.stillOpen === 0 && report.serverClientsAfter === 0 && report.tcpHandlesAfter === 0 && Object.keys(load.closes).every((k) => k === '1001');
console.log('\nsoak: summary');
console.log(`  ${options.connections} connections, ${options.durationMs / 1000} s, ${options.topics} topics, ${options.publishPerSecond} publishes/s + ${options.broadcastPerSecond} to all/s, churn ${options.churnPerSecond}/s`);
console.log(`  opened ${load.opened} (churned ${load.churned}, failed ${load.failedOpens}); published ${report.published}; deliveries accepted ${report.deliveries}; received ${load.received}`);
console.log(`  checked at shutdown: ${load.checked} connections; lost ${load.lost}; out of order ${load.disorder}; closes ${JSON.stringify(load.closes)}`);
console.log(`  shutdown took ${report.shutdownMs} ms; server clients after ${report.serverClientsAfter}; TCP handles left ${report.tcpHandlesAfter}; generator connections not closed ${load.stillOpen}`);
console.log(`  server rss ${mb(memory.rssStart)} → peak ${mb(memory.rssPeak)} → ${mb(memory.rssEnd)} after; heap ${mb(memory.heapStart)} → peak ${mb(memory.heapPeak)} → ${mb(memory.heapEnd)}; generator rss peak ${mb(load.rssMax)}`);
console.log(`  server stats ${JSON.stringify(report.stats)}`);
console.log(`  ${ok ? 'every check held' : 'A CHECK FAILED'}`);
process.exitCode = ok ? 0 : 1;
