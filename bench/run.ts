// The benchmark runner (`npm run bench`): for each scenario, runs every server in its own process against
// the load generator in another, interleaved (A B C D A B C D ...) for N rounds, then prints and saves a
// table of medians with min–max and the ratio to `ws`. See bench/README.md.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Child, ChildFailure } from './lib/proc.js';
import { peers, type Peer } from './lib/peers.js';
import { machineCpu, machineInfo, openFilesLimit, type MachineInfo } from './lib/machine.js';
import { BASELINES, SCENARIOS, type Scenario, type ServerSample } from './scenarios.js';
import type { GenConfig, GenResult, GenToRunner, MemoryUsage, ServerToRunner } from './lib/types.js';
import { UsageError, type FlagValues } from '../src/cli/args.js';
import { benchHelp, readBenchFlags } from '../src/cli/bench.js';
import { BUSY, renderMarkdown, renderOverview, renderScenario, summarize, type RunRecord } from './lib/report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SATURATED = 0.9;
const CORES = cpus().length;

// ---- options ----
interface Options {
  rounds: number;
  scenarios: string[];
  servers: string[];
  quick: boolean;
  big: boolean;
  measure: number | null;
  warmup: number | null;
  genProcs: number | null;
  retries: number;
  pin: boolean;
  out: string;
  save: boolean;
}

function parseArgs(argv: string[]): Options {
  let flags: FlagValues;
  try {
    flags = readBenchFlags(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun "npm run bench -- --help" for the options.`);
    process.exit(2);
  }
  if (flags.help === true) {
    console.log(benchHelp());
    process.exit(0);
  }
  const list = (values: unknown) => (values as string[]).flatMap((value) => value.split(',')).filter(Boolean);
  const optional = (value: unknown) => (typeof value === 'number' ? value : null);
  return {
    rounds: Math.max(1, Math.floor(flags.rounds as number)),
    scenarios: list(flags.scenario),
    servers: list(flags.server),
    quick: flags.quick === true,
    big: flags.big === true,
    measure: optional(flags.duration),
    warmup: optional(flags.warmup),
    genProcs: flags.genProcs === undefined ? null : Math.max(1, Math.floor(flags.genProcs as number)),
    retries: Math.floor(flags.retries as number),
    pin: flags.noPin !== true,
    out: typeof flags.out === 'string' ? resolve(flags.out) : join(ROOT, 'bench', 'results'),
    save: flags.noSave !== true,
  };
}

function latestMtime(dir: string): number {
  let latest = 0;
  if (!existsSync(dir)) return 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    latest = Math.max(latest, st.isDirectory() ? latestMtime(path) : st.mtimeMs);
  }
  return latest;
}

/** Null when the built package can be benchmarked, else why not. */
async function wavecastProblem(): Promise<{ skip: string | null; warning: string | null }> {
  const dist = join(ROOT, 'dist', 'index.js');
  if (!existsSync(dist)) {
    return { skip: 'dist/index.js not found: `npm run build` has not produced the package (yet)', warning: null };
  }
  try {
    const name = 'wavecast';
    const mod = (await import(name)) as { WebSocketServer?: unknown };
    if (typeof mod.WebSocketServer !== 'function') {
      return { skip: 'dist/index.js does not export WebSocketServer yet', warning: null };
    }
  } catch (err) {
    return { skip: `importing the built package failed: ${(err as Error).message}`, warning: null };
  }
  const stale = latestMtime(join(ROOT, 'src')) > statSync(dist).mtimeMs;
  const warning = 'dist/ is older than src/ (the last build failed or was not run): numbers are for the old build';
  return { skip: null, warning: stale ? warning : null };
}

// ---- progress ----
const started = Date.now();
function progress(text: string): void {
  const elapsed = Math.round((Date.now() - started) / 1000);
  const line = `${text} · ${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, '0')} elapsed`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
  else process.stderr.write(`${line}\n`);
}
function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

// ---- one run ----
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function split(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

function genConfigs(s: Scenario, peer: Peer, port: number, o: Options): GenConfig[] {
  const procs = s.multiProc && o.genProcs ? o.genProcs : s.procs;
  const warmup = o.warmup ?? (o.quick ? s.seconds.quickWarmup : s.seconds.warmup);
  const measure = o.measure ?? (o.quick ? s.seconds.quickMeasure : s.seconds.measure);
  const base: GenConfig = {
    kind: s.kind,
    host: '127.0.0.1',
    port,
    proc: 0,
    procs,
    connections: 1,
    totalConnections: 1,
    payloadSize: 16,
    binary: false,
    deflate: false,
    inflight: 1,
    concurrency: 64,
    localAddresses: [],
    traffic: 0,
    rate: 0,
    rooms: 1,
    protocol: 'v1',
    warmupMs: warmup * 1000,
    measureMs: measure * 1000,
    ...s.gen,
    ...peer.gen,
  };
  base.totalConnections = base.connections;
  return Array.from({ length: procs }, (_, i) => ({
    ...base,
    proc: i,
    connections: split(base.connections, procs, i),
    concurrency: s.kind === 'handshake' ? Math.max(1, split(base.concurrency, procs, i)) : base.concurrency,
  }));
}

/** Extra Node flags for the children, e.g. BENCH_SERVER_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=prof'. */
function extraArgv(name: string): string[] {
  return (process.env[name] ?? '').split(/\s+/).filter(Boolean);
}

async function ask<K extends 'mem' | 'cpu'>(server: Child<ServerToRunner>, cmd: K) {
  server.send({ cmd });
  return server.next(cmd, 15_000);
}

const HAVE_TASKSET = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** CPU lists for taskset: the generators on the last `procs` CPUs, the server on the rest. */
function pinning(o: Options, procs: number): { server: string; gen: string } | null {
  if (!o.pin || !HAVE_TASKSET || CORES <= procs) return null;
  const first = CORES - procs;
  const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
  return { server: range(0, first - 1), gen: range(first, CORES - 1) };
}

async function runOne(s: Scenario, peer: Peer, round: number, o: Options): Promise<RunRecord> {
  const record: RunRecord = {
    scenario: s.name,
    server: peer.name,
    round,
    values: {},
    serverCpu: null,
    genCpu: 0,
    genCpuSystem: 0,
    genElu: 0,
    genSaturated: false,
    lost: 0,
    verified: '',
    info: {},
  };
  const pins = pinning(o, s.multiProc && o.genProcs ? o.genProcs : s.procs);
  const server = Child.fork<ServerToRunner>(`${peer.name} server`, peer.script, peer.args(s.serverMode, s.http === true), {
    env: peer.env,
    execArgv: ['--expose-gc', ...extraArgv('BENCH_SERVER_NODE_OPTIONS')],
    ...(pins ? { cpus: pins.server } : {}),
  });
  const gens: Child<GenToRunner>[] = [];
  const guard = <T>(p: Promise<T>) => Promise.race([p, server.died, ...gens.map((g) => g.died)]);
  try {
    const ready = await guard(server.next('ready', 20_000));
    record.info = ready.info;
    const configs = genConfigs(s, peer, ready.port, o);
    const connections = configs.reduce((a, c) => a + c.connections, 0);
    let memBefore: MemoryUsage | null = null;
    let memAfter: MemoryUsage | null = null;
    if (s.memory) memBefore = (await guard(ask(server, 'mem'))).usage;
    for (const cfg of configs) {
      const g = Child.fork<GenToRunner>(`load generator ${cfg.proc}`, join(HERE, 'loadgen.js'), [], {
        execArgv: extraArgv('BENCH_GEN_NODE_OPTIONS'),
        ...(pins ? { cpus: pins.gen } : {}),
      });
      gens.push(g);
      g.send({ cmd: 'run', config: cfg });
    }
    if (s.kind === 'idle') {
      // The generators first run a few connections through the same steps and close them, so that the
      // code those steps run is compiled before the reading (a cost paid once, not per connection).
      await guard(Promise.all(gens.map((g) => g.next('warmed', 60_000))));
      memBefore = (await guard(ask(server, 'mem'))).usage;
      for (const g of gens) g.send({ cmd: 'proceed' });
    }
    const connected = await guard(Promise.all(gens.map((g) => g.next('connected', 60_000 + connections * 10))));
    record.verified = connected[0]!.verified;
    if (s.kind === 'idle') {
      await sleep(1000); // let the server settle (late handshake callbacks, freed buffers)
      memAfter = (await guard(ask(server, 'mem'))).usage;
    }
    for (const g of gens) g.send({ cmd: 'go' });
    let cpu: number | null = null;
    let busyCores: number | null = null;
    const runMs = configs[0]!.warmupMs + configs[0]!.measureMs;
    if (s.kind !== 'idle') {
      await guard(gens[0]!.next('measure-start', runMs + 30_000));
      const m0 = machineCpu();
      const c0 = await guard(ask(server, 'cpu'));
      await guard(gens[0]!.next('measure-end', runMs + 30_000));
      const c1 = await guard(ask(server, 'cpu'));
      const m1 = machineCpu();
      // Still connected (and, for the relays, with their history): what the clients cost the server.
      if (s.memory) memAfter = (await guard(ask(server, 'mem'))).usage;
      cpu = (c1.usage.user + c1.usage.system - c0.usage.user - c0.usage.system) / (c1.at - c0.at);
      if (m0 && m1 && m1.total > m0.total) busyCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * CORES;
    }
    const done = await guard(Promise.all(gens.map((g) => g.next('result', 30_000))));
    const results: GenResult[] = done.map((m) => m.result);
    const sample: ServerSample = { cpu, memBefore, memAfter };
    record.values = s.compute(results, sample);
    record.serverCpu = cpu;
    record.genCpu = Math.max(...results.map((r) => r.cpu));
    record.genCpuSystem = Math.max(...results.map((r) => r.cpuSystem));
    record.genElu = Math.max(...results.map((r) => r.elu));
    record.genSaturated = s.kind !== 'idle' && record.genCpu >= SATURATED;
    record.lost = results.reduce((a, r) => a + r.lost, 0);
    if (busyCores !== null && cpu !== null) {
      // What the rest of the machine used meanwhile (other processes, and kernel work such as softirqs
      // that is charged to no process): a run that shared its cores is flagged in the report.
      const ours = cpu + results.reduce((a, r) => a + r.cpu, 0);
      record.otherCpu = Math.max(0, busyCores - ours);
    }
  } catch (err) {
    if (err instanceof ChildFailure && err.unsupported) record.skipped = err.message;
    else record.error = err instanceof Error ? err.message : String(err);
  } finally {
    await server.stop();
    await Promise.all(gens.map((g) => g.stop()));
  }
  return record;
}

// ---- main ----
function selectScenarios(o: Options): Scenario[] {
  let list = SCENARIOS.filter((s) => !s.big || o.big);
  if (o.scenarios.length) {
    const unknown = o.scenarios.filter((n) => !SCENARIOS.some((s) => s.name === n || s.name.startsWith(n)));
    if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    // A prefix selects the scenarios that a plain run has (--big adds the big ones); a full name, any.
    list = SCENARIOS.filter((s) => o.scenarios.some((n) => s.name === n || (s.name.startsWith(n) && (!s.big || o.big))));
  }
  return list;
}

function timestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  // Collaborative editing has a harness of its own (bench/yjs/): other servers, another protocol.
  if (o.scenarios.includes('yjs')) {
    const { runYjsBench } = await import('./yjs/run.js');
    await runYjsBench({ rounds: o.rounds, quick: o.quick, measure: o.measure, warmup: o.warmup, pin: o.pin, out: o.out, save: o.save });
    o.scenarios = o.scenarios.filter((name) => name !== 'yjs');
    if (o.scenarios.length === 0) return;
  }
  const scenarios = selectScenarios(o);
  const machine: MachineInfo = machineInfo();
  const notes: string[] = [];

  let all = peers().filter((p) => !p.optIn || o.servers.includes(p.name));
  if (o.servers.length) {
    const known = peers().map((p) => p.name);
    const unknown = o.servers.filter((n) => !known.includes(n));
    if (unknown.length) throw new Error(`unknown server ${unknown.join(', ')}; known: ${known.join(', ')}`);
    // The baselines always run: every ratio is taken against them.
    const baselines = Object.values(BASELINES).flat();
    all = all.filter((p) => baselines.includes(p.name) || o.servers.includes(p.name));
  }
  const ours = (p: Peer) => p.name === 'wavecast' || p.script.endsWith('relay.js');
  const wavecast = all.some(ours) ? await wavecastProblem() : { skip: null, warning: null };
  if (wavecast.skip) {
    const msg = `Wavecast skipped: ${wavecast.skip}`;
    console.error(msg);
    notes.push(msg);
    all = all.filter((p) => !ours(p));
  }
  const peersOf = (s: Scenario) => all.filter((p) => p.group === s.group);
  if (wavecast.warning) {
    console.error(`warning: ${wavecast.warning}`);
    notes.push(`Warning: ${wavecast.warning}`);
  }
  const pins = pinning(o, o.genProcs ?? 1);
  notes.push(pins ? `Pinned with taskset: servers on CPU ${pins.server}, the load generator on CPU ${pins.gen}.` : 'Not pinned to CPUs.');
  if (!process.env.UWS_PATH) notes.push('uWebSockets.js not included (set UWS_PATH to a built copy to include it).');

  const limit = openFilesLimit();
  const fdSkips = new Map<string, string>();
  for (const s of scenarios) {
    const n = s.gen.connections ?? 0;
    if (limit !== null && n + 256 > limit) {
      fdSkips.set(
        s.name,
        `needs ${n.toLocaleString('en-US')}+ open files in the server process; ` +
          `the limit here is ${limit.toLocaleString('en-US')} (ulimit -n)`,
      );
    }
  }

  const records: RunRecord[] = [];
  const total = scenarios.reduce((a, s) => a + (fdSkips.has(s.name) ? 0 : o.rounds * peersOf(s).length), 0);
  const startedAt = new Date();
  const stamp = timestamp(startedAt);
  const meta = {
    startedAt: startedAt.toISOString(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    options: o,
    machine,
    servers: all.map((p) => ({ name: p.name, note: p.note })),
    notes,
  };
  const save = () => {
    if (!o.save) return;
    mkdirSync(o.out, { recursive: true });
    const summary = summarize(
      scenarios,
      records,
      all.map((p) => p.name),
    );
    const json = { ...meta, finishedAt: new Date().toISOString(), scenarios: summary, runs: records };
    writeFileSync(join(o.out, `${stamp}.json`), JSON.stringify(json, null, 2) + '\n');
    writeFileSync(join(o.out, `${stamp}.md`), renderMarkdown(meta, scenarios, summary, fdSkips));
  };

  console.log(
    `Wavecast bench: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ` +
      `commit ${machine.commit}${machine.dirty ? ' (dirty)' : ''}; ` +
      `${o.rounds} round(s)${o.quick ? ', quick' : ''}; servers: ${all.map((p) => p.name).join(', ')}\n`,
  );
  let k = 0;
  for (const s of scenarios) {
    const fdSkip = fdSkips.get(s.name);
    if (!fdSkip) {
      for (let round = 1; round <= o.rounds; round++) {
        for (const peer of peersOf(s)) {
          // Once a server said it cannot run a scenario, do not ask again.
          const skipped = records.find((r) => r.scenario === s.name && r.server === peer.name && r.skipped);
          k++;
          if (skipped) {
            records.push({ ...skipped, round });
            continue;
          }
          progress(`[${k}/${total}] ${s.name} · ${peer.name} · round ${round}/${o.rounds}`);
          let r = await runOne(s, peer, round, o);
          for (let t = 1; t <= o.retries && !r.error && (r.otherCpu ?? 0) > BUSY; t++) {
            progress(
              `[${k}/${total}] ${s.name} · ${peer.name} · round ${round}/${o.rounds} · retry ${t}: ` +
                `other work used ${r.otherCpu!.toFixed(2)} cores`,
            );
            await sleep(1000);
            const again = await runOne(s, peer, round, o);
            again.retries = t;
            if (!again.error && (again.otherCpu ?? 0) < r.otherCpu!) r = again;
            else r.retries = t;
          }
          records.push(r);
          if (r.error) {
            clearProgress();
            console.error(`${s.name} · ${peer.name} · round ${round}: ${r.error}`);
          }
          await sleep(200); // let the closed sockets drain before the next server starts
        }
      }
    }
    clearProgress();
    const summary = summarize(
      [s],
      records,
      all.map((p) => p.name),
    );
    console.log(renderScenario(s, summary[0]!, fdSkip));
    save();
  }
  clearProgress();
  console.log("## Overview (median, ratio to the row's baseline)\n");
  console.log(
    renderOverview(
      summarize(
        scenarios,
        records,
        all.map((p) => p.name),
      ),
      all.map((p) => p.name),
      fdSkips,
    ),
  );
  if (o.save) console.log(`results: ${join(o.out, `${stamp}.md`)} and .json`);
}

main().catch((err: unknown) => {
  clearProgress();
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
