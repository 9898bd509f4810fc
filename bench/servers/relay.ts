// `wavecast serve` as a benchmark server: the command's own code (runServe from the built dist/cli), run
// in this process so that the runner can ask it for its memory and CPU like every other server. History
// is on (the default, 100 messages per channel); the limits a benchmark would trip are lifted: no rate
// limit per connection, no limit of connections per address (every client comes from 127.0.0.1). Its
// clients are wavecast.v1 or plain, chosen by the load generator.
// Usage: node relay.js (WAVECAST_ROOT=<checkout> to run another build of it)
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installControl, ready } from './control.js';

interface ServeIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

installControl();
// WAVECAST_ROOT: another checkout's build (the runner's `*-base` servers, set from WAVECAST_BASE).
const ROOT = process.env.WAVECAST_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const serve = (await import(pathToFileURL(join(ROOT, 'dist', 'cli', 'serve.js')).href)) as {
  runServe(argv: string[], io: ServeIo): Promise<number>;
};

const SERVE_ARGS = [
  '--port',
  '0',
  '--host',
  '127.0.0.1',
  '--rate-limit',
  '0',
  '--max-connections-per-ip',
  '0',
  '--history',
  '100',
  '--log-level',
  'warn',
];

let told = false;
const io: ServeIo = {
  stdout(text) {
    // "wavecast relay listening on ws://127.0.0.1:PORT — chat page: ..."
    const port = /listening on wss?:\/\/[^\s]*:(\d+)/.exec(text)?.[1];
    if (port !== undefined && !told) {
      told = true;
      ready(Number(port), { command: `wavecast serve ${SERVE_ARGS.join(' ')}` });
    }
  },
  stderr: (text) => void process.stderr.write(text),
  env: {},
  onSignal: () => () => undefined,
};
const status = await serve.runServe(SERVE_ARGS, io);
if (!told) throw new Error(`wavecast serve exited with status ${status} before listening`);
