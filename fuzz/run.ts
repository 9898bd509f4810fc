// `npm run fuzz`: runs the fuzz targets of targets.ts for a number of inputs, seeded and reproducible,
// printing a progress line and a summary (inputs, outcomes per close code or status, memory).
//
//   npm run fuzz -- [--count N] [--seed N] [--target NAME[,NAME...]] [--list]
//
// --count is the total number of inputs (default 1,000,000), shared among the targets by weight.
// Each target runs with the seed given (or a random one, printed) so that a run can be replayed.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { TARGETS, createStats, type FuzzStats } from './targets.js';

interface Args {
  count: number;
  seed: number;
  targets: string[] | null;
  list: boolean;
}

function readArgs(argv: string[]): Args {
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the parseArgs call that assigns it below
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        count: { type: 'string' },
        seed: { type: 'string' },
        target: { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) usage();
  return {
    count: values.count === undefined ? 1_000_000 : integer('--count', values.count),
    seed: values.seed === undefined ? (Math.random() * 0x7fffffff) | 0 : integer('--seed', values.seed),
    targets: values.target === undefined ? null : values.target.split(','),
    list: values.list === true,
  };
}

function integer(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) usage(`${name} takes a whole number, not ${text}`);
  return n;
}

function usage(error?: string): never {
  if (error) console.error(`fuzz: ${error}`);
  console.error('usage: npm run fuzz -- [--count N] [--seed N] [--target NAME[,NAME...]] [--list]');
  process.exit(error ? 2 : 0);
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2));
  if (args.list) {
    for (const t of TARGETS) console.log(`${t.name.padEnd(18)} ${t.about}`);
    return;
  }
  const chosen = args.targets === null ? TARGETS : TARGETS.filter((t) => args.targets!.includes(t.name));
  if (chosen.length === 0 || (args.targets && chosen.length !== args.targets.length))
    usage(`unknown target in ${args.targets?.join(',')}; see --list`);
  const totalWeight = chosen.reduce((sum, t) => sum + t.weight, 0);
  console.log(`fuzz: seed ${args.seed}, ${args.count.toLocaleString('en')} inputs over ${chosen.map((t) => t.name).join(', ')}`);
  console.log(
    `fuzz: replay with: npm run fuzz -- --seed ${args.seed} --count ${args.count}${args.targets ? ` --target ${args.targets.join(',')}` : ''}`,
  );

  const stats: FuzzStats = createStats();
  const started = Date.now();
  const rssStart = process.memoryUsage().rss;
  let rssMax = rssStart;
  let lastPrint = 0;
  let lastLine = 0;
  let current = '';
  let currentDone = 0;
  let currentRuns = 0;
  const tty = process.stdout.isTTY;
  const progress = (final = false) => {
    const now = Date.now();
    if (!final && now - lastPrint < 1000) return;
    lastPrint = now;
    const rss = process.memoryUsage().rss;
    rssMax = Math.max(rssMax, rss);
    const seconds = (now - started) / 1000;
    const line = `fuzz: ${stats.inputs.toLocaleString('en')}/${args.count.toLocaleString('en')} inputs, ${Math.round(stats.inputs / Math.max(seconds, 0.001)).toLocaleString('en')}/s, ${current} ${currentDone}/${currentRuns}, rss ${mib(rss)}`;
    if (tty) process.stdout.write(`\r${line.padEnd(110)}${final ? '\n' : ''}`);
    else if (final || now - lastLine >= 10_000) {
      lastLine = now;
      console.log(line);
    }
  };
  stats.onInput = () => {
    currentDone++;
    if ((stats.inputs & 255) === 0) progress();
  };

  let failed = false;
  for (const [index, target] of chosen.entries()) {
    const runs = Math.max(1, Math.round((args.count * target.weight) / totalWeight));
    current = target.name;
    currentDone = 0;
    currentRuns = runs;
    // Each target gets its own seed derived from the run's, so that one can be replayed alone.
    const seed = (args.seed + index * 7919) | 0;
    const result = await Promise.resolve(fc.check(target.property(stats), { numRuns: runs, seed, endOnFailure: false })).finally(() =>
      target.dispose?.(),
    );
    if (result.failed) {
      failed = true;
      if (tty) process.stdout.write('\n');
      console.error(`fuzz: ${target.name} FAILED (seed ${seed}, path ${result.counterexamplePath}) after ${result.numRuns} runs`);
      const report = fc.defaultReportMessage(result);
      console.error(report.length > 6000 ? `${report.slice(0, 6000)}… (${report.length} characters in all)` : report);
      console.error(`fuzz: the failure: ${String((result.errorInstance as Error)?.message ?? result.errorInstance)}`);
      console.error(
        `fuzz: replay this target with: npm run fuzz -- --target ${target.name} --seed ${args.seed} (seed ${seed} is derived from it)`,
      );
    }
  }
  progress(true);
  const seconds = (Date.now() - started) / 1000;
  console.log('\nfuzz: summary');
  console.log(
    `  seed ${args.seed}; ${stats.inputs.toLocaleString('en')} inputs in ${seconds.toFixed(1)} s; ${failed ? 'FAILURES (above)' : 'every property held'}`,
  );
  console.log(`  rss: ${mib(rssStart)} at start, ${mib(rssMax)} at most, ${mib(process.memoryUsage().rss)} at the end`);
  console.log(
    `  largest message reported ${stats.maxMessage.toLocaleString('en')} bytes; most held of an unfinished message ${stats.maxHeld.toLocaleString('en')} bytes, keeping ${stats.maxRetained.toLocaleString('en')} bytes of buffers alive`,
  );
  console.log('  outcomes (target, how the input ended: error:<close code>, close, open = waiting for more, or an HTTP status):');
  for (const [key, n] of [...stats.outcomes].sort(([a], [b]) => a.localeCompare(b)))
    console.log(`    ${key.padEnd(56)} ${n.toLocaleString('en').padStart(12)}`);
  process.exitCode = failed ? 1 : 0;
}

await main();
