// The benchmark report: ratios against the row's best baseline (the faster `ws`, Socket.IO for the
// relays), the ratio's range over the rounds, the ≈ flag where the spread is wider than the gain, and the
// README tables printed from a result file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS } from '../../bench/scenarios.js';
import { summarize, renderScenario, type RunRecord } from '../../bench/lib/report.js';
import { readmeTables, type ResultFile } from '../../bench/readme.js';

const scenario = (name: string) => {
  const s = SCENARIOS.find((x) => x.name === name);
  assert.ok(s, `scenario ${name}`);
  return s;
};

function runs(scenarioName: string, server: string, key: string, values: number[]): RunRecord[] {
  return values.map((value, i) => ({
    scenario: scenarioName,
    server,
    round: i + 1,
    values: { [key]: value },
    serverCpu: 1,
    genCpu: 0.5,
    genCpuSystem: 0.2,
    genElu: 0.5,
    genSaturated: false,
    lost: 0,
    verified: 'checked',
    info: {},
  }));
}

test('the ratio is taken against the faster ws of the row, with its range over the rounds', () => {
  const records = [
    ...runs('echo-16k', 'wavecast', 'mbps', [950, 960, 970]),
    ...runs('echo-16k', 'ws', 'mbps', [300, 310, 320]),
    ...runs('echo-16k', 'ws+bufferutil', 'mbps', [600, 700, 900]),
  ];
  const [sum] = summarize([scenario('echo-16k')], records, ['wavecast', 'ws', 'ws+bufferutil']);
  assert.equal(sum!.baseline.mbps, 'ws+bufferutil');
  const wavecast = sum!.servers.find((x) => x.server === 'wavecast')!.metrics.mbps!;
  assert.equal(wavecast.ratio, 960 / 700);
  assert.equal(wavecast.ratioMin, 950 / 900);
  assert.equal(wavecast.ratioMax, 970 / 600);
  assert.equal(wavecast.uncertain, false, 'the ranges 950-970 and 600-900 do not overlap');
  const ws = sum!.servers.find((x) => x.server === 'ws')!.metrics.mbps!;
  assert.equal(ws.ratio, 310 / 700);
});

test('a gain smaller than the spread of the rounds is flagged ≈, in the report and the README table', () => {
  const records = [
    ...runs('echo-16k', 'wavecast', 'mbps', [866, 928, 931]),
    ...runs('echo-16k', 'ws', 'mbps', [198, 307, 335]),
    ...runs('echo-16k', 'ws+bufferutil', 'mbps', [219, 680, 928]),
  ];
  const [sum] = summarize([scenario('echo-16k')], records, ['wavecast', 'ws', 'ws+bufferutil']);
  const wavecast = sum!.servers.find((x) => x.server === 'wavecast')!.metrics.mbps!;
  assert.equal(wavecast.uncertain, true);
  const report = renderScenario(scenario('echo-16k'), sum!);
  assert.match(report, /\| wavecast \| 928\.0 \| 866\.0–931\.0 \| 7% \| 1\.36x \(0\.93–4\.25\) ≈ \|/);
  assert.match(report, /spread over the rounds is wider/);

  const result: ResultFile = {
    startedAt: '2026-12-06T00:00:00.000Z',
    command: 'npm run bench',
    options: { rounds: 3, quick: false },
    machine: { cpuModel: 'test CPU', cores: 2, node: 'v20', commit: 'abc123', dirty: false },
    servers: [
      { name: 'wavecast', note: '' },
      { name: 'ws', note: '' },
      { name: 'ws+bufferutil', note: '' },
    ],
    runs: records,
  };
  const markdown = readmeTables(result, 'bench/results/2026-12-06T00-00-00Z.json');
  assert.match(markdown, /^From \[bench\/results\/2026-12-06T00-00-00Z\.md\]\(bench\/results\/2026-12-06T00-00-00Z\.md\)/);
  assert.match(
    markdown,
    /\| echo of 16 KiB binary, 10 connections: MB\/s ↑ \| 928\.0 \(866\.0–931\.0\) \| 307\.0 \(198\.0–335\.0\) \| 680\.0 \(219\.0–928\.0\) \(base\) \| 1\.36x \(0\.93–4\.25\) ≈ \|/,
  );
});

test('for memory the smaller ws is the baseline; for the relays, Socket.IO', () => {
  const memory = [
    ...runs('memory-10k', 'wavecast', 'heap', [1340, 1341, 1343]),
    ...runs('memory-10k', 'ws', 'heap', [2700, 2708, 2709]),
    ...runs('memory-10k', 'ws+bufferutil', 'heap', [2663, 2701, 2704]),
  ];
  const [mem] = summarize([scenario('memory-10k')], memory, ['wavecast', 'ws', 'ws+bufferutil']);
  assert.equal(mem!.baseline.heap, 'ws+bufferutil');
  assert.equal(mem!.servers.find((x) => x.server === 'wavecast')!.metrics.heap!.ratio, 1341 / 2701);

  const relay = [
    ...runs('relay-max', 'serve-v1', 'delivered', [300_000, 310_000, 320_000]),
    ...runs('relay-max', 'socket.io', 'delivered', [88_000, 90_000, 91_000]),
  ];
  const [sum] = summarize([scenario('relay-max')], relay, ['wavecast', 'ws', 'serve-v1', 'socket.io']);
  assert.deepEqual(
    sum!.servers.map((x) => x.server),
    ['serve-v1', 'socket.io'],
    'only the servers that ran it',
  );
  assert.equal(sum!.baseline.delivered, 'socket.io');
  assert.equal(sum!.servers[0]!.metrics.delivered!.ratio, 310_000 / 90_000);
});
