#!/usr/bin/env node
// The `wavecast` command: picks the subcommand and runs it. Each command resolves with its exit status
// once it is over; the process then exits with that status (after stdout and stderr are flushed),
// whatever handles are left. A usage mistake exits 2 with a message, never a stack trace.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';

/** The package root: dist/cli/main.js is two levels below it. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'run the relay server: channels, chat page, HTTP publish, metrics',
    run: async (argv) => (await import('./serve.js')).runServe(argv),
  },
  connect: {
    summary: 'connect to a WebSocket server: send lines typed or piped, print what comes back',
    run: async (argv) => (await import('./connect.js')).runConnect(argv),
  },
  bench: {
    summary: 'run the benchmarks against ws (from a clone of the repository; see bench/README.md)',
    run: async (argv) => (await import('./bench.js')).runBench(argv, ROOT),
  },
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const rows = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}${command.summary}`);
  return [
    'Usage: wavecast <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Options:',
    '  -h, --help   show this overview',
    '  --version    print the version',
    '',
    'Run "wavecast <command> --help" (or "wavecast help <command>") for the options of a command.',
    '',
  ].join('\n');
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') return pkg.version;
  } catch {
    // Reported below.
  }
  return 'unknown (package.json not found next to dist/)';
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (first === '-h' || first === '--help') {
    process.stdout.write(overview());
    return 0;
  }
  if (first === '--version') {
    process.stdout.write(`wavecast ${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    // `wavecast help connect` is `wavecast connect --help`.
    const name = rest[0];
    if (name === undefined) {
      process.stdout.write(overview());
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return COMMANDS[name]!.run(['--help']);
  }
  if (['-c', '--connect', '-l', '--listen'].includes(first.split('=')[0]!)) {
    // wscat's habit: `wscat -c URL`.
    throw new UsageError(`unknown option ${first}: it is an option of the connect command, as in wavecast connect ${argv.join(' ')}`);
  }
  if (first.startsWith('-'))
    throw new UsageError(`unknown option ${first} (the options come after the command: wavecast <command> [options])`);
  if (!Object.hasOwn(COMMANDS, first)) {
    throw new UsageError(`unknown command "${first}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  }
  try {
    return await COMMANDS[first]!.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`wavecast ${first}: ${error.message}\nRun "wavecast ${first} --help" for usage.\n`);
      return error.exitCode;
    }
    throw error;
  }
}

function exit(status: number): void {
  process.exitCode = status;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(status);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

// A reader that went away (`wavecast connect ... | head -1`) is not an error worth a stack trace.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`wavecast: ${error.message}\nRun "wavecast --help" for the commands.\n`);
    exit(error.exitCode);
    return;
  }
  // Not the user's doing: a bug, reported with its stack so that it can be fixed.
  process.stderr.write(`wavecast: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  exit(1);
});
