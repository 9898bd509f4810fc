// `wavecast connect` as a user runs it: the built command in a child process, through pipes, against a
// WebSocketServer on 127.0.0.1. What is sent, what is printed, the close code, the exit status.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { STACK_LINE, echo, killLeftovers, recordingServer, wavecast, wavecastResult, within } from './helpers.js';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeServer, listenHttp } from '../helpers/net.js';

after(killLeftovers);

test('piped input: every line is sent, replies are printed as they are, then a clean close and exit 0', async () => {
  const server = await recordingServer((socket) => {
    socket.on('message', (data: Buffer) => {
      if (data.toString() === 'bin') socket.send(Buffer.from([1, 2, 0xff]));
      else socket.send(`echo:${data.toString()}`);
    });
  });
  try {
    const result = await within(
      wavecastResult(['connect', server.url], { input: 'one\ntwo words\n\nbin\nlast without newline' }),
      'wavecast connect to exit',
    );
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
    const result = await within(
      wavecastResult(['connect', '-x', 'first', '--execute', 'second', '--wait', '0.2', server.url]),
      'wavecast connect to exit',
    );
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
    const result = await within(
      wavecastResult(['connect', '-x', 'hello', '-w', '600', server.url]),
      'wavecast connect to exit on the server close',
    );
    assert.equal(result.stdout, 'bye then\n');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /closed: 1000 \(normal closure\) "done here"/);
  } finally {
    await server.stop();
  }
});

test("wscat's flags: -c, -s (repeatable), -H, -o, --auth and --host reach the server; the chosen subprotocol is reported", async () => {
  const server = await recordingServer(echo, {
    handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  try {
    const result = await within(
      wavecastResult([
        'connect',
        '-s',
        'chat.v1',
        '--subprotocol',
        'chat.v2',
        '-H',
        'X-Token: s3cret',
        '--header=X-Multi: a',
        '-H',
        'x-multi: b',
        '-o',
        'https://app.example',
        '--auth',
        'ada:pa:ss',
        '--host',
        'chat.example:8080',
        '-x',
        'hi',
        '-w',
        '0',
        '-c',
        server.url,
      ]),
      'wavecast connect to exit',
    );
    assert.equal(result.status, 0, result.stderr);
    const headers = server.requests[0]!.headers;
    assert.equal(headers['x-token'], 's3cret');
    assert.equal(headers['x-multi'], 'a, b');
    assert.equal(headers.origin, 'https://app.example');
    assert.equal(headers['sec-websocket-protocol'], 'chat.v1,chat.v2');
    assert.equal(headers.authorization, `Basic ${Buffer.from('ada:pa:ss').toString('base64')}`);
    assert.equal(headers.host, 'chat.example:8080');
    assert.match(result.stderr, /connected to ws:\/\/127\.0\.0\.1:\d+\/ \(subprotocol chat\.v2\)/);
    assert.equal(result.stdout, 'hi\n');
  } finally {
    await server.stop();
  }
});

test('-p is the protocol version, as in wscat: -p 8 is sent (our server, as ws, speaks 8), and a server that speaks only 13 is explained', async () => {
  const server = await recordingServer();
  const only13 = createServer();
  only13.on('upgrade', (_request, socket: Duplex) =>
    socket.end('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
  );
  const only13Port = await listenHttp(only13);
  try {
    const v8 = await within(wavecastResult(['connect', '-p', '8', '-x', 'old', '-w', '0', server.url]), 'wavecast connect to exit');
    assert.equal(v8.status, 0, v8.stderr);
    assert.equal(server.requests[0]!.headers['sec-websocket-version'], '8');
    const refused = await within(wavecastResult(['connect', '-p', '8', `ws://127.0.0.1:${only13Port}/`]), 'wavecast connect to exit');
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /does not speak WebSocket version 8 \(HTTP 426 Upgrade Required; it speaks 13\)\. Leave out -p\/--protocol/,
    );
    const subprotocol = await within(wavecastResult(['connect', '-p', 'chat.v2', server.url]), 'wavecast connect to exit');
    assert.equal(subprotocol.status, 2);
    assert.match(
      subprotocol.stderr,
      /-p\/--protocol is the WebSocket protocol version, 8 or 13 \(as in wscat\), not "chat\.v2"; a subprotocol is -s\/--subprotocol/,
    );
    assert.equal(server.requests.length, 1, 'no connection was made for the bad -p');
  } finally {
    await server.stop();
    await closeServer(only13);
  }
});

test('a password in the URL is sent as Basic authentication and never printed', async () => {
  const server = await recordingServer((socket) => socket.close(1000, 'bye'));
  const url = server.url.replace('ws://', 'ws://ada:s3cret@');
  try {
    const result = await within(wavecastResult(['connect', url]), 'wavecast connect to exit');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(server.requests[0]!.headers.authorization, `Basic ${Buffer.from('ada:s3cret').toString('base64')}`);
    assert.match(result.stderr, /^connected to ws:\/\/ada:\*\*\*@127\.0\.0\.1:\d+\/\n/);
    assert.doesNotMatch(result.stdout + result.stderr, /s3cret/);
  } finally {
    await server.stop();
  }
  // And in a failure: nothing listens there any more.
  const failed = await within(wavecastResult(['connect', url]), 'wavecast connect to exit');
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /cannot connect to ws:\/\/ada:\*\*\*@127\.0\.0\.1/);
  assert.doesNotMatch(failed.stdout + failed.stderr, /s3cret/);
});

test('-P prints the pings and pongs received', async () => {
  const server = await recordingServer((socket) => {
    socket.ping('heartbeat');
    socket.on('pong', () => socket.close(1000, 'seen your pong'));
  });
  try {
    const run = wavecast(['connect', '-P', server.url]);
    assert.equal(await within(run.exited, 'wavecast connect to exit'), 0, run.stderr());
    assert.match(run.stderr(), /\nping received: heartbeat \(answered with a pong\)\nclosed: 1000 \(normal closure\) "seen your pong"\n$/);
    run.child.stdin!.destroy();
  } finally {
    await server.stop();
  }
});

test('--slash: /ping, /pong, /close CODE REASON are control frames, // sends a line starting with /, a mistake is told', async () => {
  const seen: string[] = [];
  const server = await recordingServer((socket) => {
    socket.on('ping', (data: Buffer) => seen.push(`ping ${data.toString()}`));
    socket.on('pong', (data: Buffer) => seen.push(`pong ${data.toString()}`));
    socket.on('message', (data: Buffer) => seen.push(`message ${data.toString()}`));
    socket.on('close', (code: number, reason: Buffer) => seen.push(`close ${code} ${reason.toString()}`));
  });
  try {
    const input = '/ping are you there\n/pong unasked\n//etc/hosts\n/bogus\n/close 4001 done here\nnot sent\n';
    const result = await within(wavecastResult(['connect', '--slash', server.url], { input }), 'wavecast connect to exit');
    await server.closed;
    assert.deepEqual(seen, ['ping are you there', 'pong unasked', 'message /etc/hosts', 'close 4001 done here']);
    assert.match(result.stderr, /unknown command \/bogus \(\/ping \[data\], \/pong \[data\], \/close \[code \[reason\]\]/);
    assert.match(result.stderr, /closed: 4001 "done here"/);
    // 4001 is not one of the normal closes.
    assert.equal(result.status, 1);
  } finally {
    await server.stop();
  }
  // Without --slash, the same line is a message.
  const plain = await recordingServer();
  try {
    await within(wavecastResult(['connect', plain.url], { input: '/close 4001\n' }), 'wavecast connect to exit');
    assert.deepEqual(plain.messages, ['/close 4001']);
  } finally {
    await plain.stop();
  }
});

test('-w -1 keeps the connection open after -x until the server closes it', async () => {
  // The server answers well after the default wait (2 s) would have closed the connection: only a
  // client that stays open gets the answer and sees the server's close instead of sending its own.
  const timers: NodeJS.Timeout[] = [];
  const server = await recordingServer((socket) => {
    socket.on('message', () => {
      timers.push(
        setTimeout(() => {
          socket.send('late answer');
          socket.close(1000, 'done');
        }, 2_500),
      );
    });
  });
  try {
    const result = await within(wavecastResult(['connect', '-x', 'question', '-w', '-1', server.url]), 'wavecast connect to exit', 10_000);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'late answer\n');
    assert.match(result.stderr, /closed: 1000 \(normal closure\) "done"/);
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await server.stop();
  }
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

test('bad input on the command line exits 2 with a message, before connecting', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['connect'], /missing the URL/],
    [['connect', 'ws://a/', 'ws://b/'], /one URL only/],
    [['connect', '--wait', 'soon', 'ws://127.0.0.1:1/'], /--wait needs a number, not "soon"/],
    [['connect', '--wait', '-2', 'ws://127.0.0.1:1/'], /--wait needs a number of seconds from 0 to \d+, or -1 \(no end\), not -2/],
    [['connect', '-H', 'no colon here', 'ws://127.0.0.1:1/'], /--header needs "Name: value"/],
    [['connect', '-H', 'Sec-WebSocket-Protocol: x', 'ws://127.0.0.1:1/'], /use -p\/--subprotocol/],
    [['connect', '-s', 'two words', 'ws://127.0.0.1:1/'], /-s\/--subprotocol "two words" is not a subprotocol name/],
    [['connect', '-s', 'chat', '-s', 'chat', 'ws://127.0.0.1:1/'], /-s\/--subprotocol "chat" is given twice/],
    [['connect', 'ftp://127.0.0.1/'], /The URL's protocol must be one of "ws:", "wss:", "http:", "https:", or "ws\+unix:"/],
    [['connect', '--bogus', 'ws://127.0.0.1:1/'], /unknown option --bogus/],
    [['connect', '--subprotocols', 'x', 'ws://127.0.0.1:1/'], /unknown option --subprotocols \(did you mean --subprotocol\?\)/],
    [['connect', '--show-pingpong', 'ws://127.0.0.1:1/'], /unknown option --show-pingpong \(did you mean --show-ping-pong\?\)/],
    [['connect', '-c', 'ws://a/', 'ws://b/'], /two URLs: -c ws:\/\/a\/ and ws:\/\/b\/; give one/],
    [['connect', '-l', '8080', '-c', 'ws://a/'], /use either --listen or --connect/],
    [['connect', '-l', '8080', '-H', 'X: y'], /--header is for connecting, not for --listen/],
    [['connect', '-l', 'eighty'], /--listen needs a port \(0 to 65535\), or HOST:PORT, not "eighty"/],
    [['connect', '--auth', 'nocolon', 'ws://127.0.0.1:1/'], /--auth needs USER:PASSWORD/],
    [['connect', '--max-redirects', '3', 'ws://127.0.0.1:1/'], /--max-redirects goes with -L\/--location/],
    [['connect', '--ca', '/nonexistent/ca.pem', 'wss://127.0.0.1:1/'], /--ca: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
    [['connect', '--cert', '/etc/hostname', 'wss://127.0.0.1:1/'], /--cert and --key go together/],
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
    assert.match(run.stderr(), /\npong received \(\d+ ms after our ping\)\nclosed: 1000 \(normal closure\) "seen your ping"\n$/);
    run.child.stdin!.destroy();
  } finally {
    await server.stop();
  }
});
