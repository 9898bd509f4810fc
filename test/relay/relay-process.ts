// Runs the real `wavecast serve` (the built dist/cli/main.js) as a child process for end-to-end
// tests: --port 0 on 127.0.0.1, the port read from the listening line on stdout. Helpers for `ws`
// clients and HTTP requests against it. No sleeps: every wait is for an event, bounded by a timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WsClient from 'ws';
import { once } from '../helpers/net.js';

export { WsClient };

/** The repository's root, from build/test/relay/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL('dist/cli/main.js', `file://${ROOT}`));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RelayProcess {
  child: ChildProcess;
  port: number;
  /** ws://127.0.0.1:PORT (wss:// with TLS) */
  url: string;
  /** http://127.0.0.1:PORT */
  http: string;
  /** Everything the relay wrote to stderr so far (its log). */
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

const running = new Set<ChildProcess>();

let configDir: string | undefined;
/** Writes a --config file of `value` (JSON) in a temporary directory; returns its path. */
export function configFile(value: object, name = `config-${Math.random().toString(36).slice(2)}.json`): string {
  configDir ??= mkdtempSync(join(tmpdir(), 'wavecast-config-'));
  const file = join(configDir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

/** Kills whatever a test left running (call from after()). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Runs the command (of this build, or of `cli`) to completion (for --help and bad flags). */
export async function runServeCommand(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cli = CLI_MAIN,
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code, signal] = await once<[number | null, NodeJS.Signals | null]>(child, 'close', 10_000);
  running.delete(child);
  return { code, signal, stdout, stderr };
}

export interface StartOptions {
  /** Run the relay under `ulimit -n fileLimit` (soft and hard). */
  fileLimit?: number;
  /** Another build of the command (default: this repository's dist/cli/main.js). */
  cli?: string;
}

/** Starts the relay with `args` (after --port 0 --host 127.0.0.1) and waits for its listening line. */
export async function startRelay(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  { fileLimit, cli = CLI_MAIN }: StartOptions = {},
): Promise<RelayProcess> {
  const command = [cli, 'serve', '--port', '0', '--host', '127.0.0.1', ...args];
  const [file, argv] =
    fileLimit === undefined
      ? [process.execPath, command]
      : ['/bin/sh', ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, ...command]];
  const child = spawn(file, argv, {
    env: { ...process.env, PORT: '', WAVECAST_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => fail(new Error(`the relay printed no listening line within 30 s; stdout: ${stdout}; stderr: ${stderr}`)),
      30_000,
    );
    const onData = (chunk: string) => {
      stdout += chunk;
      // (A build from before the chat page's address was added ends the line with the URL: --cli may run one.)
      const match = /^wavecast relay listening on (wss?:\/\/127\.0\.0\.1:\d+)(?: |$)/m.exec(stdout);
      if (match) {
        cleanup();
        resolve(match[1]!);
      }
    };
    const onClose = (code: number | null) => fail(new Error(`the relay exited (${code}) before listening; stderr: ${stderr}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('close', onClose);
    }
    function fail(error: Error) {
      cleanup();
      reject(error);
    }
    child.stdout.setEncoding('utf8').on('data', onData);
    child.once('close', onClose);
  });
  const port = Number(url.slice(url.lastIndexOf(':') + 1));
  return {
    child,
    port,
    url,
    http: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Opens a `ws` client and waits until it is open. */
export async function connect(url: string, options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const client = new WsClient(url, options);
  await once(client, 'open');
  return client;
}

export type Received = { data: Buffer; isBinary: boolean; text: string };

/**
 * Records everything a client receives. `next(predicate)` resolves with the first message matching it
 * that has not been taken yet (whether it already arrived or is still to come), and takes it and every
 * message before it; `messages` keeps them all, so a test can check the whole sequence.
 */
export function record(client: WsClient): {
  messages: Received[];
  next(predicate?: (m: Received) => boolean, timeoutMs?: number): Promise<Received>;
} {
  const messages: Received[] = [];
  let cursor = 0;
  let waiter: { predicate: (m: Received) => boolean; resolve: (m: Received) => void } | null = null;
  const take = (predicate: (m: Received) => boolean): Received | undefined => {
    while (cursor < messages.length) {
      const message = messages[cursor++]!;
      if (predicate(message)) return message;
    }
    return undefined;
  };
  client.on('message', (data: WsClient.RawData, isBinary: boolean) => {
    const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    messages.push({ data: buffer, isBinary, text: buffer.toString() });
    if (waiter === null) return;
    const found = take(waiter.predicate);
    if (found !== undefined) waiter.resolve(found);
  });
  return {
    messages,
    next(predicate = () => true, timeoutMs = 5_000) {
      if (waiter !== null) return Promise.reject(new Error('record(): one next() at a time'));
      const found = take(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error(`no such message within ${timeoutMs} ms; got: ${JSON.stringify(messages.map((m) => m.text.slice(0, 40)))}`));
        }, timeoutMs);
        waiter = {
          predicate,
          resolve: (m) => {
            clearTimeout(timer);
            waiter = null;
            resolve(m);
          },
        };
      });
    },
  };
}

/** Resolves with the close code and reason of a client. */
export async function closed(client: WsClient, timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
  const [code, reason] = await once<[number, Buffer]>(client, 'close', timeoutMs);
  return { code, reason: reason.toString() };
}

/** The HTTP status (and headers, body) a WebSocket upgrade was refused with. */
export async function refusedUpgrade(
  url: string,
  options: WsClient.ClientOptions = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const client = new WsClient(url, options);
  client.on('error', () => {});
  const [, response] = await once<[unknown, import('node:http').IncomingMessage]>(client, 'unexpected-response');
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  return { status: response.statusCode ?? 0, body, headers: response.headers };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to the relay; resolves with the status, headers and body. */
export function http(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method, headers: options.headers ?? {}, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The value of one sample in a Prometheus exposition (labels written as in the text, or none). */
export function sample(metrics: string, name: string, labels = ''): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

export type Envelope = Record<string, unknown> & { type: string };

/** A wavecast.v1 client: `next(type, match)` waits for the next envelope of that type. */
export async function v1(relay: { url: string }, options: WsClient.ClientOptions = {}) {
  const client = new WsClient(`${relay.url}/`, 'wavecast.v1', options);
  await once(client, 'open');
  const log = record(client);
  const all: Envelope[] = [];
  client.on('message', (data: Buffer) => all.push(JSON.parse(data.toString()) as Envelope));
  return {
    client,
    all,
    send: (envelope: object) => client.send(JSON.stringify(envelope)),
    async next(type: string, match: (e: Envelope) => boolean = () => true, timeoutMs?: number): Promise<Envelope> {
      const m = await log.next((r) => {
        const e = JSON.parse(r.text) as Envelope;
        return e.type === type && match(e);
      }, timeoutMs);
      return JSON.parse(m.text) as Envelope;
    },
    messages: (channel: string) => all.filter((e) => e.type === 'message' && e.channel === channel).map((e) => [e.seq, e.data]),
  };
}

export type V1Client = Awaited<ReturnType<typeof v1>>;
