// The `wavecast` entry point as a shell user meets it: the overview, --version, commands it does not
// know, flags it does not know, and `wavecast bench` handing over to npm.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ROOT, STACK_LINE, killLeftovers, wavecastResult, within } from './helpers.js';

after(killLeftovers);

const run = (args: string[], env?: Record<string, string>) =>
  within(wavecastResult(args, env ? { env } : {}), `wavecast ${args.join(' ')} to exit`);

test('--help and -h print an overview of the commands and exit 0; no command prints it to stderr and exits 2', async () => {
  for (const flag of ['--help', '-h']) {
    const result = await run([flag]);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^Usage: wavecast <command> \[options\]/);
    for (const command of ['serve', 'connect', 'bench']) assert.match(result.stdout, new RegExp(`\\n  ${command} +\\S`));
  }
  const bare = await run([]);
  assert.equal(bare.status, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /Commands:/);
});

test('--version prints the version from package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const result = await run(['--version']);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, `wavecast ${version}\n`);
});

test('an unknown command or option exits 2 with a clear message and no stack trace', async () => {
  const unknown = await run(['frobnicate', '--now']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^wavecast: unknown command "frobnicate" \(commands: serve, connect, bench\)/);
  assert.doesNotMatch(unknown.stderr, STACK_LINE);

  const flag = await run(['--frobnicate']);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /unknown option --frobnicate/);

  const wscat = await run(['-c', 'ws://127.0.0.1:1/']);
  assert.equal(wscat.status, 2);
  assert.match(
    wscat.stderr,
    /^wavecast: unknown option -c: it is an option of the connect command, as in wavecast connect -c ws:\/\/127\.0\.0\.1:1\//,
  );

  const badFlag = await run(['connect', '--colour', 'ws://127.0.0.1:1/']);
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /^wavecast connect: unknown option --colour \(did you mean --no-color\?\)/);
  assert.doesNotMatch(badFlag.stderr, STACK_LINE);
});

test('connect --help (and help connect) lists every flag and the exit statuses', async () => {
  for (const args of [
    ['connect', '--help'],
    ['help', 'connect'],
  ]) {
    const result = await run(args);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Usage: wavecast connect \[options\] \(<url> \| -c <url> \| -l \[host:\]<port>\)/);
    for (const flag of [
      '-c, --connect URL',
      '-l, --listen [HOST:]PORT',
      '-s, --subprotocol',
      '-p, --protocol VERSION',
      '-H, --header',
      '--auth USER:PASSWORD',
      '-o, --origin',
      '-x, --execute',
      '-w, --wait',
      '--slash',
      '-P, --show-ping-pong',
      '-L, --location',
      '-n, --no-check',
      '--ca FILE',
      '--cert FILE',
      '--key FILE',
      '--passphrase [PASSPHRASE]',
      '--ping-interval',
      '-k, --insecure',
      '--no-color',
      '-v, --verbose',
    ]) {
      assert.ok(result.stdout.includes(flag), `${flag} in the help`);
    }
    assert.match(result.stdout, /Exit status:/);
  }
});

test('bench --help answers at once and a mistyped bench flag is refused, both without running npm (no build)', async () => {
  // A stand-in npm on PATH that leaves a file if it is called at all.
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-bench-'));
  try {
    const called = join(dir, 'called');
    writeFileSync(join(dir, 'npm'), `#!/bin/sh\ntouch '${called}'\nexit 7\n`);
    chmodSync(join(dir, 'npm'), 0o755);
    const env = { PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` };
    const help = await run(['bench', '--help'], env);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: wavecast bench \[options\]/);
    for (const flag of ['--rounds N', '--scenario a,b', '--server a,b', '--quick', '--no-save'])
      assert.ok(help.stdout.includes(flag), `${flag} in the help`);
    const typo = await run(['bench', '--scenarios', 'echo'], env);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^wavecast bench: unknown option --scenarios \(did you mean --scenario\?\)/);
    assert.equal(existsSync(called), false, 'npm was not run');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench runs `npm run bench -- <args>` in the package root and passes on its exit status', async () => {
  // A stand-in npm on PATH records how it was called: no benchmark runs.
  const dir = mkdtempSync(join(tmpdir(), 'wavecast-bench-'));
  try {
    const log = join(dir, 'npm.log');
    const npm = join(dir, 'npm');
    writeFileSync(npm, `#!/bin/sh\nprintf '%s\\n' "$PWD" "$@" > '${log}'\nexit 7\n`);
    chmodSync(npm, 0o755);
    const result = await run(['bench', '--quick', '--rounds', '1'], { PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` });
    assert.equal(result.status, 7, result.stderr);
    const [cwd, ...args] = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(cwd!.replace(/\/$/, ''), ROOT.replace(/\/$/, ''));
    assert.deepEqual(args, ['run', 'bench', '--', '--quick', '--rounds', '1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
