// The `wavecast serve` process itself: --help, bad flags (exit 2), a port in use (exit 1), and graceful
// shutdown on SIGTERM and SIGINT (what was queued is delivered, clients get 1001, exit 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from '../helpers/net.js';
import { SERVE_FLAGS } from '../../src/cli/serve.js';
import { closed, connect, http, killAll, record, runServeCommand, sample, startRelay } from './relay-process.js';

after(killAll);

test('--help lists every flag with its default and exits 0', async () => {
  const { code, stdout, stderr } = await runServeCommand(['--help']);
  assert.equal(code, 0);
  assert.equal(stderr, '');
  assert.match(stdout, /^Usage: wavecast serve \[options\]/);
  for (const [name, spec] of Object.entries(SERVE_FLAGS)) {
    const line = stdout.split('\n').find((l) => l.includes(`--${name} `) || l.trimEnd().endsWith(`--${name}`) || l.includes(`--${name}  `));
    assert.ok(line, `--${name} is listed`);
    if (spec.default !== undefined) assert.ok(line.includes(`default: ${String(spec.default)}`), `--${name} shows its default: ${line}`);
  }
});

test('bad flags get a clear message on stderr and exit 2, before anything listens', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--nope'], /unknown option --nope/],
    [['--port', 'abc'], /--port needs a number, not "abc"/],
    [['--log-level', 'verbose'], /--log-level must be one of debug, info, warn, error/],
    [['extra'], /unexpected argument "extra"/],
    [['--tls-key', 'k.pem'], /--tls-cert and --tls-key go together/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runServeCommand(args);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, message);
    assert.match(stderr, /Run "wavecast serve --help" for the options/);
  }
  const fromEnv = await runServeCommand([], { PORT: 'eighty' });
  assert.equal(fromEnv.code, 2);
  assert.match(fromEnv.stderr, /\$PORT needs a number, not "eighty"/);
});

test('a port already in use: a clear error and exit 1', async () => {
  const relay = await startRelay();
  try {
    const { code, stdout, stderr } = await runServeCommand(['--port', String(relay.port), '--host', '127.0.0.1']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot start the relay: 127\.0\.0\.1:\d+ is already in use/);
  } finally {
    await relay.stop();
  }
});

test('SIGTERM delivers what was queued for a client that was not reading, closes with 1001, and exits 0', { timeout: 30_000 }, async () => {
  // Enough data that most of it is still queued in the relay when the signal arrives.
  const COUNT = 150;
  const SIZE = 60_000;
  const relay = await startRelay(['--rate-limit', '0', '--max-backpressure', String(64 * 1024 * 1024)]);
  const slow = await connect(`${relay.url}/queue`);
  const publisher = await connect(`${relay.url}/queue`);
  const published = record(publisher);
  slow.pause();
  const got = record(slow);
  for (let i = 0; i < COUNT; i++) publisher.send(`${String(i).padStart(4, '0')}:${'x'.repeat(SIZE)}`);
  // The publisher gets its own messages: once it has the last, all were published to the slow client too.
  await published.next((m) => m.text.startsWith(String(COUNT - 1).padStart(4, '0')), 15_000);
  const queued = sample((await http(relay.http, 'GET', '/metrics')).body, 'wavecast_relay_queued_bytes') ?? 0;
  assert.ok(queued > 0, 'some of it waits in the relay, not only in the kernel');

  const publisherClosed = closed(publisher);
  relay.child.kill('SIGTERM');
  assert.equal((await publisherClosed).code, 1001, 'the shutdown has begun');
  const slowClosed = closed(slow, 15_000);
  slow.resume();
  const { code, reason } = await slowClosed;
  assert.equal(code, 1001);
  assert.equal(reason, 'Server shutting down');
  assert.equal(got.messages.length, COUNT, 'every message published before the signal arrived');
  got.messages.forEach((m, i) => assert.ok(m.text.startsWith(`${String(i).padStart(4, '0')}:`), `message ${i} in order`));
  const exit = await relay.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(relay.stderr(), /info {2}SIGTERM received: shutting down/);
  assert.match(relay.stderr(), /info {2}relay stopped/);
});

test('SIGINT (Ctrl-C) shuts down the same way: 1001 to clients, exit 0', async () => {
  const relay = await startRelay();
  const client = await connect(`${relay.url}/x`);
  const end = closed(client);
  relay.child.kill('SIGINT');
  assert.equal((await end).code, 1001);
  assert.deepEqual(await relay.exited, { code: 0, signal: null });
});

test('log lines go to stderr as JSON with --log-format json; stdout has only the listening line', async () => {
  const relay = await startRelay(['--log-format', 'json', '--log-level', 'debug']);
  let stdout = '';
  relay.child.stdout!.on('data', (chunk: string) => (stdout += chunk));
  const client = await connect(`${relay.url}/logged`);
  const got = record(client);
  client.send('hi');
  await got.next();
  client.close();
  await once(client, 'close');
  assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  const records = relay
    .stderr()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: string; msg: string; channel?: string });
  const messages = records.map((r) => r.msg);
  assert.ok(messages.includes('relay started'));
  assert.ok(records.some((r) => r.msg === 'client joined' && r.channel === 'logged' && r.level === 'debug'));
  assert.ok(messages.includes('relay stopped'));
  assert.equal(stdout, '', 'nothing after the listening line');
});
