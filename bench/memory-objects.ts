// What a connection keeps on the server's heap, object by object: a server (Wavecast from dist/, or ws)
// runs in this process, the load generator in a child opens the connections (after a warm-up, as in the
// memory scenarios) and, with --traffic, has each send a few echoed messages and a ping; a heap snapshot
// is taken before and after, and the growth is printed per connection, by kind of object.
// Usage: node build/bench/memory-objects.js [--module wavecast|ws] [--connections N] [--traffic N] [--http]
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { Child } from './lib/proc.js';
import type { GenConfig, GenToRunner } from './lib/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Bytes and count of objects per kind (type and constructor name) in a heap snapshot file. */
export function objectsByKind(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = snap.snapshot.meta.node_types[0];
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const kind = `${types[snap.nodes[i + typeAt]!]} ${snap.strings[snap.nodes[i + nameAt]!]!.slice(0, 60)}`;
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snap.nodes[i + sizeAt]!;
    kinds.set(kind, entry);
  }
  return kinds;
}

/** Writes a heap snapshot (after full collections) and returns its file: read it once every snapshot is taken. */
function snapshot(): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return writeHeapSnapshot();
}

/** Reads and deletes a snapshot file. */
function read(file: string): Map<string, { count: number; bytes: number }> {
  try {
    return objectsByKind(file);
  } finally {
    rmSync(file);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      module: { type: 'string', default: 'wavecast' },
      connections: { type: 'string', default: '2000' },
      traffic: { type: 'string', default: '3' },
      http: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.connections);
  const root = resolve(HERE, '../..');
  const specifier = values.module === 'wavecast' ? pathToFileURL(join(root, 'dist', 'index.js')).href : values.module!;
  const { WebSocketServer } = (await import(specifier)) as {
    WebSocketServer: new (
      options: object,
    ) => {
      on(event: string, listener: (...args: never[]) => void): void;
      address(): AddressInfo;
    };
  };
  const http = values.http ? createServer() : null;
  const wss = new WebSocketServer(http ? { server: http } : { port: 0, host: '127.0.0.1' });
  wss.on('connection', (socket: { on(e: 'message', l: (d: Buffer, b: boolean) => void): void; send(d: Buffer, o: object): void }) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  const port = await new Promise<number>((done) => {
    if (http) http.listen(0, '127.0.0.1', () => done((http.address() as AddressInfo).port));
    else wss.on('listening', () => done(wss.address().port));
  });
  const gen = Child.fork<GenToRunner>('load generator', join(HERE, 'loadgen.js'), []);
  const config: GenConfig = {
    kind: 'idle',
    host: '127.0.0.1',
    port,
    proc: 0,
    procs: 1,
    connections: n,
    totalConnections: n,
    payloadSize: 16,
    binary: false,
    deflate: false,
    inflight: 1,
    concurrency: 128,
    localAddresses: [],
    traffic: Number(values.traffic),
    rate: 0,
    rooms: 1,
    protocol: 'v1',
    warmupMs: 0,
    measureMs: 0,
  };
  gen.send({ cmd: 'run', config });
  await Promise.race([gen.next('warmed', 60_000), gen.died]);
  // Both snapshots are written before either is read: what reading the first builds (a table of every kind
  // of object) would otherwise be on the heap when the second is taken, and count as the connections'.
  const beforeFile = snapshot();
  gen.send({ cmd: 'proceed' });
  const connected = await Promise.race([gen.next('connected', 120_000), gen.died]);
  const afterFile = snapshot();
  const before = read(beforeFile);
  const after = read(afterFile);
  const rows: [string, number, number][] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    if (a.bytes - b.bytes >= 8 * n) rows.push([kind, (a.count - b.count) / n, (a.bytes - b.bytes) / n]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  const total = rows.reduce((sum, r) => sum + r[2], 0);
  console.log(`${values.module}${values.http ? ' on node:http' : ''}: ${n} connections (${connected.verified})`);
  console.log(`heap growth per connection, by kind of object (rows of 8 B/conn or more; ${Math.round(total)} B/conn in all):\n`);
  for (const [kind, count, bytes] of rows)
    console.log(`${String(Math.round(bytes)).padStart(6)} B  ${count.toFixed(2).padStart(6)} objects  ${kind}`);
  await gen.stop();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
