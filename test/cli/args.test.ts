import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, helpText, parseArgs, type FlagSpec } from '../../src/cli/args.js';

const specs: Record<string, FlagSpec> = {
  port: { type: 'number', default: 3000, env: 'PORT', value: 'PORT', description: 'port to listen on' },
  host: { type: 'string', default: 'localhost', description: 'interface to bind' },
  header: { type: 'list', short: 'H', value: 'NAME:VALUE', description: 'extra header' },
  insecure: { type: 'boolean', short: 'k', description: 'accept any certificate' },
  'log-level': { type: 'string', default: 'info', description: 'log level' },
};

test('defaults, environment, and values in both forms', () => {
  assert.deepEqual(parseArgs([], specs, {}).flags, { port: 3000, host: 'localhost', header: [], logLevel: 'info' });
  assert.equal(parseArgs([], specs, { PORT: '8080' }).flags.port, 8080);
  const parsed = parseArgs(['--port=0', '--host', '0.0.0.0', '-H', 'a: b', '-Hc: d', '-k', 'ws://x', '--log-level', 'debug'], specs, { PORT: '1' });
  assert.deepEqual(parsed.flags, { port: 0, host: '0.0.0.0', header: ['a: b', 'c: d'], insecure: true, logLevel: 'debug' });
  assert.deepEqual(parsed.positionals, ['ws://x']);
  assert.equal(parseArgs(['--no-insecure'], specs, {}).flags.insecure, false);
});

test('bad flags are usage errors with a clear message', () => {
  assert.throws(() => parseArgs(['--nope'], specs, {}), (e: unknown) => e instanceof UsageError && /unknown option --nope/.test(e.message) && e.exitCode === 2);
  assert.throws(() => parseArgs(['--port', 'abc'], specs, {}), /needs a number/);
  assert.throws(() => parseArgs(['--port'], specs, {}), /needs a value/);
  assert.throws(() => parseArgs(['-z'], specs, {}), /unknown option -z/);
  assert.throws(() => parseArgs([], specs, { PORT: 'x' }), /\$PORT needs a number/);
});

test('help lists every flag with its default', () => {
  const text = helpText('wavecast serve [options]', 'Starts the relay.', specs);
  for (const name of Object.keys(specs)) assert.match(text, new RegExp(`--${name}`));
  assert.match(text, /default: 3000; env: PORT/);
  assert.match(text, /-H, --header NAME:VALUE/);
});
