// History per namespace (--config "history"/"historyTtl") against the real `wavecast serve` process: two
// namespaces keep different amounts for different times, a namespace with history 0 tells a returning
// wavecast.v1 client exactly which numbers it missed, the HTTP history and the server API answer by the
// channel's own bounds, on one node (memory) and through Redis and NATS; bad values stop the start.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../cluster/setup.js';
import { BROKERS, until, wipe } from './cluster-setup.js';
import { configFile, http, killAll, runServeCommand, startRelay, v1, type RelayProcess } from './relay-process.js';

after(killAll);

const API_KEY = 'backend-key-of-32-characters!!!!';

const CONFIG = { namespaces: { 'big:': { history: 6 }, 'brief:': { history: 10, historyTtl: 1.5 }, 'none:': { history: 0 } } };
const CHANNELS = ['big:a', 'plain', 'none:a'];
/** --history 3 for channels in no namespace, the api key, CONFIG. */
const flags = () => ['--history', '3', '--api-key', API_KEY, '--config', configFile(CONFIG)];
const api = { Authorization: `Bearer ${API_KEY}` };

interface HistoryAnswer {
  epoch: string;
  latest: number;
  lost?: { from: number; to: number };
  messages: Array<{ seq: number; data: string }>;
}

/** Publishes 1..8 on the channel through the server API. */
async function publish8(relay: RelayProcess, channel: string): Promise<void> {
  for (let i = 1; i <= 8; i++) {
    const posted = await http(relay.http, 'POST', '/api/publish', { headers: api, body: JSON.stringify({ channel, data: String(i) }) });
    assert.equal(posted.status, 200, posted.body);
  }
}

/** The channel's history as GET /channels/<name>/messages answers. */
async function kept(relay: RelayProcess, channel: string, since = 0): Promise<HistoryAnswer> {
  const answer = await http(relay.http, 'GET', `/channels/${encodeURIComponent(channel)}/messages?since=${since}`);
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body) as HistoryAnswer;
}

const texts = (answer: HistoryAnswer) => answer.messages.map((m) => m.data);

/** The checks every store must pass: different sizes per namespace, then brief:'s age. */
async function checkBounds(relay: RelayProcess): Promise<void> {
  for (const channel of CHANNELS) await publish8(relay, channel);
  assert.deepEqual(texts(await kept(relay, 'big:a')), ['3', '4', '5', '6', '7', '8']);
  assert.deepEqual(texts(await kept(relay, 'plain')), ['6', '7', '8'], 'a channel in no namespace keeps --history 3');
  const none = await kept(relay, 'none:a', 2);
  assert.deepEqual([none.messages, none.lost], [[], { from: 3, to: 8 }]);
  // The server API's history answers by the same bounds.
  const viaApi = await http(relay.http, 'POST', '/api/history', { headers: api, body: JSON.stringify({ channel: 'big:a' }) });
  assert.deepEqual(texts(JSON.parse(viaApi.body) as HistoryAnswer), ['3', '4', '5', '6', '7', '8']);
  await publish8(relay, 'brief:a');
  assert.equal((await kept(relay, 'brief:a')).messages.length, 8, 'brief: keeps up to 10');
  await until("brief:'s messages are past their age (1.5 s)", async () => (await kept(relay, 'brief:a')).messages.length === 0);
  assert.deepEqual((await kept(relay, 'brief:a', 4)).lost?.from, 5);
  assert.equal((await kept(relay, 'big:a')).messages.length, 6, 'big: has no age limit');
}

test('one node: namespaces keep their own history size and age; history 0 tells a returning client what it missed', {
  timeout: 30_000,
}, async () => {
  const relay = await startRelay(flags());
  try {
    await checkBounds(relay);
    // A wavecast.v1 client that saw up to 2 on none:a comes back: it is told 3..8 are gone, and sent none of them.
    const { epoch } = await kept(relay, 'none:a');
    const client = await v1(relay);
    client.send({ type: 'join', channel: 'none:a', since: 2, epoch });
    const gap = await client.next('gap');
    assert.deepEqual([gap.from, gap.to, gap.reason], [3, 8, 'expired']);
    await client.next('joined');
    assert.deepEqual(client.messages('none:a'), []);
    // Live messages still come, numbered on.
    await publish8(relay, 'none:a');
    assert.equal((await client.next('message', (e) => e.data === '8')).seq, 16);
    client.client.close();
  } finally {
    await relay.stop();
  }
});

for (const kind of BROKERS) {
  test(`${kind.name}: each channel's history keeps its namespace's size and age`, { timeout: 60_000 }, async () => {
    const prefix = uniquePrefix('nshist');
    const relay = await startRelay([kind.flag, kind.shared, '--cluster-prefix', prefix, ...flags()]);
    try {
      await checkBounds(relay);
    } finally {
      await relay.stop();
      await wipe(kind, prefix);
    }
  });
}

test('a bad history value in the config stops the start with what is wrong', { timeout: 30_000 }, async () => {
  const cases: Array<[object, RegExp]> = [
    [{ history: -1 }, /"x:": "history" is a whole number of messages from 0 \(none kept\) to 1000000, not -1/],
    [{ history: 2.5 }, /"history" is a whole number .* not 2\.5/],
    [{ history: '10' }, /"history" is a whole number .* not "10"/],
    [{ historyTtl: -5 }, /"x:": "historyTtl" is seconds from 0 \(no age limit\) to \d+, not -5/],
    [{ historyTTL: 5 }, /"x:": unknown rule "historyTTL" \(there are .*history, historyTtl\)/],
  ];
  for (const [rules, message] of cases) {
    const bad = await runServeCommand(['--port', '0', '--config', configFile({ namespaces: { 'x:': rules } })]);
    assert.equal(bad.code, 2, JSON.stringify(rules));
    assert.match(bad.stderr, message);
  }
});
