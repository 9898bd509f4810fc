// Prints the README's performance tables (Markdown) from a saved result: `npm run bench:readme` takes the
// newest bench/results/*.json, or `npm run bench:readme -- bench/results/<stamp>.json`. Every cell is a
// median with its min–max over the rounds; the ratio column is against the row's baseline (the faster of
// ws and ws+bufferutil; Socket.IO for the relays), with the ratio's own range, and ≈ where the two ranges
// overlap (the spread is wider than the gain). The tables are recomputed from the file's single runs.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, type ServerGroup } from './scenarios.js';
import { formatRatio, summarize, type RunRecord, type ScenarioSummary } from './lib/report.js';
import { formatNumber } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What a result file holds (what bench/run.ts writes). */
export interface ResultFile {
  startedAt: string;
  command: string;
  options: { rounds: number; quick: boolean };
  machine: { cpuModel: string; cores: number; node: string; commit: string; dirty: boolean };
  servers: { name: string; note: string }[];
  runs: RunRecord[];
}

const NAMES: Record<string, string> = {
  wavecast: 'Wavecast',
  ws: '`ws`',
  'ws+bufferutil': '`ws` + bufferutil',
  raw: 'raw `node:net`',
  uws: 'uWebSockets.js',
  'serve-v1': '`wavecast serve`, `wavecast.v1` clients',
  'serve-plain': '`wavecast serve`, plain clients',
  'socket.io': 'Socket.IO 4',
  'wavecast-base': 'Wavecast (base build)',
  'serve-v1-base': '`wavecast serve` (base build), `wavecast.v1` clients',
};

/** The servers whose ratio gets a column of its own, per group. */
const COMPARED: Record<ServerGroup, string[]> = {
  library: ['wavecast', 'wavecast-base'],
  relay: ['serve-v1', 'serve-plain', 'serve-v1-base'],
};

function table(group: ServerGroup, summary: ScenarioSummary[], order: string[]): string {
  const rows = summary.filter((sc) => sc.group === group);
  const columns = order.filter((name) => rows.some((sc) => sc.servers.some((x) => x.server === name && x.ok > 0)));
  if (rows.length === 0 || columns.length === 0) return '';
  const compared = COMPARED[group].filter((name) => columns.includes(name));
  const against = group === 'library' ? 'the faster `ws`' : 'Socket.IO';
  const lines = [
    `| scenario | ${columns.map((c) => NAMES[c] ?? c).join(' | ')} | ${compared.map((c) => `${NAMES[c] ?? c} vs ${against}`).join(' | ')} |`,
    `| --- |${columns.map(() => ' ---: |').join('')}${compared.map(() => ' ---: |').join('')}`,
  ];
  for (const sc of rows) {
    for (const m of sc.metrics) {
      const cell = (name: string) => {
        const x = sc.servers.find((y) => y.server === name);
        if (!x || x.ok === 0) return x?.skipped ? 'skipped' : '—';
        const v = x.metrics[m.key]!;
        if (!Number.isFinite(v.median)) return '—';
        const flag = (x.genSaturatedRuns ? ' ⚠' : '') + (x.busyRuns ? ' †' : '');
        const base = sc.baseline[m.key] === name ? ' (base)' : '';
        const range = v.min === v.max ? '' : ` (${formatNumber(v.min, m.digits)}–${formatNumber(v.max, m.digits)})`;
        return `${formatNumber(v.median, m.digits)}${range}${flag}${base}`;
      };
      const ratio = (name: string) => {
        const x = sc.servers.find((y) => y.server === name);
        return x && x.ok > 0 ? formatRatio(x.metrics[m.key]!) : '—';
      };
      const label = `${sc.label}: ${m.short} ${m.better === 'higher' ? '↑' : '↓'}`;
      lines.push(`| ${label} | ${columns.map(cell).join(' | ')} | ${compared.map(ratio).join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The Markdown for the README: where the figures come from, then one table per group of servers. */
export function readmeTables(result: ResultFile, file: string): string {
  const present = new Set(result.runs.map((r) => r.scenario));
  const scenarios = SCENARIOS.filter((s) => present.has(s.name));
  const order = result.servers.map((s) => s.name);
  const summary = summarize(scenarios, result.runs, order);
  const m = result.machine;
  const report = file.replace(/\.json$/, '.md');
  const head =
    `From [${report}](${report}) (\`${result.command.replace(/ --$/, '')}\`, ${result.options.rounds} interleaved round(s)` +
    `${result.options.quick ? ', quick' : ''}, ${result.startedAt.slice(0, 10)}, commit ${m.commit}` +
    `${m.dirty ? ' with uncommitted changes' : ''}, ${m.cpuModel}, ${m.cores} cores, Node ${m.node}). ` +
    "Each cell: median (min–max over the rounds); the ratio is median / the baseline's median (base), " +
    'with its range over the rounds; ≈: the ranges overlap, the spread is wider than the gain; ⚠: the load ' +
    'generator saturated its core.';
  const parts = [head + '\n', table('library', summary, order), table('relay', summary, order)].filter((p) => p !== '');
  return parts.join('\n');
}

function newestResult(): string {
  const dir = join(ROOT, 'bench', 'results');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no result file in ${dir}: run npm run bench first`);
  return join(dir, files[files.length - 1]!);
}

function main(): void {
  const arg = process.argv[2];
  const path = resolve(arg ?? newestResult());
  const result = JSON.parse(readFileSync(path, 'utf8')) as ResultFile;
  if (!Array.isArray(result.runs)) throw new Error(`${basename(path)} is not a result file of npm run bench (no runs)`);
  process.stdout.write(readmeTables(result, relative(ROOT, path)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
