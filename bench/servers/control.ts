// What every benchmark server process shares: it tells the runner its port (IPC and a `PORT n` line on
// stdout), answers the runner's questions about memory and CPU, and reports errors instead of hiding them.
import { writeHeapSnapshot } from 'node:v8';

export type ServerMode = 'echo' | 'deflate' | 'broadcast' | 'publish';

export const MODES: readonly ServerMode[] = ['echo', 'deflate', 'broadcast', 'publish'];

/** The topic used by servers with native publish/subscribe. */
export const TOPIC = 'bench';

export function parseMode(value: string | undefined): ServerMode {
  if (value && (MODES as readonly string[]).includes(value)) return value as ServerMode;
  throw new Error(`unknown server mode ${String(value)}; expected one of ${MODES.join(', ')}`);
}

function send(message: object): void {
  if (process.send) process.send(message);
}

export function ready(port: number, info: Record<string, unknown> = {}): void {
  process.stdout.write(`PORT ${port}\n`);
  send({ type: 'ready', port, info });
}

/** The server cannot run this mode (e.g. no permessage-deflate, no publish): the runner skips it. */
export function unsupported(reason: string): never {
  send({ type: 'unsupported', reason });
  process.stderr.write(`unsupported: ${reason}\n`);
  // Give the IPC message a moment to leave before exiting.
  setTimeout(() => process.exit(0), 50);
  // Keep the type system honest: nothing after this runs.
  throw new UnsupportedSignal(reason);
}

class UnsupportedSignal extends Error {}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

export function installControl(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (msg: { cmd?: string }) => {
    switch (msg.cmd) {
      case 'mem': {
        if (gc) {
          gc();
          gc();
        }
        send({ type: 'mem', usage: process.memoryUsage(), gc: Boolean(gc) });
        break;
      }
      case 'snapshot': {
        // For memory-objects: a heap snapshot after full collections, written to a file the asker reads.
        if (gc) {
          gc();
          gc();
        }
        send({ type: 'snapshot', file: writeHeapSnapshot() });
        break;
      }
      case 'cpu':
        send({ type: 'cpu', usage: process.cpuUsage(), at: Number(process.hrtime.bigint() / 1000n) });
        break;
      case 'exit':
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (err) => {
    if (err instanceof UnsupportedSignal) return;
    send({ type: 'error', message: describe(err) });
    process.stderr.write(`server error: ${describe(err)}\n`);
    setTimeout(() => process.exit(1), 50);
  });
  process.on('unhandledRejection', (err) => {
    if (err instanceof UnsupportedSignal) return;
    send({ type: 'error', message: describe(err) });
    process.stderr.write(`server error: ${describe(err)}\n`);
    setTimeout(() => process.exit(1), 50);
  });
}
