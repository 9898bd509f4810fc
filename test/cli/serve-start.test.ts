// What `wavecast serve` says when it starts, as a person reads it: the line with the WebSocket and
// chat page URLs (and, on every interface, the page's addresses on this machine's networks), and the
// one line that says what to do when the port is taken.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { listeningLine } from '../../src/cli/serve-address.js';
import { killLeftovers, wavecast, within } from './helpers.js';

after(killLeftovers);

/** Starts `wavecast serve` with `args`; resolves with its stdout line and the running process. */
async function serve(args: string[]) {
  const run = wavecast(['serve', '--port', '0', ...args], { env: { PORT: '', WAVECAST_TOKEN: '' } });
  await run.waitFor(/\n/);
  return { run, line: run.stdout().trimEnd() };
}

function get(url: string): Promise<{ status: number; type: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']) }));
    })
      .on('error', reject)
      .end();
  });
}

test('the start line gives the WebSocket URL and the chat page URL, which serves the page', async () => {
  const { run, line } = await serve(['--host', '127.0.0.1']);
  try {
    const match = /^wavecast relay listening on ws:\/\/127\.0\.0\.1:(\d+) — chat page: (http:\/\/127\.0\.0\.1:(\d+)\/)$/.exec(line);
    assert.ok(match, line);
    assert.equal(match[1], match[3]);
    const page = await get(match[2]!);
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
  } finally {
    run.child.kill('SIGTERM');
    assert.equal(await within(run.exited, 'the relay to stop'), 0);
  }
});

test('with --host localhost the page is given as http://localhost:PORT/', async () => {
  const { run, line } = await serve(['--host', 'localhost']);
  try {
    assert.match(line, /^wavecast relay listening on ws:\/\/(127\.0\.0\.1|\[::1\]):(\d+) — chat page: http:\/\/localhost:\2\/$/);
  } finally {
    run.child.kill('SIGTERM');
    await within(run.exited, 'the relay to stop');
  }
});

test('on every interface, the page is given for localhost and for each address of this machine on its networks', () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    wlan0: [
      {
        address: '192.168.1.23',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '192.168.1.23/24',
      },
      {
        address: 'fe80::1',
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: 'fe80::1/64',
        scopeid: 2,
      },
      {
        address: '2001:db8::23',
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '2001:db8::23/64',
        scopeid: 0,
      },
    ],
  } as const;
  const tables = interfaces as unknown as Parameters<typeof listeningLine>[2];
  assert.equal(
    listeningLine('ws://0.0.0.0:3000', '0.0.0.0', tables),
    'wavecast relay listening on ws://0.0.0.0:3000 — chat page: http://localhost:3000/, on this network: http://192.168.1.23:3000/',
  );
  assert.equal(
    listeningLine('wss://[::]:8443', '::', tables),
    'wavecast relay listening on wss://[::]:8443 — chat page: https://localhost:8443/, on this network: https://192.168.1.23:8443/, https://[2001:db8::23]:8443/',
  );
  assert.equal(
    listeningLine('ws://0.0.0.0:3000', '0.0.0.0', {}),
    'wavecast relay listening on ws://0.0.0.0:3000 — chat page: http://localhost:3000/',
  );
});

test('a port in use: one line that says what to do, no raw error code, exit 1', async () => {
  const { run, line } = await serve(['--host', '127.0.0.1']);
  try {
    const port = /127\.0\.0\.1:(\d+)/.exec(line)![1]!;
    const second = wavecast(['serve', '--port', port, '--host', '127.0.0.1'], { env: { PORT: '', WAVECAST_TOKEN: '' } });
    assert.equal(await within(second.exited, 'the second relay to exit'), 1);
    assert.equal(second.stdout(), '');
    const lines = second.stderr().trimEnd().split('\n');
    assert.equal(lines.length, 1, second.stderr());
    assert.match(
      lines[0]!,
      new RegExp(`cannot start the relay: 127\\.0\\.0\\.1:${port} is already in use .*: stop it, or pick another port with --port \\d+`),
    );
    assert.doesNotMatch(lines[0]!, /EADDRINUSE/);
  } finally {
    run.child.kill('SIGTERM');
    await within(run.exited, 'the relay to stop');
  }
});
