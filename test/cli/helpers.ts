// Shared pieces of the CLI tests: the built `wavecast` command run as a child process (through pipes or
// a pseudo-terminal), a WebSocketServer that records what reached it, and waits for output.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type ServerOptions, type WebSocket } from '../../src/index.js';
import { DEFAULT_TIMEOUT_MS, once } from '../helpers/net.js';

/** The package root (tests run from build/test/cli/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built command, as npm's bin entry runs it. */
export const MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

export interface Run {
  child: ChildProcess;
  /** Everything written to stdout (and, through a pseudo-terminal, stderr too) so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once the output matches `pattern`; rejects naming it (and showing the output) after a timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The same for stderr (piped runs; through a pseudo-terminal everything is stdout). */
  waitForError(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status once the process has exited and its output is read. */
  exited: Promise<number>;
}

const running = new Set<ChildProcess>();

/** Kills what a failed test left running (call from after()), so that the test process can end. */
export function killLeftovers(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

function track(child: ChildProcess): Run {
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  let err = '';
  const waiters: Array<{ pattern: RegExp; stderr: boolean; resolve: () => void }> = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.pattern.test(waiters[i]!.stderr ? err : out)) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    check();
  });
  const waitFor = (pattern: RegExp, stderr: boolean, timeoutMs = DEFAULT_TIMEOUT_MS) => {
    if (pattern.test(stderr ? err : out)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${pattern} in ${stderr ? 'stderr' : 'the output'}:\n${JSON.stringify(out)}\nstderr: ${JSON.stringify(err)}`,
          ),
        );
      }, timeoutMs);
      waiters.push({
        pattern,
        stderr,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  };
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal === null ? -1 : 128 + 2)));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs) => waitFor(pattern, false, timeoutMs),
    waitForError: (pattern, timeoutMs) => waitFor(pattern, true, timeoutMs),
  };
}

/** The environment for a child: colours decided by the command alone. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('NO_COLOR' in extra)) delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return env;
}

/** Runs `node dist/cli/main.js ...args` with pipes; `input` (when given) is written to stdin, which is then closed. */
export function wavecast(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: childEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const run = track(child);
  child.stdin!.on('error', () => {});
  if (options.input !== undefined) child.stdin!.end(options.input);
  return run;
}

/** Runs it to the end and returns what a shell user would see. */
export async function wavecastResult(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  const run = wavecast(args, { input: options.input ?? '', ...(options.env ? { env: options.env } : {}) });
  const status = await run.exited;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

const PY_PTY = 'import os, pty, sys\nsys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to run a command in a pseudo-terminal here: util-linux `script`, else Python's pty module, else
 * null (the terminal tests are skipped, saying why).
 */
export function ptyRunner(): ((command: string[]) => { file: string; args: string[] }) | null {
  if (process.env.WAVECAST_TEST_PTY !== 'python' && spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0) {
    return (command) => ({ file: 'script', args: ['-qefc', command.map(quote).join(' '), '/dev/null'] });
  }
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    if (spawnSync(python, ['-c', 'import os, pty; os.waitstatus_to_exitcode'], { stdio: 'ignore' }).status === 0) {
      return (command) => ({ file: python, args: ['-c', PY_PTY, ...command] });
    }
  }
  return null;
}

/** Runs `wavecast ...args` on a pseudo-terminal: its stdin, stdout and stderr are all the terminal. */
export function wavecastOnTerminal(
  runner: NonNullable<ReturnType<typeof ptyRunner>>,
  args: string[],
  env: Record<string, string> = {},
): Run & { type(keys: string): void } {
  const { file, args: argv } = runner([process.execPath, MAIN, ...args]);
  const child = spawn(file, argv, { cwd: ROOT, env: childEnv({ TERM: 'xterm', ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => {});
  const run = track(child);
  return { ...run, type: (keys) => void child.stdin!.write(keys) };
}

export interface Recorded {
  wss: WebSocketServer;
  url: string;
  /** Text of every message the server received, in order. */
  messages: string[];
  requests: IncomingMessage[];
  /** Resolves with the close code the server saw for its first connection. */
  closed: Promise<number>;
  /** Resolves once the server has received `count` messages. */
  received(count: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A WebSocketServer on 127.0.0.1, port 0, that records requests, messages and the close code, and hands
 * each connection to `onConnection` (an echo server by default).
 */
export async function recordingServer(
  onConnection: (socket: WebSocket) => void = echo,
  options: Partial<ServerOptions> = {},
): Promise<Recorded> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options } as ServerOptions);
  await once(wss, 'listening');
  const messages: string[] = [];
  const requests: IncomingMessage[] = [];
  const counters: Array<{ count: number; resolve: () => void }> = [];
  let onClosed: (code: number) => void = () => {};
  const closed = new Promise<number>((resolve) => {
    onClosed = resolve;
  });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    requests.push(request);
    socket.on('message', (data: Buffer) => {
      messages.push(data.toString());
      for (let i = counters.length - 1; i >= 0; i--) if (messages.length >= counters[i]!.count) counters.splice(i, 1)[0]!.resolve();
    });
    socket.on('close', (code: number) => onClosed(code));
    onConnection(socket);
  });
  const address = wss.address() as { port: number };
  return {
    wss,
    url: `ws://127.0.0.1:${address.port}/`,
    messages,
    requests,
    closed,
    received: (count) =>
      messages.length >= count
        ? Promise.resolve()
        : within(
            new Promise<void>((resolve) => counters.push({ count, resolve })),
            () => `the server to receive ${count} message(s) (got ${JSON.stringify(messages)})`,
          ),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** `promise`, or a rejection naming `what` never happened after `timeoutMs`. */
export function within<T>(promise: Promise<T>, what: string | (() => string), timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    const name = () => (typeof what === 'string' ? what : what());
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name()}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Echoes every message as it came (text as text, binary as binary). */
export function echo(socket: WebSocket): void {
  socket.on('message', (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }));
}

/** Matches a stack trace line: user mistakes must never show one. */
export const STACK_LINE = /\n\s+at .+:\d+:\d+/;
