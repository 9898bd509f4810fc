// Summarizes a V8 CPU profile (a .cpuprofile written by `--cpu-prof`, e.g. with
// BENCH_SERVER_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=prof' npm run bench -- ...): the share of the
// sampled time spent in each function (self time), and in each file, biggest first. Proportions are
// what to read: they stay meaningful on a busy machine, where absolute times do not.
// Usage: node build/bench/profile.js FILE.cpuprofile [--top N] [--inclusive name,name]
// (--inclusive: the share of samples under each named function, callees included).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per file, as shares of all samples. */
export function summarizeProfile(profile: Profile): { functions: [string, number][]; files: [string, number][]; samples: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, count] of hits) {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url ? shortFile(frame.url) : '(native)';
    const fn = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + count / total);
    files.set(file, (files.get(file) ?? 0) + count / total);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { functions: sorted(functions), files: sorted(files), samples: total };
}

/** The share of samples whose stack holds a function of this name (inclusive time), per name. */
export function inclusiveShares(profile: Profile, names: string[]): Map<string, number> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const shares = new Map(names.map((n) => [n, 0]));
  const total = profile.samples.length;
  for (const id of profile.samples) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)!.callFrame.functionName;
      if (shares.has(name) && !seen.has(name)) {
        seen.add(name);
        shares.set(name, shares.get(name)! + 1 / total);
      }
    }
  }
  return shares;
}

function shortFile(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const at = path.search(/\/(dist|node_modules|build)\//);
  return at >= 0 ? path.slice(at + 1) : path.startsWith('node:') ? path : basename(path);
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { top: { type: 'string' }, inclusive: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1)
    throw new Error('usage: node build/bench/profile.js FILE.cpuprofile [--top N] [--inclusive NAME,...]');
  const top = Number(values.top ?? 25);
  if (!Number.isSafeInteger(top) || top < 1) throw new Error(`--top takes a whole number, not ${values.top}`);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const { functions, files, samples } = summarizeProfile(profile);
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  console.log(`${basename(file)}: ${samples} samples\n\nself time by file:`);
  for (const [name, share] of files.slice(0, top)) console.log(`${pct(share)}  ${name}`);
  console.log('\nself time by function:');
  for (const [name, share] of functions.slice(0, top)) console.log(`${pct(share)}  ${name}`);
  const inclusive = values.inclusive;
  if (inclusive) {
    console.log('\ninclusive time (callees included):');
    for (const [name, share] of inclusiveShares(profile, inclusive.split(','))) console.log(`${pct(share)}  ${name}`);
  }
}

if (process.argv[1]?.endsWith('profile.js')) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
