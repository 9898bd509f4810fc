// The `relay-v1` fuzz target: a wavecast.v1 connection to an in-process relay sends a sequence of
// envelopes, valid or structurally mutated (fields missing, of the wrong type, huge, negative, fractional,
// -0, 2^53, strings of numbers, deep nesting, unknown types and fields, not an object), raw text that is
// not JSON, binary messages, fragmented messages, text that is not UTF-8, messages over maxPayload. After
// each, a ping barrier; what the relay sent in between must be exactly what an independent model of
// docs/protocol.md says: one typed error whose code is one of the request's faults, or the answer
// (pong, left, joined after a gap and the replay, the message echoed then its ack), or the close code
// (1007, 1009). The relay logs no error and serves the next connection.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { checkRelayLog, fail, RawV1, sharedRelay, type Envelope } from './relay-harness.js';
import type { FuzzStats, Target } from './targets.js';
import { INVALID_UTF8 } from './wire.js';

const MAX_PAYLOAD = 4096;
const MAX_DATA = MAX_PAYLOAD - 256;
const relay = sharedRelay({ maxPayload: MAX_PAYLOAD, historyLimit: 100 });
let inputId = 0;

// ---------------------------------------------------------------- the inputs

const weird = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -0.5,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 53 - 1,
    -(2 ** 53),
    1e21,
    '',
    'x',
    '1',
    'NaN',
    'Infinity',
    '-0',
    [],
    {},
    [1],
    { a: 1 },
    [[[[[]]]]],
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.string({ minLength: 60, maxLength: 70 }),
);

/** Channel names: a few real ones (so joins, publishes and leaves meet), and faulty ones. */
const channelName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c') },
  { weight: 1, arbitrary: fc.constantFrom('', 'é/€', '𝄞', '\u0000', 'a\nb', '\u007f', '\ud800') },
  { weight: 1, arbitrary: fc.integer({ min: 250, max: 262 }).map((n) => 'x'.repeat(n)) },
);

const name = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('x'.repeat(64), 'x'.repeat(65), 'é'.repeat(64), '𝄞'.repeat(32), '𝄞'.repeat(33), 'a\tb', '\u001f'),
  },
);

const data = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_DATA - 1, MAX_DATA, MAX_DATA + 1).map((n) => 'd'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(1919, 1920, 1921).map((n) => 'é'.repeat(n)) },
);

const id = fc.oneof(fc.string({ maxLength: 6 }), fc.nat(), fc.constantFrom('i'.repeat(64), 'i'.repeat(65), -5, 2 ** 53, 0.5, null));

const sinceArb = fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 53 - 1, 100, -0) });

const base = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant('join'), channel: fc.constantFrom('a', 'b'), name: fc.string({ maxLength: 6 }) }) },
  fc.record(
    { type: fc.constant('join'), channel: channelName, since: sinceArb, epoch: fc.constantFrom('EPOCH', 'other', ''), name },
    { requiredKeys: ['type', 'channel'] },
  ),
  fc.record({ type: fc.constant('leave'), channel: channelName }),
  {
    weight: 4,
    arbitrary: fc.record({ type: fc.constant('publish'), channel: channelName, data, id }, { requiredKeys: ['type', 'channel', 'data'] }),
  },
  fc.record({ type: fc.constant('ping'), id }, { requiredKeys: ['type'] }),
);

const FIELDS = ['type', 'channel', 'since', 'epoch', 'name', 'data', 'id'];
type Mutation =
  | { op: 'set'; field: string; value: unknown }
  | { op: 'delete'; field: string }
  | { op: 'extra'; field: string; value: unknown }
  | { op: 'replace'; value: unknown }
  | { op: 'type'; value: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), value: weird }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('extra' as const),
      field: fc.constantFrom('__proto__', 'constructor', 'x', 'toString', 'hasOwnProperty'),
      value: weird,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), value: weird }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('type' as const),
      value: fc.constantFrom('JOIN', 'join ', 'message', 'joined', 'error', 'toString', '__proto__', '', 'x'.repeat(100)),
    }),
  },
);

const TEXTS = [
  '',
  ' ',
  '{',
  '}',
  'null',
  '"join"',
  '[]',
  '{"type":"join","channel":"a","since":1e400}',
  '{"type":"join","channel":"a","since":-1e-400}',
  '{"type":"ping","id":1e400}',
  '{"type":"join","type":"ping"}',
  '{"type":"ping",}',
  "{'type':'ping'}",
  '{"type":"ping"} {"type":"ping"}',
  '{"type":"ping"}\u0000',
  '\ufeff{"type":"ping"}',
  '['.repeat(1500) + ']'.repeat(1500),
  '{"a":'.repeat(600) + '1' + '}'.repeat(600),
  '{"type":"ping","id":' + '['.repeat(1000) + ']'.repeat(1000) + '}',
];

/** Most inputs start by joining a channel or two, so that publishes and leaves find them joined. */
const firstJoin = fc
  .constantFrom('a', 'b')
  .map((channel) => ({ kind: 'json' as const, value: { type: 'join', channel }, pieces: [] as number[] }));

type Request =
  | { kind: 'json'; value: unknown; pieces: number[] }
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'bad-utf8'; at: number; which: number }
  | { kind: 'too-big' };

const requestArb: fc.Arbitrary<Request> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(
        base,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant([] as Mutation[]) },
          { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) },
        ),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant([] as number[]) },
          { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 3 }) },
        ),
      )
      .map(([value, mutations, pieces]) => ({ kind: 'json' as const, value: mutate(value, mutations), pieces })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.constantFrom(...TEXTS), fc.string({ maxLength: 20 })).map((text) => ({ kind: 'text' as const, text })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad-utf8' as const), at: fc.nat(), which: fc.nat(INVALID_UTF8.length - 1) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'too-big' as const }) },
);

function mutate(value: Record<string, unknown>, mutations: readonly Mutation[]): unknown {
  let out: unknown = { ...value };
  for (const m of mutations) {
    if (m.op === 'replace') out = m.value;
    else if (typeof out !== 'object' || out === null || Array.isArray(out)) continue;
    else if (m.op === 'set' || m.op === 'extra')
      Object.defineProperty(out, m.field, { value: m.value, enumerable: true, writable: true, configurable: true });
    else if (m.op === 'delete') delete (out as Record<string, unknown>)[m.field];
    else (out as Record<string, unknown>).type = m.value;
  }
  return out;
}

// ---------------------------------------------------------------- the model

interface Model {
  prefix: string;
  epoch: string;
  joined: Set<string>;
  /** Messages published per channel in this input (the channels are new): their data, seq = index + 1. */
  published: Map<string, string[]>;
}

type Expected = { error: Set<string>; id?: unknown } | { ok: Envelope[] } | { close: number };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Record<string, unknown>, key: string) => Object.hasOwn(o, key);
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A lone UTF-16 surrogate: not valid Unicode (names with one are refused). */
const LONE_SURROGATE = /\p{Cs}/u;

function expectFor(model: Model, value: unknown): Expected {
  if (!isObject(value)) return { error: new Set(['bad_envelope']) };
  const type = value.type;
  if (typeof type !== 'string') return { error: new Set(['bad_envelope']) };
  const faults = new Set<string>();
  const idValid =
    !has(value, 'id') ||
    (typeof value.id === 'string' && value.id.length <= 64) ||
    (typeof value.id === 'number' && Number.isSafeInteger(value.id));
  if (!idValid) faults.add('bad_envelope');
  if (!['join', 'leave', 'publish', 'ping'].includes(type)) return { error: new Set([...faults, 'unknown_type']) };
  const echoId = idValid && has(value, 'id') ? value.id : undefined;
  if (type === 'ping')
    return faults.size > 0 ? { error: faults } : { ok: [{ type: 'pong', ...(echoId !== undefined ? { id: echoId } : {}) }] };
  const channel = value.channel;
  if (typeof channel !== 'string') return { error: new Set([...faults, 'bad_envelope']) };
  if (Buffer.byteLength(channel) > 256 || CONTROL.test(channel) || LONE_SURROGATE.test(channel)) faults.add('bad_channel');
  const published = model.published.get(channel) ?? [];
  const joined = model.joined.has(channel);
  if (type === 'leave') {
    if (faults.size === 0 && !joined) faults.add('not_joined');
    if (faults.size > 0) return { error: faults };
    model.joined.delete(channel);
    return { ok: [{ type: 'left', channel }] };
  }
  if (type === 'join') {
    const since = value.since;
    if (has(value, 'since') && !(typeof since === 'number' && Number.isSafeInteger(since) && since >= 0)) faults.add('bad_envelope');
    if (has(value, 'epoch') && !(typeof value.epoch === 'string' && value.epoch.length <= 64)) faults.add('bad_envelope');
    if (has(value, 'name')) {
      const n = value.name;
      if (typeof n !== 'string') faults.add('bad_envelope');
      else if (n.length > 64) faults.add('too_big');
      else if (CONTROL.test(n) || LONE_SURROGATE.test(n)) faults.add('bad_envelope');
    }
    if (faults.size === 0 && joined) faults.add('already_joined');
    if (faults.size > 0) return { error: faults };
    model.joined.add(channel);
    const latest = published.length;
    const out: Envelope[] = [];
    let from = latest;
    if (has(value, 'since')) {
      const s = since as number;
      const otherEpoch = has(value, 'epoch') && value.epoch !== model.epoch;
      if (otherEpoch || s > latest) {
        out.push({ type: 'gap', channel, from: s + 1, to: 0, reason: 'reset' });
        from = 0;
      } else from = s;
    }
    for (let seq = from + 1; seq <= latest; seq++) out.push({ type: 'message', channel, seq, data: published[seq - 1]! });
    const n = typeof value.name === 'string' ? value.name : '';
    out.push({ type: 'joined', channel, seq: latest, recovered: latest - from, presence: { count: 1, names: [n] } });
    return { ok: out };
  }
  // publish
  const d = value.data;
  if (typeof d !== 'string') faults.add('bad_envelope');
  else if (Buffer.byteLength(d) > MAX_DATA) faults.add('too_big');
  if (faults.size === 0 && !joined) faults.add('not_joined');
  if (faults.size > 0) return { error: faults, id: echoId };
  const text = Buffer.from(d as string).toString();
  published.push(text);
  model.published.set(channel, published);
  const out: Envelope[] = [{ type: 'message', channel, seq: published.length, data: text }];
  if (echoId !== undefined) out.push({ type: 'ack', id: echoId, channel, seq: published.length });
  return { ok: out };
}

/** The channel names of a base envelope get the input's prefix, so that every input has new channels. */
function prefixed(model: Model, value: unknown): unknown {
  if (!isObject(value) || typeof value.channel !== 'string') return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    Object.defineProperty(copy, key, { value: value[key], enumerable: true, writable: true, configurable: true });
  copy.channel = model.prefix + value.channel;
  if (copy.epoch === 'EPOCH') copy.epoch = model.epoch;
  return copy;
}

/** Whether what came (`got`) is what the model said, the fields the model names compared exactly. */
function matches(expected: Envelope, got: Envelope): boolean {
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(got[key]) !== JSON.stringify(value)) return false;
  }
  if (got.type === 'message' && typeof got.time !== 'number') return false;
  return true;
}

// ---------------------------------------------------------------- the target

function describe(request: Request, value?: unknown): string {
  const text = request.kind === 'json' ? JSON.stringify(value) : request.kind === 'text' ? JSON.stringify(request.text) : request.kind;
  return (text ?? 'undefined').slice(0, 300);
}

export const relayV1Target: Target = {
  name: 'relay-v1',
  about:
    'wavecast.v1 envelopes to an in-process relay, valid and mutated (wrong shapes and types, huge, negative, fractional and -0 numbers, deep nesting, unknown types), text that is not JSON, binary and fragmented messages, invalid UTF-8, messages over maxPayload; after each, exactly the answer docs/protocol.md gives (a typed error naming one of its faults, pong, left, gap + replay + joined, message + ack) or 1007/1009',
  weight: 0.02,
  property: (stats: FuzzStats) =>
    fc.asyncProperty(fc.array(firstJoin, { maxLength: 2 }), fc.array(requestArb, { minLength: 1, maxLength: 8 }), async (joins, rest) => {
      const requests = [...joins, ...rest];
      const r = await relay.get();
      const model: Model = { prefix: `f${++inputId}:`, epoch: r.relay.history.epoch, joined: new Set(), published: new Map() };
      const client = await RawV1.open(r.port);
      let outcome = 'open';
      try {
        for (const request of requests) {
          let expected: Expected;
          let value: unknown;
          if (request.kind === 'json') {
            value = prefixed(model, request.value);
            const bytes = Buffer.from(JSON.stringify(value) ?? 'null');
            if (request.pieces.length === 0) client.sendFrame(1, bytes);
            else {
              let offset = 0;
              for (const [i, size] of request.pieces.entries()) {
                client.sendFrame(i === 0 ? 1 : 0, bytes.subarray(offset, offset + size), false);
                offset = Math.min(bytes.length, offset + size);
              }
              client.sendFrame(0, bytes.subarray(offset));
            }
            expected = bytes.length > MAX_PAYLOAD ? { close: 1009 } : expectFor(model, JSON.parse(bytes.toString()));
          } else if (request.kind === 'text') {
            client.sendFrame(1, Buffer.from(request.text));
            try {
              value = JSON.parse(request.text);
              expected = expectFor(model, value);
            } catch {
              expected = { error: new Set(['bad_json']) };
            }
          } else if (request.kind === 'binary') {
            client.sendFrame(2, Buffer.from(request.bytes));
            expected = { error: new Set(['binary_frame']) };
          } else if (request.kind === 'bad-utf8') {
            const text = Buffer.from('{"type":"ping","id":"ab€"}');
            const at = request.at % (text.length + 1);
            const bytes = Buffer.concat([text.subarray(0, at), Buffer.from(INVALID_UTF8[request.which]!), text.subarray(at)]);
            if (isUtf8(bytes)) fail('the invalid sequence made valid UTF-8');
            client.sendFrame(1, bytes);
            expected = { close: 1007 };
          } else {
            client.sendFrame(1, Buffer.alloc(MAX_PAYLOAD + 1, 0x20));
            expected = { close: 1009 };
          }
          await client.barrier();
          const got = client.take();
          const what = describe(request, value);
          if ('close' in expected) {
            await client.until(() => client.closeCode !== null, 'close');
            if (client.closeCode !== expected.close) fail(`closed with ${client.closeCode} where ${expected.close} was due, after ${what}`);
            outcome = `close:${expected.close}`;
            stats.outcomes.set(`relay-v1 ${outcome}`, (stats.outcomes.get(`relay-v1 ${outcome}`) ?? 0) + 1);
            break;
          }
          if (client.closeCode !== null) fail(`closed with ${client.closeCode} after ${what}`);
          if ('error' in expected) {
            const e = got[0];
            if (got.length !== 1 || e?.type !== 'error' || !expected.error.has(e.code as string)) {
              fail(`after ${what}: ${JSON.stringify(got).slice(0, 500)} where one error of ${[...expected.error].join('/')} was due`);
            }
            if (typeof e.message !== 'string' || e.message === '') fail(`an error without a message: ${JSON.stringify(e)}`);
            if (expected.id !== undefined && e.id !== expected.id)
              fail(`error ${JSON.stringify(e)} does not echo the id ${JSON.stringify(expected.id)}`);
            outcome = `error:${e.code as string}`;
          } else {
            const ok = expected.ok;
            if (got.length !== ok.length || !ok.every((x, i) => matches(x, got[i]!))) {
              fail(`after ${what}:\n got      ${JSON.stringify(got).slice(0, 800)}\n expected ${JSON.stringify(ok).slice(0, 800)}`);
            }
            outcome = ok.at(-1)!.type;
          }
          const key = `relay-v1 ${outcome}`;
          stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
        }
        if (client.problems.length > 0) fail(client.problems.join('; '));
        checkRelayLog(r);
      } finally {
        await client.destroy();
      }
      stats.inputs++;
      stats.onInput?.();
    }),
  dispose: () => relay.stop(),
};
