// The chat page's pure parts: what it sends, how it reads what arrives, its channel and reconnect delays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  channelFromLocation,
  channelProblem,
  channelUrl,
  cleanName,
  contrast,
  decodeIncoming,
  encodeChat,
  hslToRgb,
  MIN_CONTRAST,
  nameColours,
  nameHue,
  PANEL,
} from '../../src/relay/page/chat-message.js';

test('a chat line goes out as JSON text and comes back as a chat line', () => {
  const text = encodeChat({ name: 'Ada', text: 'hello <b>' });
  assert.deepEqual(JSON.parse(text), { name: 'Ada', text: 'hello <b>' });
  assert.deepEqual(decodeIncoming(text), { kind: 'chat', name: 'Ada', text: 'hello <b>' });
  // Whatever a line claims about its sender is not read: which lines are mine comes from the relay.
  assert.deepEqual(decodeIncoming('{"name":"Ada","text":"x","sender":"abc"}'), { kind: 'chat', name: 'Ada', text: 'x' });
});

test('a channel name the relay would refuse is caught before joining, with the reason', () => {
  assert.equal(channelProblem('lobby'), null);
  assert.equal(channelProblem('é'.repeat(128)), null, '256 bytes is fine');
  assert.equal(channelProblem('é'.repeat(129)), 'The channel name is too long: 258 bytes, at most 256 (UTF-8).');
  assert.equal(channelProblem('a\ud800'), 'The channel name is not valid text.');
  assert.equal(channelProblem('a\tb'), 'The channel name may not contain control characters.');
});

test('what plain clients send is shown as it is', () => {
  assert.deepEqual(decodeIncoming('hello'), { kind: 'text', text: 'hello' });
  assert.deepEqual(decodeIncoming('{not json'), { kind: 'text', text: '{not json' });
  assert.deepEqual(decodeIncoming('{"a":1}'), { kind: 'text', text: '{"a":1}' });
  assert.deepEqual(decodeIncoming(new ArrayBuffer(3)), { kind: 'binary', bytes: 3 });
  assert.deepEqual(decodeIncoming('{"name":"\\n\\n","text":"x"}'), { kind: 'chat', name: 'anonymous', text: 'x' });
});

test('names are one trimmed line of at most 32 characters', () => {
  assert.equal(cleanName('  Ada\nLovelace  '), 'Ada Lovelace');
  assert.equal(cleanName('x'.repeat(50)).length, 32);
});

test('the channel comes from ?channel=, else the #fragment, else lobby', () => {
  assert.equal(channelFromLocation('?channel=games', '#other'), 'games');
  assert.equal(channelFromLocation('', '#caf%C3%A9'), 'café');
  assert.equal(channelFromLocation('?token=x', ''), 'lobby');
  assert.equal(channelUrl({ protocol: 'http:', host: 'h:1' }, 'a/b c', null), 'ws://h:1/a%2Fb%20c');
  assert.equal(channelUrl({ protocol: 'https:', host: 'h' }, 'x', 't&1'), 'wss://h/x?token=t%261');
});

test('a name always gets the same colour', () => {
  assert.equal(nameHue('Ada'), nameHue('Ada'));
  assert.notEqual(nameHue('Ada'), nameHue('Grace'));
});

test('every name colour reads on the message background in light and dark mode (WCAG AA, 4.5:1)', () => {
  assert.equal(contrast([0, 0, 0], [255, 255, 255]).toFixed(1), '21.0');
  assert.deepEqual(hslToRgb(120, 1, 0.25), [0, 128, 0]);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const name = `person ${i}`;
    seen.add(nameHue(name));
    const { light, dark } = nameColours(name);
    for (const [css, panel] of [
      [light, PANEL.light],
      [dark, PANEL.dark],
    ] as const) {
      const [, h, s, l] = /^hsl\((\d+) (\d+)% (\d+)%\)$/.exec(css)!.map(Number) as [number, number, number, number];
      const ratio = contrast(hslToRgb(h, s / 100, l / 100), panel);
      assert.ok(ratio >= MIN_CONTRAST, `${name}: ${css} on ${panel.join(',')} is ${ratio.toFixed(2)}:1`);
    }
  }
  assert.ok(seen.size >= 8, 'names spread over the hues');
});
