// `npm run bench -- --scenario yjs`: collaborative editing, Wavecast's documents against y-websocket's
// server (@y/websocket-server, the baseline: 1.00x) and Hocuspocus (@hocuspocus/server), each server in
// its own process (pinned to CPU 0 when taskset is there), the same editors (editor.ts) in this one
// (the last CPU), servers interleaved round by round (A B C A B C …). Three rows:
//
//   editors   50 editors on one document, each sending a small update (an insert of ~8 characters)
//             `rate` times a second; 5 of them apply everything and time each other editor's update
//             from its send to its arrival: delivery latency p50/p99, and the server's CPU
//   memory    1,000 documents open, each with one editor that wrote 100 characters: the server's RSS
//             and heap (+ external) after a full gc, minus the same before, per document
//   join      a 1 MiB document (16 updates of 64 KiB of text); a new editor connects: time from the
//             connection's start to the server's step 2 applied (synced), median of 10 joins
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import { BenchEditor, type Dialect } from './editor.js';
import type { YjsServerKind, YjsServerMessage } from './server.js';

export interface YjsBenchOptions {
  rounds: number;
  quick: boolean;
  /** Seconds measured / warmed up in the editors row (null: the defaults). */
  measure: number | null;
  warmup: number | null;
  pin: boolean;
  out: string;
  save: boolean;
  /** Updates a second per editor (default 10). */
  rate?: number;
}

const SERVERS: Array<{ name: string; kind: YjsServerKind; dialect: Dialect; path: string }> = [
  { name: 'wavecast', kind: 'wavecast', dialect: 'y-websocket', path: '/docs/' },
  { name: 'y-websocket', kind: 'y-websocket', dialect: 'y-websocket', path: '/' },
  { name: 'hocuspocus', kind: 'hocuspocus', dialect: 'hocuspocus', path: '/' },
];
const BASELINE = 'y-websocket';

interface Row {
  key: string;
  label: string;
  better: 'lower' | 'higher';
  digits: number;
}

const ROWS: Row[] = [
  { key: 'p50', label: 'editors: update delivery p50 (ms)', better: 'lower', digits: 2 },
  { key: 'p99', label: 'editors: update delivery p99 (ms)', better: 'lower', digits: 2 },
  { key: 'cpu', label: 'editors: server CPU (% of a core)', better: 'lower', digits: 1 },
  { key: 'rssPerDoc', label: 'memory: RSS per open document (KB)', better: 'lower', digits: 1 },
  { key: 'heapPerDoc', label: 'memory: heap + external per open document (KB)', better: 'lower', digits: 1 },
  { key: 'join', label: 'join: 1 MiB document synced (ms)', better: 'lower', digits: 1 },
];

type Sample = Record<string, number>;

async function startServer(kind: YjsServerKind, pin: boolean): Promise<{ child: Child<YjsServerMessage>; port: number }> {
  const script = fileURLToPath(new URL('./server.js', import.meta.url));
  const child = Child.fork<YjsServerMessage>(`${kind} server`, script, [kind], {
    execArgv: ['--expose-gc'],
    ...(pin ? { cpus: '0' } : {}),
  });
  const ready = await Promise.race([child.next('ready', 30_000), child.died]);
  return { child, port: ready.port };
}

async function ask<K extends 'mem' | 'cpu'>(child: Child<YjsServerMessage>, cmd: K): Promise<Extract<YjsServerMessage, { type: K }>> {
  child.send({ cmd });
  return Promise.race([child.next(cmd, 30_000), child.died]);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 50 editors at `rate` updates a second each; 5 observers time every other editor's update. */
async function editorsRow(
  url: string,
  server: { kind: YjsServerKind; dialect: Dialect; child: Child<YjsServerMessage> },
  warmup: number,
  measure: number,
  rate: number,
): Promise<Sample> {
  const editors: BenchEditor[] = [];
  for (let i = 0; i < 50; i++) editors.push(new BenchEditor(url + 'bench', 'bench', server.dialect, i < 5));
  await Promise.all(editors.map((e) => e.synced));
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let measuring = false;
  editors.slice(0, 5).forEach((observer, o) => {
    observer.doc.getText('t').observe((event) => {
      const now = performance.now();
      for (const part of event.changes.delta) {
        if (typeof part.insert !== 'string') continue;
        for (const tag of part.insert.split(';')) {
          const at = sent.get(tag);
          if (at !== undefined && !tag.startsWith(`${o}.`) && measuring) latencies.push(now - at);
        }
      }
    });
  });
  const timers: NodeJS.Timeout[] = [];
  editors.forEach((editor, i) => {
    let seq = 0;
    const start = setTimeout(
      () => {
        timers.push(
          setInterval(() => {
            const tag = `${i}.${seq++}`;
            sent.set(tag, performance.now());
            editor.doc.getText('t').insert(0, `${tag};`);
          }, 1000 / rate),
        );
      },
      (i * 1000) / rate / editors.length,
    );
    timers.push(start);
  });
  await wait(warmup * 1000);
  measuring = true;
  const cpuStart = (await ask(server.child, 'cpu')).micros;
  const t0 = performance.now();
  await wait(measure * 1000);
  const cpuEnd = (await ask(server.child, 'cpu')).micros;
  const elapsed = performance.now() - t0;
  measuring = false;
  for (const timer of timers) clearInterval(timer);
  for (const editor of editors) editor.close();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { p50: pick(0.5), p99: pick(0.99), cpu: ((cpuEnd - cpuStart) / 1000 / elapsed) * 100, deliveries: latencies.length };
}

/** 1,000 documents open, one editor each, 100 characters written. */
async function memoryRow(base: string, server: { dialect: Dialect; child: Child<YjsServerMessage> }): Promise<Sample> {
  const before = await ask(server.child, 'mem');
  const editors: BenchEditor[] = [];
  const DOCS = 1000;
  for (let i = 0; i < DOCS; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => new BenchEditor(`${base}doc-${i + j}`, `doc-${i + j}`, server.dialect, false));
    await Promise.all(batch.map((e) => e.synced));
    for (const editor of batch) editor.doc.getText('t').insert(0, 'x'.repeat(100));
    await Promise.all(batch.map((e) => e.roundTrip()));
    editors.push(...batch);
  }
  await tick();
  const after = await ask(server.child, 'mem');
  for (const editor of editors) editor.close();
  return { rssPerDoc: (after.rss - before.rss) / DOCS / 1024, heapPerDoc: (after.heap - before.heap) / DOCS / 1024 };
}

/** A 1 MiB document; 10 editors join it one after another. */
async function joinRow(base: string, server: { dialect: Dialect }): Promise<Sample> {
  const writer = new BenchEditor(`${base}big`, 'big', server.dialect, false);
  await writer.synced;
  for (let i = 0; i < 16; i++) writer.doc.getText('t').insert(0, String.fromCharCode(97 + i).repeat(64 * 1024));
  await writer.roundTrip();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const joiner = new BenchEditor(`${base}big`, 'big', server.dialect, true);
    await joiner.synced;
    times.push(performance.now() - t0);
    if (joiner.doc.getText('t').length !== 16 * 64 * 1024)
      throw new Error(`the joiner got ${joiner.doc.getText('t').length} characters, not ${16 * 64 * 1024}`);
    joiner.close();
  }
  writer.close();
  return { join: median(times) };
}

export async function runYjsBench(options: YjsBenchOptions): Promise<void> {
  const warmup = options.warmup ?? (options.quick ? 1 : 3);
  const measure = options.measure ?? (options.quick ? 2 : 10);
  const rate = options.rate ?? 10;
  const pin = options.pin && cpus().length > 1 && hasTaskset();
  if (pin) process.stdout.write(`[yjs] servers pinned to CPU 0, editors in this process on CPU ${cpus().length - 1}\n`);
  if (pin) execFileSync('taskset', ['-pc', String(cpus().length - 1), String(process.pid)], { stdio: 'ignore' });
  const samples: Record<string, Sample[]> = {};
  for (let round = 1; round <= options.rounds; round++) {
    for (const server of SERVERS) {
      const sample: Sample = {};
      // A fresh server for each row, so that one row's documents do not weigh on the next.
      for (const row of ['editors', 'memory', 'join'] as const) {
        const { child, port } = await startServer(server.kind, pin);
        const base = `ws://127.0.0.1:${port}${server.path}`;
        try {
          if (row === 'editors') Object.assign(sample, await editorsRow(base, { ...server, child }, warmup, measure, rate));
          else if (row === 'memory') Object.assign(sample, await memoryRow(base, { ...server, child }));
          else Object.assign(sample, await joinRow(base, server));
        } finally {
          await child.stop();
        }
      }
      (samples[server.name] ??= []).push(sample);
      process.stdout.write(
        `[yjs] round ${round}/${options.rounds} ${server.name}: ${ROWS.map((r) => `${r.key} ${sample[r.key]!.toFixed(r.digits)}`).join(', ')}\n`,
      );
    }
  }
  const table = render(samples, rate, warmup, measure, options.rounds);
  process.stdout.write(`\n${table}\n`);
  if (options.save) {
    mkdirSync(options.out, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/[:.]/g, '-')
      .replace(/-\d{3}Z$/, 'Z');
    writeFileSync(join(options.out, `${stamp}-yjs.md`), `# yjs benchmark, ${new Date().toISOString()}\n\n${table}\n`);
    writeFileSync(
      join(options.out, `${stamp}-yjs.json`),
      JSON.stringify({ rate, warmup, measure, rounds: options.rounds, samples }, null, 2) + '\n',
    );
    process.stdout.write(`[yjs] saved bench/results/${stamp}-yjs.md and .json\n`);
  }
}

function render(samples: Record<string, Sample[]>, rate: number, warmup: number, measure: number, rounds: number): string {
  const names = SERVERS.map((s) => s.name);
  const lines = [
    `50 editors at ${rate} updates/s each (${warmup} s warm-up, ${measure} s measured), 1,000 open documents, joining a 1 MiB document; median of ${rounds} round(s), min–max in brackets; vs ${BASELINE} (lower is better on every row)`,
    '',
    `| row | ${names.join(' | ')} |`,
    `| --- | ${names.map(() => '---:').join(' | ')} |`,
  ];
  for (const row of ROWS) {
    const base = median(samples[BASELINE]!.map((s) => s[row.key]!));
    const cells = names.map((name) => {
      const values = samples[name]!.map((s) => s[row.key]!);
      const m = median(values);
      const range = values.length > 1 ? ` [${Math.min(...values).toFixed(row.digits)}–${Math.max(...values).toFixed(row.digits)}]` : '';
      return `${m.toFixed(row.digits)}${range} (${(m / base).toFixed(2)}x)`;
    });
    lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
