// Turning runs into medians, ratios and tables (printed, and saved as Markdown and JSON).
import { BASELINES, type Metric, type Scenario } from '../scenarios.js';
import type { MachineInfo } from './machine.js';
import { formatNumber, max, median, min } from './stats.js';

/** Cores' worth of CPU that other work may use during a run before it is retried, then flagged. */
export const BUSY = 0.25;

export interface RunRecord {
  scenario: string;
  server: string;
  round: number;
  values: Record<string, number>;
  serverCpu: number | null;
  genCpu: number;
  genCpuSystem: number;
  genElu: number;
  genSaturated: boolean;
  lost: number;
  /** Cores' worth of CPU the rest of the machine used during the measured window. */
  otherCpu?: number;
  /** How many times the run was repeated because the machine was busy (the least busy one is kept). */
  retries?: number;
  verified: string;
  info: Record<string, unknown>;
  skipped?: string;
  error?: string;
}

export interface MetricSummary {
  median: number;
  min: number;
  max: number;
  /** median / the baseline's median (the best baseline server of this row), null without one. */
  ratio: number | null;
  /**
   * The ratio's range over the rounds: this server's min / the baseline's max and its max / the baseline's
   * min. When it holds 1.00x on the other side of the median ratio, the spread is wider than the gain.
   */
  ratioMin: number | null;
  ratioMax: number | null;
  /** The gain (or loss) is within the spread of the rounds: the two min–max ranges overlap. */
  uncertain: boolean;
  values: number[];
  /** Median server CPU time per operation, in the metric's cost unit (µs per msg, MB, ...). */
  cost: number;
}

export interface ServerSummary {
  server: string;
  runs: number;
  ok: number;
  skipped: string | null;
  errors: string[];
  metrics: Record<string, MetricSummary>;
  serverCpu: number;
  genCpu: number;
  genSaturatedRuns: number;
  /** Runs kept although other work used more than BUSY cores meanwhile, and the most it used. */
  busyRuns: number;
  maxOtherCpu: number;
  lost: number;
  info: Record<string, unknown>;
}

export interface ScenarioSummary {
  name: string;
  title: string;
  label: string;
  description: string;
  metrics: Metric[];
  group: Scenario['group'];
  /** For each metric: the baseline server the ratios are taken against (the best baseline of that row). */
  baseline: Record<string, string | null>;
  servers: ServerSummary[];
  /** What the load generator checked before measuring (from the first successful run). */
  verified: string;
}

export function summarize(scenarios: Scenario[], records: RunRecord[], servers: string[]): ScenarioSummary[] {
  return scenarios.map((s) => {
    const mine = records.filter((r) => r.scenario === s.name);
    const perServer: ServerSummary[] = servers
      .filter((server) => mine.some((r) => r.server === server))
      .map((server) => {
        const runs = mine.filter((r) => r.server === server);
        const ok = runs.filter((r) => !r.error && !r.skipped);
        const metrics: Record<string, MetricSummary> = {};
        for (const m of s.metrics) {
          const values = ok.map((r) => r.values[m.key] ?? NaN);
          const costs = m.cost ? ok.map((r) => ((r.serverCpu ?? NaN) * 1e6) / (r.values[m.key] ?? NaN)) : [];
          metrics[m.key] = {
            median: median(values),
            min: min(values),
            max: max(values),
            ratio: null,
            ratioMin: null,
            ratioMax: null,
            uncertain: false,
            values,
            cost: median(costs),
          };
        }
        return {
          server,
          runs: runs.length,
          ok: ok.length,
          skipped: runs.find((r) => r.skipped)?.skipped ?? null,
          errors: [...new Set(runs.filter((r) => r.error).map((r) => r.error!))],
          metrics,
          serverCpu: median(ok.map((r) => r.serverCpu ?? NaN)),
          genCpu: max(ok.map((r) => r.genCpu)),
          genSaturatedRuns: ok.filter((r) => r.genSaturated).length,
          busyRuns: ok.filter((r) => (r.otherCpu ?? 0) > BUSY).length,
          maxOtherCpu: max(ok.map((r) => r.otherCpu ?? NaN)),
          lost: ok.reduce((a, r) => a + r.lost, 0),
          info: ok[0]?.info ?? runs[0]?.info ?? {},
        };
      });
    const baseline: Record<string, string | null> = {};
    for (const m of s.metrics) {
      const base = bestOf(
        perServer.filter((x) => BASELINES[s.group].includes(x.server)),
        m,
      );
      baseline[m.key] = base?.server ?? null;
      for (const x of perServer) compare(x.metrics[m.key]!, base?.metrics[m.key], x === base);
    }
    const verified = mine.find((r) => !r.error && !r.skipped && r.verified)?.verified ?? '';
    const { name, title, label, description, metrics, group } = s;
    return { name, title, label, description, metrics, group, baseline, servers: perServer, verified };
  });
}

/** The baseline server with the best median for this metric (the faster `ws`, the smaller memory). */
function bestOf(candidates: ServerSummary[], m: Metric): ServerSummary | undefined {
  const valid = candidates.filter((x) => Number.isFinite(x.metrics[m.key]?.median));
  const sign = m.better === 'higher' ? 1 : -1;
  return valid.sort((a, b) => sign * (b.metrics[m.key]!.median - a.metrics[m.key]!.median))[0];
}

/** Fills in a server's ratio to the baseline, the ratio's range over the rounds, and whether it is uncertain. */
function compare(v: MetricSummary, b: MetricSummary | undefined, isBase: boolean): void {
  if (!b || !Number.isFinite(b.median) || !Number.isFinite(v.median) || b.median === 0) return;
  v.ratio = v.median / b.median;
  if (isBase) return;
  v.ratioMin = b.max > 0 ? v.min / b.max : null;
  v.ratioMax = b.min > 0 ? v.max / b.min : null;
  // The ranges overlap: some round of this server and some round of the baseline could be swapped.
  v.uncertain = v.min <= b.max && b.min <= v.max;
}

/** `1.37x`, with the range of the ratio over the rounds and ≈ where the ranges overlap. */
export function formatRatio(v: MetricSummary, withRange = true): string {
  if (v.ratio === null) return '—';
  const range = withRange && v.ratioMin !== null && v.ratioMax !== null ? ` (${v.ratioMin.toFixed(2)}–${v.ratioMax.toFixed(2)})` : '';
  return `${v.ratio.toFixed(2)}x${range}${v.uncertain ? ' ≈' : ''}`;
}

/** Relative spread of the rounds: (max − min) / median. */
export function spread(v: MetricSummary): number {
  return (v.max - v.min) / v.median;
}

const firstLine = (s: string) => s.split('\n')[0] ?? '';
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—');

function serverLabel(x: ServerSummary): string {
  const fanout = x.info.fanout;
  return typeof fanout === 'string' ? `${x.server} (${fanout})` : x.server;
}

export function renderScenario(s: Scenario, sum: ScenarioSummary, skippedWhy?: string): string {
  const lines: string[] = [`### ${s.name}: ${s.title}`, '', s.description + '.', ''];
  if (skippedWhy) {
    lines.push(`Skipped: ${skippedWhy}.`, '');
    return lines.join('\n');
  }
  const idle = s.kind === 'idle' || s.seconds.measure === 0;
  for (const m of s.metrics) {
    const base = sum.baseline[m.key];
    const vs = base ? `vs ${base}` : 'vs baseline';
    lines.push(
      `**${m.label}** (${m.unit}, ${m.better} is better; ${vs} = median / ${base ?? 'the baseline'}'s median, ` +
        `the best of ${BASELINES[s.group].join(' and ')} in this row; in brackets the ratio's range over the rounds)`,
      '',
    );
    const cost = m.cost ? ` server CPU ${m.cost} |` : '';
    lines.push(
      idle
        ? `| server | median | min–max | spread | ${vs} |`
        : `| server | median | min–max | spread | ${vs} | server CPU |${cost} generator CPU |`,
      idle ? '| --- | ---: | ---: | ---: | ---: |' : `| --- | ---: | ---: | ---: | ---: | ---: |${m.cost ? ' ---: |' : ''} ---: |`,
    );
    for (const x of sum.servers) {
      const v = x.metrics[m.key]!;
      if (x.ok === 0) {
        const why = x.skipped ? `skipped: ${x.skipped}` : x.errors.length ? `failed: ${firstLine(x.errors[0]!)}` : 'no runs';
        lines.push(`| ${x.server} | ${why} |${' |'.repeat(idle ? 3 : m.cost ? 6 : 5)}`);
        continue;
      }
      const range = `${formatNumber(v.min, m.digits)}–${formatNumber(v.max, m.digits)}`;
      const gen = `${pct(x.genCpu)}${x.genSaturatedRuns ? ` ⚠ saturated in ${x.genSaturatedRuns}/${x.ok}` : ''}`;
      const busy = x.busyRuns ? ' †' : '';
      const row = [serverLabel(x) + busy, formatNumber(v.median, m.digits), range, pct(spread(v)), formatRatio(v)];
      const costDigits = v.cost < 10 ? 2 : v.cost < 100 ? 1 : 0;
      if (!idle) row.push(pct(x.serverCpu), ...(m.cost ? [formatNumber(v.cost, costDigits)] : []), gen);
      lines.push(`| ${row.join(' | ')} |`);
    }
    lines.push('');
  }
  const remarks: string[] = [];
  for (const x of sum.servers) {
    if (x.ok > 0 && x.ok < x.runs) {
      remarks.push(`${x.server}: ${x.runs - x.ok} of ${x.runs} runs failed: ${firstLine(x.errors[0] ?? '')}`);
    }
    if (x.busyRuns > 0) {
      remarks.push(
        `† ${x.server}: in ${x.busyRuns} of ${x.ok} runs other work on the machine used up to ` +
          `${x.maxOtherCpu.toFixed(2)} cores meanwhile (after retries): treat those numbers with care`,
      );
    }
    if (x.lost > 0) {
      remarks.push(`${x.server}: the server closed or reset ${x.lost} connection(s) during measured runs`);
    }
  }
  if (sum.servers.some((x) => x.genSaturatedRuns > 0)) {
    remarks.push(
      "⚠ the load generator used ≥ 90% of a core in some runs: those numbers may be the generator's limit, " +
        "not the server's (server CPU µs/op still compares the servers)",
    );
  }
  if (sum.servers.some((x) => Object.values(x.metrics).some((v) => v.uncertain))) {
    remarks.push(
      '≈ the min–max ranges of this server and of the baseline overlap: the spread over the rounds is wider ' +
        'than the gain (or loss), which is then not established by this run',
    );
  }
  if (sum.verified) remarks.unshift(`checked before measuring: ${sum.verified}`);
  for (const r of remarks) lines.push(`- ${r}`);
  if (remarks.length) lines.push('');
  return lines.join('\n');
}

/**
 * One line per scenario and metric, one column per server: median (ratio to the row's baseline); one table
 * per group of servers (the libraries, the relays).
 */
export function renderOverview(summary: ScenarioSummary[], servers: string[], skipped: Map<string, string> = new Map()): string {
  const tables: string[] = [];
  for (const group of Object.keys(BASELINES) as (keyof typeof BASELINES)[]) {
    const rows = summary.filter((sc) => sc.group === group);
    const columns = servers.filter((name) => rows.some((sc) => sc.servers.some((x) => x.server === name)));
    const fdSkipped = rows.filter((sc) => skipped.has(sc.name));
    if (columns.length === 0 && fdSkipped.length === 0) continue;
    const lines = [`| scenario | metric | ${columns.join(' | ')} |`, `| --- | --- |${columns.map(() => ' ---: |').join('')}`];
    for (const sc of rows) {
      for (const m of sc.metrics) {
        const cells = columns.map((name) => {
          const x = sc.servers.find((y) => y.server === name);
          if (skipped.has(sc.name)) return 'skipped';
          if (!x || x.ok === 0) return x?.skipped ? 'skipped' : x?.errors.length ? 'failed' : '—';
          const v = x.metrics[m.key]!;
          const flag = (x.genSaturatedRuns ? ' ⚠' : '') + (x.busyRuns ? ' †' : '');
          return `${formatNumber(v.median, m.digits)}${v.ratio === null ? '' : ` (${formatRatio(v, false)})`}${flag}`;
        });
        lines.push(`| ${sc.name} | ${m.short} ${m.better === 'higher' ? '↑' : '↓'} | ${cells.join(' | ')} |`);
      }
    }
    tables.push(lines.join('\n') + '\n');
  }
  return tables.join('\n');
}

export interface ReportMeta {
  startedAt: string;
  command: string;
  machine: MachineInfo;
  servers: { name: string; note: string }[];
  notes: string[];
  options: { rounds: number; quick: boolean };
}

export function renderMarkdown(meta: ReportMeta, scenarios: Scenario[], summary: ScenarioSummary[], fdSkips: Map<string, string>): string {
  const m = meta.machine;
  const lines = [
    `# Wavecast benchmark, ${meta.startedAt}`,
    '',
    `- machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}`,
    `- Node ${m.node}; commit ${m.commit}${m.dirty ? ' (with uncommitted changes)' : ''}; ` +
      Object.entries(m.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    `- command: \`${meta.command}\`; ${meta.options.rounds} interleaved round(s)` + (meta.options.quick ? ', quick (short runs)' : ''),
    `- servers: ${meta.servers.map((s) => `${s.name} (${s.note})`).join('; ')}`,
    ...meta.notes.map((n) => `- ${n}`),
    '',
    '## Overview',
    '',
    "Median of the rounds, and in brackets the ratio to the baseline's median in the same run: for the " +
      'libraries the faster of ws and ws+bufferutil in that row (= 1.00x), for the relays Socket.IO. ≈ marks a ' +
      "ratio whose min–max ranges overlap the baseline's (the spread is wider than the gain), ⚠ a server whose " +
      'load generator saturated a core in at least one round, † one whose runs shared the machine with other ' +
      "work (see the scenario's notes).",
    '',
    renderOverview(
      summary,
      meta.servers.map((s) => s.name),
      fdSkips,
    ),
    '## Scenarios',
    '',
  ];
  scenarios.forEach((s, i) => lines.push(renderScenario(s, summary[i]!, fdSkips.get(s.name))));
  return lines.join('\n');
}
