// What a connection keeps on the server's heap, object by object: one of the benchmark's echo servers
// (Wavecast from dist/, ws with or without its addons, the raw node:net server; any library server of the
// runner, wavecast-base too when WAVECAST_BASE names a built checkout) runs in a child process, exactly as
// the memory scenarios run it; the load generator in another opens the connections (after the same
// warm-up) and, with --traffic, has each send a few echoed messages and a ping; the server writes a heap
// snapshot before and after, and the growth is printed per connection, by kind of object.
// Usage: node build/bench/memory-objects.js [--server wavecast|ws|ws+bufferutil|raw|…] [--connections N]
//        [--traffic N] [--http]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import { Child } from './lib/proc.js';
import { peers } from './lib/peers.js';
import type { GenConfig, GenToRunner, ServerToRunner } from './lib/types.js';

const HERE = dirname(fileURLToPath(import.meta.url));

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Kinds of object that are another object's backing store: counted as `<kind> of <holder's kind>`. */
const BACKING = /^(hidden system \/ PropertyArray|array \(object properties\)|array \(object elements\))$/;

/**
 * Bytes and count of objects per kind (type and constructor name) in a heap snapshot file; a property or
 * element store is named with the kind of object that holds it (a listener table's dictionary shows as
 * `array (object properties) of Object`), so that what it costs is seen beside its owner.
 */
export function objectsByKind(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
    number,
  ];
  const edgeFields = snap.snapshot.meta.edge_fields.length;
  const toAt = snap.snapshot.meta.edge_fields.indexOf('to_node');
  const types = snap.snapshot.meta.node_types[0];
  const kindOf = (i: number) => `${types[snap.nodes[i + typeAt]!]} ${snap.strings[snap.nodes[i + nameAt]!]!.slice(0, 60)}`;
  // Who holds each backing store: the first object with an edge to it.
  const holder = new Map<number, number>();
  for (let i = 0, e = 0; i < snap.nodes.length; i += fields.length) {
    const edges = snap.nodes[i + edgeCountAt]!;
    for (let k = 0; k < edges; k++, e += edgeFields) {
      const to = snap.edges[e + toAt]!;
      if (!holder.has(to) && BACKING.test(kindOf(to))) holder.set(to, i);
    }
  }
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    let kind = kindOf(i);
    const owner = holder.get(i);
    if (owner !== undefined && BACKING.test(kind)) kind += ` of ${kindOf(owner).replace(/^object /, '')}`;
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snap.nodes[i + sizeAt]!;
    kinds.set(kind, entry);
  }
  return kinds;
}

/** Reads and deletes a snapshot file. */
function read(file: string): Map<string, { count: number; bytes: number }> {
  try {
    return objectsByKind(file);
  } finally {
    rmSync(file);
  }
}

/** An echo server of the benchmark's (a library peer: wavecast, ws, ws+bufferutil, raw, …), started as the runner starts it. */
function echoServer(name: string, http: boolean): { script: string; args: string[]; env: NodeJS.ProcessEnv } {
  const libraries = peers().filter((p) => p.group === 'library');
  const peer = libraries.find((p) => p.name === name);
  if (peer === undefined) throw new Error(`unknown server ${name}; expected one of ${libraries.map((p) => p.name).join(', ')}`);
  return { script: peer.script, args: peer.args('echo', http), env: peer.env };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: 'wavecast' },
      connections: { type: 'string', default: '2000' },
      traffic: { type: 'string', default: '3' },
      http: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.connections);
  const { script, args, env } = echoServer(values.server!, values.http!);
  const server = Child.fork<ServerToRunner>('server', script, args, { env, execArgv: ['--expose-gc'] });
  const { port } = await Promise.race([server.next('ready', 20_000), server.died]);
  /** A heap snapshot of the server (after full collections); its file, to read once every snapshot is taken. */
  const snapshot = async (): Promise<string> => {
    server.send({ cmd: 'snapshot' });
    return (await Promise.race([server.next('snapshot', 120_000), server.died])).file;
  };
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
  const beforeFile = await snapshot();
  gen.send({ cmd: 'proceed' });
  const connected = await Promise.race([gen.next('connected', 120_000), gen.died]);
  const afterFile = await snapshot();
  const before = read(beforeFile);
  const after = read(afterFile);
  const rows: [string, number, number][] = [];
  for (const [kind, a] of after) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    if (a.bytes - b.bytes >= 8 * n) rows.push([kind, (a.count - b.count) / n, (a.bytes - b.bytes) / n]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  // `synthetic` and `native` rows are Node's C++ objects as the snapshot sizes them, outside V8's heapUsed;
  // `code` rows are what the JIT compiled meanwhile, the process's and not the connections' (it does not
  // grow with them): neither is in the total.
  const perConnection = rows.filter((r) => !/^(synthetic|native|code) /.test(r[0])).reduce((sum, r) => sum + r[2], 0);
  console.log(`${values.server}${values.http ? ' on node:http' : ''}: ${n} connections (${connected.verified})`);
  console.log(
    `heap growth per connection, by kind of object (rows of 8 B/conn or more; ${Math.round(perConnection)} B/conn on V8's heap without code):\n`,
  );
  for (const [kind, count, bytes] of rows)
    console.log(`${String(Math.round(bytes)).padStart(6)} B  ${count.toFixed(2).padStart(6)} objects  ${kind}`);
  await gen.stop();
  server.send({ cmd: 'exit' });
  await server.exited;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
