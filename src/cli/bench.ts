// `wavecast bench ...`: runs the benchmark harness of a repository clone (`npm run bench -- ...` in the
// package root, see bench/README.md). Its flags are declared here, so that --help and a mistyped flag are
// answered at once, before npm rebuilds the package and the harness (which takes a while); the harness
// (bench/run.ts) reads its flags with the same declarations. The published package has no bench/, and
// says so.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { UsageError, camel, helpText, parseArgs, type FlagSpec, type FlagValues } from './args.js';

export const BENCH_FLAGS: Record<string, FlagSpec> = {
  rounds: { type: 'number', default: 3, value: 'N', description: 'interleaved rounds per scenario' },
  scenario: {
    type: 'list',
    value: 'a,b',
    description:
      'only these scenarios: names or prefixes such as echo or fanout, comma-separated (repeatable; the names are under Scenarios in bench/README.md)',
  },
  server: {
    type: 'list',
    value: 'a,b',
    description:
      'only these servers (wavecast, ws, ws+bufferutil, raw, uws, and raw-direct, which runs only when named; for the relay scenarios serve-v1, serve-plain, socket.io); the baselines (ws, ws+bufferutil, socket.io) always run',
  },
  quick: { type: 'boolean', description: 'short runs (0.3 s warm-up, 1 s measured)' },
  big: { type: 'boolean', description: 'also run the 50,000-connection memory scenario' },
  duration: { type: 'number', value: 'SECONDS', description: "seconds measured per run (default: the scenario's)" },
  warmup: { type: 'number', value: 'SECONDS', description: "seconds of warm-up per run (default: the scenario's)" },
  'gen-procs': { type: 'number', value: 'N', description: 'load generator processes where a scenario allows several (default: 1)' },
  retries: {
    type: 'number',
    default: 2,
    value: 'N',
    description: 'run again, up to N times, when other processes kept the CPUs busy meanwhile',
  },
  'no-pin': {
    type: 'boolean',
    description:
      'do not pin processes to CPUs (by default, with taskset and enough cores, the load generators get the last CPUs and the server the others)',
  },
  out: { type: 'string', value: 'DIR', description: 'where results go (default: bench/results)' },
  'no-save': { type: 'boolean', description: 'print only, write no result files' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const USAGE = 'wavecast bench [options]   (in a clone of the repository; or: npm run bench -- [options])';
const DESCRIPTION = `Runs Wavecast and the ws package side by side (each server and the load generator in their own
processes, interleaved over several rounds), prints the medians with the ratio to ws, and saves them in
bench/results/. Builds the package and the harness first. See bench/README.md.`;

export function benchHelp(): string {
  return helpText(USAGE, DESCRIPTION, BENCH_FLAGS);
}

/** The flags, checked: numbers not negative, and no arguments besides flags. Throws a UsageError. */
export function readBenchFlags(argv: readonly string[]): FlagValues {
  const { flags, positionals } = parseArgs(argv, BENCH_FLAGS, {});
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (wavecast bench takes only options)`);
  for (const name of ['rounds', 'duration', 'warmup', 'gen-procs', 'retries']) {
    const value = flags[camel(name)];
    if (typeof value === 'number' && value < 0) throw new UsageError(`--${name} needs a number that is not negative, not ${value}`);
  }
  return flags;
}

/** Runs `npm run bench -- <argv>` in `root`; resolves with its exit status (128 + N for signal N). */
export function runBench(argv: readonly string[], root: string): Promise<number> {
  if (readBenchFlags(argv).help === true) {
    process.stdout.write(benchHelp());
    return Promise.resolve(0);
  }
  if (!existsSync(join(root, 'bench', 'run.ts'))) {
    process.stderr.write(`wavecast bench: no bench/ in ${root}; the benchmarks run from a clone of the repository (see bench/README.md)\n`);
    return Promise.resolve(1);
  }
  return new Promise<number>((resolve) => {
    // Ctrl-C reaches npm and the benchmark too (same process group); wait for them to stop.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    const child = spawn('npm', ['run', 'bench', '--', ...argv], { cwd: root, stdio: 'inherit' });
    child.on('error', (error) => {
      process.off('SIGINT', ignore);
      process.stderr.write(`wavecast bench: could not run npm: ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      if (code !== null) resolve(code);
      else resolve(128 + ((signal !== null ? constants.signals[signal] : undefined) ?? 0));
    });
  });
}
