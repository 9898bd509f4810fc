// `wavecast bench ...`: runs the benchmark harness of a repository clone (`npm run bench -- ...` in the
// package root, see bench/README.md). The published package has no bench/, and says so.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';

/** Runs `npm run bench -- <argv>` in `root`; resolves with its exit status (128 + N for signal N). */
export function runBench(argv: readonly string[], root: string): Promise<number> {
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
