// Memory of the soak's server process: measured at the start and at the end after a garbage collection,
// and sampled for the peak in between.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

export interface MemoryFigures {
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  heapStart: number;
  heapPeak: number;
  heapEnd: number;
  /** Memory of buffers (outside the heap) at the end. */
  externalEnd: number;
}

/** Starts measuring (after a garbage collection): `sample()` now and then, `end()` once done. */
export function watchMemory(): { sample(): void; end(): MemoryFigures } {
  gc();
  const start = process.memoryUsage();
  let rssPeak = start.rss;
  let heapPeak = start.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  return {
    sample,
    end() {
      sample();
      gc();
      const m = process.memoryUsage();
      return {
        rssStart: start.rss,
        rssPeak,
        rssEnd: m.rss,
        heapStart: start.heapUsed,
        heapPeak,
        heapEnd: m.heapUsed,
        externalEnd: m.external,
      };
    },
  };
}

/** The resident memory of a process, from /proc (MiB; 0 once it is gone). */
export function processRssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? 0 : Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return 0;
  }
}
