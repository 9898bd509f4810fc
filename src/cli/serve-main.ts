// A temporary entry point for `wavecast serve` until the CLI's main.ts dispatches to it:
// `node dist/cli/serve-main.js [options]` (what `npm start` runs).
import { runServe } from './serve.js';

runServe(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`wavecast serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
