// `wavecast connect` on a terminal: run in a pseudo-terminal (util-linux `script`, or Python's pty
// module), typed at, and read back: the prompt, the "< " marks and colours, Ctrl-D and Ctrl-C.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { killLeftovers, ptyRunner, recordingServer, wavecastOnTerminal, within } from './helpers.js';

after(killLeftovers);

const runner = ptyRunner();
const skip = runner === null ? 'neither util-linux script nor python3 with the pty module is available' : false;

/** The output with colour codes and readline's cursor moves taken out, as a user reads it. */
function plain(output: string): string {
  return output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
}

test('a prompt; received messages marked "< " in colour; a typed line is sent; Ctrl-D closes with 1000', { skip }, async () => {
  const server = await recordingServer((socket) => {
    socket.send('welcome');
    socket.on('message', (data: Buffer) => socket.send(`got ${data.toString()}`));
  });
  try {
    const run = wavecastOnTerminal(runner!, ['connect', server.url]);
    await run.waitFor(/\x1b\[36m< \x1b\[39mwelcome/);
    await run.waitFor(/> /);
    assert.match(plain(run.stdout()), /connected to ws:\/\/127\.0\.0\.1:\d+\/; Ctrl-C or Ctrl-D closes it/);

    run.type('hello there\r');
    await server.received(1);
    assert.deepEqual(server.messages, ['hello there']);
    await run.waitFor(/\x1b\[36m< \x1b\[39mgot hello there/);
    // The typed line stays on screen after the prompt.
    assert.match(plain(run.stdout()), /> hello there\n/);

    run.type('\x04');
    const status = await within(run.exited, 'wavecast connect to exit after Ctrl-D');
    assert.equal(status, 0, plain(run.stdout()));
    assert.equal(await server.closed, 1000);
    assert.match(plain(run.stdout()), /closed: 1000 \(normal closure\)/);
  } finally {
    await server.stop();
  }
});

test('NO_COLOR: marks without colours, control characters made visible; Ctrl-C closes with 1000', { skip }, async () => {
  const server = await recordingServer((socket) => {
    socket.send('clear\x1b[2Jscreen');
    socket.send(Buffer.from([0xde, 0xad]));
  });
  try {
    const run = wavecastOnTerminal(runner!, ['connect', server.url], { NO_COLOR: '1' });
    await run.waitFor(/< <binary 2 bytes: dead>/);
    assert.match(run.stdout(), /< clear\\x1b\[2Jscreen/);
    assert.doesNotMatch(run.stdout(), /\x1b\[3\dm/, 'no colour codes with NO_COLOR');
    await run.waitFor(/> /);

    run.type('\x03');
    const status = await within(run.exited, 'wavecast connect to exit after Ctrl-C');
    assert.equal(status, 0, plain(run.stdout()));
    assert.equal(await server.closed, 1000);
    assert.match(plain(run.stdout()), /closed: 1000/);
  } finally {
    await server.stop();
  }
});
