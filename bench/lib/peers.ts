// The servers the benchmark runs (its peers): each one's script, arguments and environment, shared by the
// runner (run.ts) and memory-objects.ts, so that both start a server the same way.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeCheckout } from './machine.js';
import type { ServerGroup } from '../scenarios.js';
import type { GenConfig } from './types.js';

const SERVERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'servers');

export interface Peer {
  name: string;
  group: ServerGroup;
  script: string;
  /** The server's arguments for a scenario's mode, on its own server or on a node:http server. */
  args: (mode: string, http: boolean) => string[];
  env: NodeJS.ProcessEnv;
  note: string;
  /** What the load generator does differently for this server (the relays' client protocol). */
  gen?: Partial<GenConfig>;
  /** Runs only when named with --server. */
  optIn?: boolean;
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const n of names) delete env[n];
  return env;
}

/** Every server the benchmark can run, libraries and relays, as the runner starts them. */
export function peers(): Peer[] {
  const wslike = join(SERVERS, 'wslike.js');
  const noAddons = { ...process.env, WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' };
  const http = (on: boolean) => (on ? ['http'] : []);
  const list: Peer[] = [
    {
      name: 'wavecast',
      group: 'library',
      script: wslike,
      args: (m, h) => ['wavecast', m, ...http(h)],
      env: process.env,
      note: 'the built package (dist/)',
    },
    {
      name: 'ws',
      group: 'library',
      script: wslike,
      args: (m, h) => ['ws', m, ...http(h)],
      env: noAddons,
      note: 'ws without native addons (WS_NO_BUFFER_UTIL, WS_NO_UTF_8_VALIDATE)',
    },
    {
      name: 'ws+bufferutil',
      group: 'library',
      script: wslike,
      args: (m, h) => ['ws', m, ...http(h)],
      env: envWithout('WS_NO_BUFFER_UTIL', 'WS_NO_UTF_8_VALIDATE'),
      note: 'ws with bufferutil and utf-8-validate',
    },
    {
      name: 'raw',
      group: 'library',
      script: join(SERVERS, 'raw.js'),
      args: (m, h) => [m, ...http(h)],
      env: process.env,
      note: 'minimal node:net server with the same per-turn write coalescing: the ceiling on Node',
    },
    {
      name: 'raw-direct',
      group: 'library',
      script: join(SERVERS, 'raw.js'),
      args: (m, h) => [m, ...http(h), 'direct'],
      env: process.env,
      note: 'the raw server writing every frame at once, uncoalesced (only with --server raw-direct)',
      optIn: true,
    },
  ];
  if (process.env.UWS_PATH) {
    list.push({
      name: 'uws',
      group: 'library',
      script: join(SERVERS, 'uws.js'),
      args: (m, h) => [m, ...http(h)],
      env: process.env,
      note: `uWebSockets.js from ${process.env.UWS_PATH}`,
    });
  }
  const relay = join(SERVERS, 'relay.js');
  const base = process.env.WAVECAST_BASE;
  if (base) {
    // Another build of Wavecast (a checkout with its dist/ built), run beside this one in the same rounds:
    // the before-and-after of a change, side by side in one run.
    const at = `${resolve(base)} (${describeCheckout(base)})`;
    list.push(
      {
        name: 'wavecast-base',
        group: 'library',
        script: wslike,
        args: (m, h) => [pathToFileURL(join(resolve(base), 'dist', 'index.js')).href, m, ...http(h)],
        env: process.env,
        note: `Wavecast built at ${at}`,
      },
      {
        name: 'serve-v1-base',
        group: 'relay',
        script: relay,
        args: () => [],
        env: { ...process.env, WAVECAST_ROOT: resolve(base) },
        note: `\`wavecast serve\` built at ${at}, wavecast.v1 clients`,
        gen: { protocol: 'v1' },
      },
    );
  }
  list.push(
    {
      name: 'serve-v1',
      group: 'relay',
      script: relay,
      args: () => [],
      env: process.env,
      note: '`wavecast serve` (dist/) with wavecast.v1 clients',
      gen: { protocol: 'v1' },
    },
    {
      name: 'serve-plain',
      group: 'relay',
      script: relay,
      args: () => [],
      env: process.env,
      note: '`wavecast serve` (dist/) with plain clients',
      gen: { protocol: 'plain' },
    },
    {
      name: 'socket.io',
      group: 'relay',
      script: join(SERVERS, 'socketio.js'),
      args: () => [],
      env: process.env,
      note: 'Socket.IO 4 on the websocket transport (engine.io on ws, with bufferutil)',
      gen: { protocol: 'socketio' },
    },
  );
  return list;
}
