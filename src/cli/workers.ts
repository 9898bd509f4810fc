// `wavecast serve --workers N`: the primary process forks N workers (node:cluster) that each run the
// relay on the same port (the primary hands out connections) and carry publishes between each other
// through the broker, like nodes on separate machines. The primary prints the one listening line once
// every worker listens, forwards SIGINT/SIGTERM to the workers (each shuts down gracefully: 1001, what was
// queued delivered) and exits 0 once they all have. A worker that dies after the start is replaced.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../relay/log.js';
import { listeningLine } from './serve-address.js';

/** What a worker tells the primary. */
export type WorkerReport = { type: 'listening'; url: string };

export interface PrimaryIo {
  stdout: (text: string) => void;
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

/** Runs the primary; resolves with the exit status. */
export function runPrimary(workers: number, log: Logger, io: PrimaryIo, host: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const listening = new Set<Worker>();
    let started = false;
    let stopping = false;
    let status = 0;
    const fork = () => {
      const worker = cluster.fork();
      worker.on('message', (report: WorkerReport) => {
        if (report?.type !== 'listening') return;
        listening.add(worker);
        if (!started && listening.size === workers) {
          started = true;
          io.stdout(`${listeningLine(report.url, host)}\n`);
          log.info('relay started', { workers, url: report.url, pid: process.pid });
        }
      });
      worker.on('exit', (code, signal) => {
        listening.delete(worker);
        if (stopping) {
          if (code !== 0) status = 1;
          if (Object.keys(cluster.workers ?? {}).length === 0) finish();
          return;
        }
        if (!started) {
          // A worker that cannot start (broker unreachable, port in use): the others will not do better.
          log.error(`worker ${worker.id} could not start; stopping`, { code, signal });
          stop(code ?? 1);
          return;
        }
        log.error(`worker ${worker.id} died; starting another in a second`, { code, signal });
        setTimeout(() => {
          if (!stopping) fork();
        }, 1000);
      });
    };
    const finish = () => {
      unregister();
      log.info('relay stopped', { workers });
      resolve(status);
    };
    // Workers are always sent SIGTERM (they leave SIGINT, which a terminal sends to all, to the primary);
    // a second one cuts their connections at once.
    const stop = (exitStatus: number) => {
      if (stopping) {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
        return;
      }
      stopping = true;
      status = exitStatus;
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      if (alive.length === 0) return finish();
      for (const worker of alive) worker.process.kill('SIGTERM');
    };
    const unregister = io.onSignal((signal) => {
      log.info(`${signal} received: shutting the workers down`, { workers: Object.keys(cluster.workers ?? {}).length });
      stop(0);
    });
    for (let i = 0; i < workers; i++) fork();
  });
}

/** In a worker: tells the primary the relay listens. */
export function reportListening(url: string): void {
  process.send?.({ type: 'listening', url } satisfies WorkerReport);
}
