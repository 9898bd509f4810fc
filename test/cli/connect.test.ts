// `wavecast connect` as a user runs it: the built command in a child process, through pipes, against a
// WebSocketServer on 127.0.0.1. What is sent, what is printed, the close code, the exit status.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { STACK_LINE, echo, killLeftovers, recordingServer, wavecast, wavecastResult, within } from './helpers.js';
import { listenHttp } from '../helpers/net.js';

after(killLeftovers);

test('piped input: every line is sent, replies are printed as they are, then a clean close and exit 0', async () => {
  const server = await recordingServer((socket) => {
    socket.on('message', (data: Buffer) => {
      if (data.toString() === 'bin') socket.send(Buffer.from([1, 2, 0xff]));
      else socket.send(`echo:${data.toString()}`);
    });
  });
  try {
    const result = await within(wavecastResult(['connect', server.url], { input: 'one\ntwo words\n\nbin\nlast without newline' }), 'wavecast connect to exit');
    assert.deepEqual(server.messages, ['one', 'two words', '', 'bin', 'last without newline']);
    assert.equal(result.stdout, 'echo:one\necho:two words\necho:\n<binary 3 bytes: 0102ff>\necho:last without newline\n');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(await server.closed, 1000);
    assert.match(result.stderr, /^connected to ws:\/\/127\.0\.0\.1:\d+\/\n/);
    assert.match(result.stderr, /closed: 1000 \(normal closure\)\n$/);
    assert.doesNotMatch(result.stdout + result.stderr, /\x1b\[/, 'no colours when piped');
  } finally {
    await server.stop();
  }
});

test('-x sends each message, prints the replies, and closes with 1000 after --wait', async () => {
  const server = await recordingServer();
  try {
    const result = await within(wavecastResult(['connect', '-x', 'first', '--execute', 'second', '--wait', '0.2', server.url]), 'wavecast connect to exit');
    assert.deepEqual(server.messages, ['first', 'second']);
    assert.equal(result.stdout, 'first\nsecond\n');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(await server.closed, 1000);
    assert.match(result.stderr, /closed: 1000/);
  } finally {
    await server.stop();
  }
});

test('-x: a server that closes first ends the wait at once, and its close code is printed', async () => {
  const server = await recordingServer((socket) => {
    socket.on('message', () => {
      socket.send('bye then');
      socket.close(1000, 'done here');
    });
  });
  try {
    // With --wait 600 only the server's close can end this within the test's time.
    const result = await within(wavecastResult(['connect', '-x', 'hello', '-w', '600', server.url]), 'wavecast connect to exit on the server close');
    assert.equal(result.stdout, 'bye then\n');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /closed: 1000 \(normal closure\) "done here"/);
  } finally {
    await server.stop();
  }
});

test('-H, -p and --origin reach the server; the chosen subprotocol is reported', async () => {
  const server = await recordingServer(echo, {
    handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  try {
    const result = await within(
      wavecastResult([
        'connect',
        '-p', 'chat.v1',
        '--subprotocol', 'chat.v2',
        '-H', 'X-Token: s3cret',
        '--header=X-Multi: a',
        '-H', 'x-multi: b',
        '--origin', 'https://app.example',
        '-x', 'hi', '--wait', '0',
        server.url,
      ]),
      'wavecast connect to exit',
    );
    assert.equal(result.status, 0, result.stderr);
    const headers = server.requests[0]!.headers;
    assert.equal(headers['x-token'], 's3cret');
    assert.equal(headers['x-multi'], 'a, b');
    assert.equal(headers.origin, 'https://app.example');
    assert.equal(headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.match(result.stderr, /connected to ws:\/\/127\.0\.0\.1:\d+\/ \(subprotocol chat\.v2\)/);
    assert.equal(result.stdout, 'hi\n');
  } finally {
    await server.stop();
  }
});

test('a refused connection exits 1 with a clear message and no stack trace', async () => {
  // A port that was free a moment ago: nothing listens there now.
  const probe = createServer();
  const port = await listenHttp(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const result = await within(wavecastResult(['connect', `ws://127.0.0.1:${port}/`]), 'wavecast connect to exit');
  assert.equal(result.status, 1);
  assert.match(result.stderr, new RegExp(`^wavecast connect: could not connect to ws://127\\.0\\.0\\.1:${port}/: connect ECONNREFUSED`));
  assert.doesNotMatch(result.stderr, STACK_LINE);
  assert.equal(result.stdout, '');
});

test('a server that closes with 1011 gives exit status 1 and the code and reason are printed', async () => {
  const server = await recordingServer((socket) => socket.close(1011, 'database down'));
  try {
    const result = await within(wavecastResult(['connect', server.url], { input: '' }), 'wavecast connect to exit');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /closed: 1011 \(internal error\) "database down"/);
  } finally {
    await server.stop();
  }
});

test('a connection lost without a close frame (1006) exits 1', async () => {
  const server = await recordingServer((socket) => socket.on('message', () => socket.terminate()));
  try {
    const run = wavecast(['connect', server.url]);
    run.child.stdin!.write('kill me\n');
    const status = await within(run.exited, 'wavecast connect to exit');
    assert.equal(status, 1);
    assert.match(run.stderr(), /connection lost: 1006/);
    run.child.stdin!.destroy();
  } finally {
    await server.stop();
  }
});

test('an upgrade refused by the server (401) exits 1 and shows the status', async () => {
  const server = await recordingServer(echo, {
    verifyClient: (_info: unknown, done: (ok: boolean, status?: number, message?: string) => void) => done(false, 401, 'Unauthorized'),
  });
  try {
    const result = await within(wavecastResult(['connect', server.url]), 'wavecast connect to exit');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /refused the WebSocket upgrade: HTTP 401/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
  } finally {
    await server.stop();
  }
});

test('bad input on the command line exits 2 with a message, before connecting', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['connect'], /missing the URL/],
    [['connect', 'ws://a/', 'ws://b/'], /one URL only/],
    [['connect', '--wait', 'soon', 'ws://127.0.0.1:1/'], /--wait needs a number, not "soon"/],
    [['connect', '--wait', '-1', 'ws://127.0.0.1:1/'], /--wait needs a number of seconds/],
    [['connect', '-H', 'no colon here', 'ws://127.0.0.1:1/'], /--header needs "Name: value"/],
    [['connect', '-H', 'Sec-WebSocket-Protocol: x', 'ws://127.0.0.1:1/'], /use -p\/--subprotocol/],
    [['connect', '-p', 'two words', 'ws://127.0.0.1:1/'], /Invalid subprotocol/],
    [['connect', 'ftp://127.0.0.1/'], /the scheme must be one of/],
    [['connect', '--bogus', 'ws://127.0.0.1:1/'], /unknown option --bogus/],
  ];
  for (const [args, message] of cases) {
    const result = await within(wavecastResult(args), `wavecast ${args.join(' ')} to exit`);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /Run "wavecast connect --help" for usage/);
    assert.doesNotMatch(result.stderr, STACK_LINE);
  }
});

test('a URL without a scheme means ws://', async () => {
  const server = await recordingServer();
  try {
    const result = await within(wavecastResult(['connect', server.url.replace('ws://', '')], { input: 'x\n' }), 'wavecast connect to exit');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'x\n');
  } finally {
    await server.stop();
  }
});

test('--ping-interval sends pings; --verbose prints the pongs', async () => {
  // The server answers the first ping (automatically), then closes: no timing involved.
  const server = await recordingServer((socket) => socket.on('ping', () => socket.close(1000, 'seen your ping')));
  try {
    const run = wavecast(['connect', '--ping-interval', '0.05', '--verbose', server.url]);
    const status = await within(run.exited, 'wavecast connect to exit');
    assert.equal(status, 0, run.stderr());
    assert.match(run.stderr(), /\npong \(\d+ ms after our ping\)\nclosed: 1000 \(normal closure\) "seen your ping"\n$/);
    run.child.stdin!.destroy();
  } finally {
    await server.stop();
  }
});
