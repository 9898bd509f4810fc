// `wavecast serve` flag checks, in-process (the end-to-end tests run the real command).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, parseArgs } from '../../src/cli/args.js';
import { SERVE_FLAGS, checkFlags } from '../../src/cli/serve.js';
import { bodyKind } from '../../src/relay/http-routes.js';

function settings(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return checkFlags(parseArgs(argv, SERVE_FLAGS, env).flags);
}

test('no flags: localhost:3000 with the safe defaults', () => {
  const { relay, logLevel, logFormat, shutdownTimeout } = settings([]);
  assert.equal(relay.port, 3000);
  assert.equal(relay.host, 'localhost');
  assert.equal(relay.maxPayload, 64 * 1024);
  assert.equal(relay.token, undefined);
  assert.deepEqual(relay.origins, []);
  assert.deepEqual(relay.rateLimit, { rate: 20, burst: 40 });
  assert.deepEqual(relay.httpRateLimit, { rate: 50, burst: 100 });
  assert.equal(relay.backpressurePolicy, 'drop');
  assert.equal(relay.tls, undefined);
  assert.equal(logLevel, 'info');
  assert.equal(logFormat, 'text');
  assert.equal(shutdownTimeout, 10_000);
  assert.deepEqual(relay.history, { limit: 100, ttl: 3_600_000, maxBytes: 1_048_576, maxTotalBytes: 64 * 1_048_576, maxChannels: 100_000 });
  assert.equal(relay.maxChannelsPerConnection, 64);
  assert.equal(relay.presenceUpdates, 5);
  assert.equal(relay.maxConnections, 10_000);
  assert.equal(relay.maxConnectionsPerIp, 256);
  assert.equal(relay.handshakeTimeout, 5_000);
  assert.equal(relay.requestTimeout, 30_000);
  assert.equal(relay.keepAliveTimeout, 5_000);
  assert.equal(relay.idleTimeout, 3_600_000);
  assert.deepEqual(relay.publicUrls, []);
});

test('connection flags: per address, timeouts in seconds, public URLs', () => {
  const { relay } = settings([
    '--max-connections-per-ip',
    '0',
    '--handshake-timeout',
    '2.5',
    '--request-timeout',
    '0',
    '--keep-alive-timeout',
    '1',
    '--idle-timeout',
    '0',
    '--public-url',
    'https://chat.example.com',
    '--public-url',
    'http://10.0.0.5:8080/',
  ]);
  assert.equal(relay.maxConnectionsPerIp, 0);
  assert.equal(relay.handshakeTimeout, 2_500);
  assert.equal(relay.requestTimeout, 0);
  assert.equal(relay.keepAliveTimeout, 1_000);
  assert.equal(relay.idleTimeout, 0);
  assert.deepEqual(relay.publicUrls, ['https://chat.example.com', 'http://10.0.0.5:8080/']);
});

test('history flags: count, age in seconds, bytes', () => {
  assert.deepEqual(
    settings(['--history', '0', '--history-ttl', '0', '--history-bytes', '1000', '--history-total-bytes', '5000', '--max-channels', '10'])
      .relay.history,
    { limit: 0, ttl: 0, maxBytes: 1000, maxTotalBytes: 5000, maxChannels: 10 },
  );
  assert.deepEqual(settings(['--history', '500', '--history-ttl', '1.5']).relay.history, {
    limit: 500,
    ttl: 1500,
    maxBytes: 1_048_576,
    maxTotalBytes: 64 * 1_048_576,
    maxChannels: 100_000,
  });
  assert.equal(settings(['--max-channels-per-connection', '3']).relay.maxChannelsPerConnection, 3);
});

test('PORT and WAVECAST_TOKEN come from the environment; flags win', () => {
  assert.equal(settings([], { PORT: '8080' }).relay.port, 8080);
  assert.equal(settings(['--port', '0'], { PORT: '8080' }).relay.port, 0);
  assert.equal(settings([], { WAVECAST_TOKEN: 'abc' }).relay.token, 'abc');
  assert.deepEqual(settings(['--origin', 'https://a.example', '--origin', 'http://b.example:8080']).relay.origins, [
    'https://a.example',
    'http://b.example:8080',
  ]);
});

test('bad values are usage errors that say what is wrong', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--port', '70000'], /--port must be a whole number from 0 to 65535/],
    [['--port', '1.5'], /--port must be a whole number/],
    [['--max-payload', '0'], /--max-payload must be a whole number/],
    [['--rate-limit', '-1'], /--rate-limit must be 0 or more/],
    [['--rate-burst', '0'], /--rate-burst must be a whole number 1 or more/],
    [['--http-rate-limit', '-1'], /--http-rate-limit must be 0 or more/],
    [['--http-rate-burst', '0'], /--http-rate-burst must be a whole number 1 or more/],
    [['--max-channels', '0'], /--max-channels must be a whole number 1 or more/],
    [['--max-channels-per-connection', '0'], /--max-channels-per-connection must be a whole number from 1 to 100000/],
    [['--backpressure-policy', 'queue'], /--backpressure-policy must be drop or close/],
    [['--log-level', 'loud'], /--log-level must be one of debug, info, warn, error/],
    [['--log-format', 'xml'], /--log-format must be one of text, json/],
    [['--origin', 'example.com'], /--origin needs an origin such as https:\/\/chat.example.com/],
    [['--token', ''], /--token may not be empty/],
    [['--history', '-1'], /--history must be a whole number from 0 to 1000000/],
    [['--history', '2.5'], /--history must be a whole number/],
    [['--history-ttl', '-5'], /--history-ttl must be 0 or more/],
    [['--history-bytes', '-1'], /--history-bytes must be a whole number 0 or more/],
    [['--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
    [['--max-connections-per-ip', '-1'], /--max-connections-per-ip must be a whole number 0 or more/],
    [['--handshake-timeout', '0'], /--handshake-timeout must be 0.1 or more/],
    [['--request-timeout', '2', '--handshake-timeout', '5'], /--request-timeout \(2\) may not be shorter than --handshake-timeout \(5\)/],
    [['--keep-alive-timeout', '0'], /--keep-alive-timeout must be 0.1 or more/],
    [['--idle-timeout', '-1'], /--idle-timeout must be 0 or more/],
    [['--public-url', 'chat.example.com'], /--public-url needs a URL such as https:\/\/chat.example.com, not "chat.example.com"/],
    [['--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'], /--tls-cert: cannot read \/nonexistent\/c.pem \(ENOENT\)/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => settings(argv),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      argv.join(' '),
    );
  }
});

test('HTTP publish: text for text/* and JSON in UTF-8, binary otherwise', () => {
  assert.equal(bodyKind('text/plain'), 'text');
  assert.equal(bodyKind('text/plain; charset=UTF-8'), 'text');
  assert.equal(bodyKind('application/json'), 'text');
  assert.equal(bodyKind('application/vnd.api+json'), 'text');
  assert.equal(bodyKind(undefined), 'binary');
  assert.equal(bodyKind('application/octet-stream'), 'binary');
  assert.equal(bodyKind('application/x-www-form-urlencoded'), 'binary');
  assert.equal(bodyKind('text/plain; charset=latin1'), 'unsupported-charset');
});
