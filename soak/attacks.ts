// `npm run soak -- --attacks [--cli PATH] [--only NAME,...]`: the admission attacks of issue 14 against
// `wavecast serve`, each on a fresh relay process: one address opening 10,000 connections, silent TCP
// sockets and half-finished request heads under a file limit of 1024, TLS handshakes never finished,
// clients that only answer pings, and a shutdown with a slow WebSocket and a slow upload. --cli runs
// another build of the command (such as main's: /path/to/dist/cli/main.js); flags it does not know are
// left out. Each attack says what the attackers got, what the relay held (descriptors, RSS), and whether
// a client from another address was served meanwhile. The figures in docs/RELIABILITY.md come from here.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { once } from '../test/helpers/net.js';
import { upgradeRequest } from '../test/helpers/raw-ws.js';
import { selfSigned } from '../test/helpers/certificates.js';
import { CLI_MAIN, connect, startRelay, type RelayProcess, type StartOptions } from '../test/relay/relay-process.js';
import { processRssMiB } from './memory.js';

interface Row {
  attack: string;
  figures: Record<string, string | number>;
}

// `--attacks` is how soak/main.ts chose this script.
const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: { attacks: { type: 'boolean' }, cli: { type: 'string' }, only: { type: 'string' } },
});
const cli = flags.cli ?? CLI_MAIN;
const only = flags.only?.split(',');
const help = await commandHelp(cli);
const knows = (flag: string) => help.includes(`--${flag} `) || help.includes(`--${flag}\n`);

const ATTACKS: Record<string, () => Promise<Row>> = {
  'one-address': oneAddress,
  'silent-and-half-heads': silentAndHalfHeads,
  'tls-handshakes': tlsHandshakes,
  'pong-only': pongOnly,
  shutdown: slowShutdown,
};

console.log(`attacks against ${cli}`);
for (const [name, attack] of Object.entries(ATTACKS)) {
  if (only !== undefined && !only.includes(name)) continue;
  const row = await attack();
  console.log(`\n## ${row.attack}`);
  for (const [key, value] of Object.entries(row.figures)) console.log(`- ${key}: ${value}`);
}
process.exit(0);

// ---------------------------------------------------------------- the attacks

/** One address opens 10,000 WebSocket connections (500 handshakes in flight); a client from another address then connects. */
async function oneAddress(): Promise<Row> {
  const relay = await start([]);
  const statuses = new Map<string, number>();
  const sockets: Socket[] = [];
  const started = Date.now();
  await pool(10_000, 500, async () => {
    const result = await rawUpgrade(relay.port, '127.0.0.2');
    statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    if (result.socket !== null) sockets.push(result.socket);
  });
  const took = Date.now() - started;
  const held = { fds: descriptors(relay), rss: rssMiB(relay) };
  const client = await legitimate(relay);
  for (const socket of sockets) socket.destroy();
  await relay.stop();
  return {
    attack: 'One address opens 10,000 WebSocket connections',
    figures: {
      'answers to the attacker': [...statuses].map(([status, count]) => `${count} × ${status}`).join(', '),
      'time to make them': `${(took / 1000).toFixed(1)} s`,
      'relay descriptors / RSS while held': `${held.fds} / ${held.rss} MiB`,
      'a client from 127.0.0.1 (WebSocket, GET /healthz)': client,
    },
  };
}

/** Under ulimit -n 1024: 3,000 sockets from 20 addresses, half silent, half with half a request head. */
async function silentAndHalfHeads(): Promise<Row> {
  const relay = await start([], { fileLimit: 1024 });
  const row = await idleSockets(relay, 3_000, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n', 60_000);
  row.figures['EMFILE errors in the relay log'] = (relay.stderr().match(/EMFILE/g) ?? []).length;
  await relay.stop();
  return { attack: 'Silent TCP sockets and half-finished heads, ulimit -n 1024', figures: row.figures };
}

/** Under ulimit -n 1024, with TLS: 2,000 sockets from 20 addresses, half silent, half with the start of a ClientHello. */
async function tlsHandshakes(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-attacks-'));
  try {
    const { certFile, keyFile, cert } = selfSigned(dir, 'relay');
    const relay = await start(['--tls-cert', certFile, '--tls-key', keyFile], { fileLimit: 1024 });
    const row = await idleSockets(relay, 2_000, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 150_000, cert);
    await relay.stop();
    return { attack: 'TLS handshakes never finished, ulimit -n 1024', figures: row.figures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `count` sockets from 20 addresses, every other one sending `partial` and nothing more: what the relay
 * holds meanwhile, whether a client is served, and how long the relay keeps them (up to `limitMs`).
 */
async function idleSockets(relay: RelayProcess, count: number, partial: string | Buffer, limitMs: number, ca?: Buffer): Promise<Row> {
  const { sockets, failed } = await openIdle(relay.port, count, (socket, i) => {
    if (i % 2 === 1) socket.write(partial);
  });
  const held = { fds: descriptors(relay), rss: rssMiB(relay) };
  const client = await legitimate(relay, ca);
  const kept = await holdTimes(sockets, limitMs);
  for (const { socket } of sockets) socket.destroy();
  return {
    attack: '',
    figures: {
      'attacker sockets connected / not connected within 3 s': `${sockets.length} / ${failed}`,
      'relay descriptors / RSS with them open': `${held.fds} / ${held.rss} MiB`,
      [`a client from 127.0.0.1 (${ca ? 'wss://' : 'WebSocket'}, GET /healthz)`]: client,
      'longest a silent socket was kept': kept.even,
      'longest a partial socket was kept': kept.odd,
    },
  };
}

/** 100 WebSocket clients that answer pings and send nothing, --heartbeat 1, --idle-timeout 5 (where the build has it). */
async function pongOnly(): Promise<Row> {
  const args = ['--heartbeat', '1', ...(knows('idle-timeout') ? ['--idle-timeout', '5'] : [])];
  const relay = await start(args);
  const clients = await Promise.all(Array.from({ length: 100 }, () => connect(`${relay.url}/quiet`, { localAddress: '127.0.0.3' })));
  let pongs = 0;
  const closes = new Map<string, number>();
  for (const client of clients) {
    client.on('ping', () => pongs++);
    client.on('close', (code: number) => closes.set(String(code), (closes.get(String(code)) ?? 0) + 1));
  }
  // Watch for 15 s (three idle timeouts), from the relay's heartbeat pings; nothing else is sent.
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const open = clients.filter((client) => client.readyState === client.OPEN).length;
  const closedByRelay = [...closes].map(([code, count]) => `${count} × ${code}`).join(', ') || 'none';
  for (const client of clients) client.terminate();
  await relay.stop();
  return {
    attack: `100 clients that only answer pings (${args.join(' ')})`,
    figures: {
      'pongs they sent in 15 s': pongs,
      'still open after 15 s': open,
      'closed by the relay within 15 s, by code': closedByRelay,
    },
  };
}

/** SIGTERM with a WebSocket that never answers the close frame and a POST whose body never ends, --shutdown-timeout 3. */
async function slowShutdown(): Promise<Row> {
  const relay = await start(['--shutdown-timeout', '3']);
  const ws = await tcp(relay.port, '127.0.0.1');
  ws.write(upgradeRequest('/slow'));
  await once(ws, 'data');
  const upload = await tcp(relay.port, '127.0.0.1');
  upload.write(
    'POST /channels/slow/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\nExpect: 100-continue\r\n\r\n',
  );
  await once(upload, 'data');
  upload.write('only a bit');
  const signalled = Date.now();
  const cut = Promise.all([once(ws, 'close', 60_000), once(upload, 'close', 60_000)].map((p) => p.then(() => Date.now() - signalled)));
  relay.child.kill('SIGTERM');
  const exit = await relay.exited;
  const exited = Date.now() - signalled;
  const [wsCut, uploadCut] = await cut;
  return {
    attack: 'SIGTERM with a slow WebSocket and a slow upload (--shutdown-timeout 3)',
    figures: {
      'from the signal to the exit': `${(exited / 1000).toFixed(2)} s (status ${exit.code})`,
      'the WebSocket / the upload cut after': `${(wsCut! / 1000).toFixed(2)} s / ${(uploadCut! / 1000).toFixed(2)} s`,
    },
  };
}

// ---------------------------------------------------------------- helpers

async function start(args: string[], options: StartOptions = {}): Promise<RelayProcess> {
  return startRelay(args, {}, { ...options, cli });
}

/** A TCP connection from `localAddress`, once connected (or an error after 3 s). */
function tcp(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1', localAddress });
    socket.setTimeout(3_000, () => socket.destroy(new Error('connect timed out')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** An upgrade by hand: its status (or how it failed), and the socket when it got 101 (kept open). */
async function rawUpgrade(port: number, localAddress: string): Promise<{ status: string; socket: Socket | null }> {
  let socket: Socket;
  try {
    socket = await tcp(port, localAddress);
  } catch (error) {
    return { status: `not connected (${(error as Error).message})`, socket: null };
  }
  return new Promise((resolve) => {
    let head = '';
    const done = (status: string, keep: boolean) => {
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.setTimeout(0);
      if (!keep) socket.destroy();
      else socket.on('error', () => {});
      resolve({ status, socket: keep ? socket : null });
    };
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const line = head.indexOf('\r\n');
      if (line !== -1) {
        const status = head.slice(9, 12);
        done(status, status === '101');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => done('closed without an answer', false));
    socket.setTimeout(10_000, () => done('no answer in 10 s', false));
    socket.write(upgradeRequest('/flood'));
  });
}

/** Opens `count` sockets from 20 addresses (200 connects in flight) and does `then` with each. */
async function openIdle(
  port: number,
  count: number,
  then: (socket: Socket, i: number) => void,
): Promise<{ sockets: Array<{ socket: Socket; i: number; opened: number; closed: number | null }>; failed: number }> {
  const sockets: Array<{ socket: Socket; i: number; opened: number; closed: number | null }> = [];
  let failed = 0;
  let next = 0;
  await pool(count, 200, async () => {
    const i = next++;
    try {
      const socket = await tcp(port, `127.0.0.${10 + (i % 20)}`);
      const entry = { socket, i, opened: Date.now(), closed: null as number | null };
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.once('close', () => (entry.closed = Date.now()));
      sockets.push(entry);
      then(socket, i);
    } catch {
      failed++;
    }
  });
  return { sockets, failed };
}

/** Waits until every socket has been closed by the relay (or `limitMs`), and says how long the longest of each kind (even, odd i) was kept. */
async function holdTimes(
  sockets: Array<{ socket: Socket; i: number; opened: number; closed: number | null }>,
  limitMs: number,
): Promise<{ even: string; odd: string }> {
  const deadline = Date.now() + limitMs;
  while (sockets.some((s) => s.closed === null) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  const longest = (odd: number) => {
    const kind = sockets.filter((s) => s.i % 2 === odd);
    const open = kind.filter((s) => s.closed === null).length;
    if (kind.length === 0) return 'none connected';
    if (open > 0) return `${open} of ${kind.length} still open after ${limitMs / 1000} s`;
    const max = Math.max(...kind.map((s) => s.closed! - s.opened));
    return `${(max / 1000).toFixed(1)} s`;
  };
  return { even: longest(0), odd: longest(1) };
}

/** Whether a client from 127.0.0.1 gets a WebSocket (and an echo through it) and a GET /healthz, within 5 s each. */
async function legitimate(relay: RelayProcess, ca?: Buffer): Promise<string> {
  const ws = await (async () => {
    try {
      const a = await withTimeout(connect(`${relay.url}/served`, ca ? { ca } : {}), 5_000);
      const echoed = once(a, 'message');
      a.send('served');
      await withTimeout(echoed, 5_000);
      a.terminate();
      return 'served';
    } catch (error) {
      return `not served (${(error as Error).message.split('\n')[0]})`;
    }
  })();
  const get = await new Promise<string>((resolve) => {
    const url = `${relay.url.replace(/^ws/, 'http')}/healthz`;
    const onResponse = (response: import('node:http').IncomingMessage) => {
      response.resume();
      resolve(String(response.statusCode));
    };
    const request = ca
      ? httpsRequest(url, { agent: false, timeout: 5_000, ca }, onResponse)
      : httpRequest(url, { agent: false, timeout: 5_000 }, onResponse);
    request.on('timeout', () => request.destroy(new Error('no answer in 5 s')));
    request.on('error', (error) => resolve(`failed (${error.message})`));
    request.end();
  });
  return `WebSocket ${ws}; GET ${get}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Runs `task` `count` times, at most `concurrency` at once. */
async function pool(count: number, concurrency: number, task: () => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function descriptors(relay: RelayProcess): number {
  return readdirSync(`/proc/${relay.child.pid}/fd`).length;
}

function rssMiB(relay: RelayProcess): string {
  return processRssMiB(relay.child.pid!).toFixed(1);
}

async function commandHelp(command: string): Promise<string> {
  const child = spawn(process.execPath, [command, 'serve', '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await once(child, 'close', 10_000);
  return out;
}
