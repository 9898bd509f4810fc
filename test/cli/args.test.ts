// The commands' flags (cli/args.ts): defaults, environment variables, both value forms, clear errors and the closest
// known flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, closestFlag, helpText, parseArgs, type FlagSpec } from '../../src/cli/args.js';

const specs: Record<string, FlagSpec> = {
  port: { type: 'number', default: 3000, env: 'PORT', value: 'PORT', description: 'port to listen on' },
  host: { type: 'string', default: 'localhost', description: 'interface to bind' },
  header: { type: 'list', short: 'H', value: 'NAME:VALUE', description: 'extra header' },
  insecure: { type: 'boolean', short: 'k', description: 'accept any certificate' },
  'log-level': { type: 'string', default: 'info', description: 'log level' },
  wait: { type: 'number', short: 'w', description: 'seconds' },
  passphrase: { type: 'string', optionalValue: true, description: 'asked for when given without a value' },
  'no-color': { type: 'boolean', description: 'no colours' },
};

test('defaults, environment, and values in both forms', () => {
  assert.deepEqual(parseArgs([], specs, {}).flags, { port: 3000, host: 'localhost', header: [], logLevel: 'info' });
  assert.equal(parseArgs([], specs, { PORT: '8080' }).flags.port, 8080);
  const parsed = parseArgs(['--port=0', '--host', '0.0.0.0', '-H', 'a: b', '-Hc: d', '-k', 'ws://x', '--log-level', 'debug'], specs, {
    PORT: '1',
  });
  assert.deepEqual(parsed.flags, { port: 0, host: '0.0.0.0', header: ['a: b', 'c: d'], insecure: true, logLevel: 'debug' });
  assert.deepEqual(parsed.positionals, ['ws://x']);
  assert.equal(parseArgs(['--no-insecure'], specs, {}).flags.insecure, false);
});

test('bad flags are usage errors with a clear message', () => {
  assert.throws(
    () => parseArgs(['--nope'], specs, {}),
    (e: unknown) => e instanceof UsageError && /unknown option --nope/.test(e.message) && e.exitCode === 2,
  );
  assert.throws(() => parseArgs(['--port', 'abc'], specs, {}), /needs a number/);
  assert.throws(() => parseArgs(['--port'], specs, {}), /needs a value/);
  assert.throws(() => parseArgs(['-z'], specs, {}), /unknown option -z/);
  assert.throws(() => parseArgs([], specs, { PORT: 'x' }), /\$PORT needs a number/);
  assert.throws(() => parseArgs(['--host', '--port', '1'], specs, {}), /--host needs a value before --port/);
  assert.throws(() => parseArgs(['--insecure=yes'], specs, {}), /takes no value/);
});

test('an unknown flag names the closest known one', () => {
  const message = (argv: string[]) => {
    try {
      parseArgs(argv, specs, {});
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };
  assert.equal(message(['--headr', 'a: b']), 'unknown option --headr (did you mean --header?)');
  assert.equal(message(['--log-levle=debug']), 'unknown option --log-levle (did you mean --log-level?)');
  assert.equal(message(['--colour']), 'unknown option --colour (did you mean --no-color?)');
  assert.equal(message(['--pass']), 'unknown option --pass (did you mean --passphrase?)');
  assert.equal(message(['-h']), 'unknown option -h (did you mean -H, --header?)');
  assert.equal(message(['--frobnicate']), 'unknown option --frobnicate');
  assert.equal(closestFlag('-q', specs), undefined);
});

test('values that start with a dash, and flags whose value may be left out', () => {
  assert.equal(parseArgs(['-w', '-1'], specs, {}).flags.wait, -1);
  assert.equal(parseArgs(['--wait=-1'], specs, {}).flags.wait, -1);
  assert.equal(parseArgs(['--passphrase'], specs, {}).flags.passphrase, true);
  const before = parseArgs(['--passphrase', '-k', 'url'], specs, {});
  assert.equal(before.flags.passphrase, true);
  assert.equal(before.flags.insecure, true);
  assert.deepEqual(before.positionals, ['url']);
  assert.equal(parseArgs(['--passphrase', 's3cret', 'url'], specs, {}).flags.passphrase, 's3cret');
  const url = parseArgs(['--passphrase', 'wss://example.com/'], specs, {});
  assert.equal(url.flags.passphrase, true);
  assert.deepEqual(url.positionals, ['wss://example.com/']);
  assert.equal(parseArgs(['--passphrase=-dash'], specs, {}).flags.passphrase, '-dash');
  assert.equal(parseArgs(['--no-color'], specs, {}).flags.noColor, true);
  assert.deepEqual(parseArgs(['--', '--port', '-k'], specs, {}).positionals, ['--port', '-k']);
});

test('help lists every flag with its default', () => {
  const text = helpText('wavecast serve [options]', 'Starts the relay.', specs);
  for (const name of Object.keys(specs)) assert.match(text, new RegExp(`--${name}`));
  assert.match(text, /default: 3000; env: PORT/);
  assert.match(text, /-H, --header NAME:VALUE/);
});
