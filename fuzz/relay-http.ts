// The `relay-http` fuzz target: raw HTTP requests to an in-process relay's channel routes
// (POST /channels/<name>/messages, GET and HEAD with ?since=), built from parts that are each valid or
// not: the method, the channel name (unicode, '..', '//', empty, very long, control characters,
// percent-encoding with invalid escapes), the query, Content-Type (charsets, case, junk), the body's
// framing (Content-Length right, short, long, junk, repeated, none; chunked, chunked and broken; both),
// bodies up to twice maxPayload, Expect, a missing Host, extra headers; now and then byte mutations of the
// head; sent in writes cut anywhere. Every request gets a well-formed answer with the status an
// independent statement of the routes gives (or, where Node's HTTP parser refuses the request, its 400),
// never a 5xx, never a hang; a body that never ends gets an early refusal or no answer; a bystander
// wavecast.v1 client keeps being served and gets every message published to its channel, in order.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { byteMutation } from './arbitraries.js';
import { checkRelayLog, exchange, fail, RawV1, sharedRelay, type Exchange } from './relay-harness.js';
import type { FuzzStats, Target } from './targets.js';
import { applyByteMutations, chunksOf } from './wire.js';

const MAX_PAYLOAD = 2048;
const relay = sharedRelay({ maxPayload: MAX_PAYLOAD, historyLimit: 20 });
let bystander: RawV1 | null = null;
/** The bystander's channel's messages published by the fuzzer (seq → data) and its last seq seen. */
const bystanderSent = new Map<number, string | null>();
let bystanderSeen = 0;
/**
 * Bodies published to the bystander's channel whose answer was lost: a request followed by bytes that are
 * not a request is published, but Node answers the bytes with 400 and closes before the relay's 200.
 */
const bystanderMaybe: string[] = []; // '*': any data

// ---------------------------------------------------------------- the inputs

const rawName = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '//',
      'a/b',
      'a/../b',
      '../..',
      'a b',
      '%',
      'a?b',
      'a#b',
      'messages',
      'channels/x',
      'bystander',
      'lobby',
      'é',
      '€',
      '𝄞',
      '\u0000',
      '\u001f',
      '\u007f',
      '\t',
      '\r\n',
      'a\u0085b',
      '\u2028',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 250, max: 262 }), fc.constantFrom('x', 'é', '€', '𝄞'))
      .map(([n, c]) => c.repeat(Math.ceil(n / Buffer.byteLength(c)))),
  },
);

const INSERTS = [
  '%',
  '%G1',
  '%4',
  '%E2%82',
  '%ED%A0%80',
  '%C0%AF',
  '%FF',
  '%00',
  '%7F',
  '%2F',
  '%25',
  '%2e%2e',
  '//',
  '/..',
  '/',
  '%20',
  '%F0%9D%84%9E',
];

const nameSpec = fc.record({
  raw: rawName,
  /** component: encodeURIComponent; path: segments encoded, '/' kept. */
  encoding: fc.constantFrom('component', 'path'),
  inserts: fc.oneof(
    { weight: 2, arbitrary: fc.constant([] as Array<[number, string]>) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INSERTS)), { minLength: 1, maxLength: 2 }) },
  ),
});

const sinceValue = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 40 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '-1',
      '1.5',
      'NaN',
      'Infinity',
      '1e3',
      '0x10',
      '+1',
      '%31',
      '%2B1',
      '007',
      ' 1',
      '1 ',
      '１',
      '9'.repeat(15),
      '9'.repeat(16),
      '9007199254740991',
      '9007199254740992',
      '1'.repeat(40),
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(encodeURIComponent) },
);

const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 5, arbitrary: sinceValue.map((v) => `?since=${v}`) },
  { weight: 1, arbitrary: fc.tuple(sinceValue, sinceValue).map(([a, b]) => `?since=${a}&since=${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('?', '?since', '?x=1', '?since=2#frag', '?&since=3', '?since=%', '?since=%zz') },
);

const METHODS = ['GET', 'GET', 'HEAD', 'POST', 'POST', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'post', 'P0ST', 'GETX'];

const CONTENT_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'TEXT/PLAIN; CHARSET=UTF-8',
  'text/plain; charset="utf-8"',
  'text/plain; charset="UTF8"',
  'text/plain;charset=us-ascii',
  'text/plain; charset="us-ascii"',
  'text/plain; charset=latin1',
  'text/plain; charset=',
  'text/plain; charset',
  'text/plain;;',
  'application/json',
  'application/ld+json',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'image/png',
  '',
  ';',
  'text',
  'text/',
];

const body = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(MAX_PAYLOAD - 1, MAX_PAYLOAD, MAX_PAYLOAD + 1, 2 * MAX_PAYLOAD).map((n) => Buffer.alloc(n, 0x61)),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

type Framing =
  | { kind: 'length' | 'none' | 'cl+te' | 'dup-same' | 'dup-diff' }
  | { kind: 'short' | 'long'; by: number }
  | { kind: 'junk'; value: string }
  | { kind: 'chunked'; sizes: number[]; broken: 'no' | 'size' | 'end' };

const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'length' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('chunked' as const),
      sizes: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 4 }),
      broken: fc.constantFrom('no' as const, 'no' as const, 'size' as const, 'end' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { kind: 'none' as const },
      { kind: 'cl+te' as const },
      { kind: 'dup-same' as const },
      { kind: 'dup-diff' as const },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('short' as const, 'long' as const), by: fc.integer({ min: 1, max: 40 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('junk' as const),
      value: fc.constantFrom('abc', '-1', '1.5', '0x10', '1e3', '', '99999999999999999999', '18446744073709551616', '1,2'),
    }),
  },
);

/** `arb` `weight` times in `weight + nulls`, null otherwise. */
function sometimes<T>(weight: number, nulls: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight, arbitrary: arb }, { weight: nulls, arbitrary: fc.constant(null) });
}

const requestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  name: nameSpec,
  query,
  /** Now and then another route: the path as given. */
  otherPath: sometimes(
    1,
    8,
    fc.constantFrom(
      '/channels/',
      '/channels',
      '/channels/x/messages/',
      '/channels/x/message',
      '/channels/messages',
      '/healthz',
      '/metrics',
      '/',
      '/nowhere',
      '/chat.js',
      '*',
      'http://127.0.0.1/channels/a/messages',
    ),
  ),
  contentType: sometimes(
    4,
    1,
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }),
  ),
  body,
  framing,
  expect: sometimes(1, 6, fc.constantFrom('100-continue', '100-Continue', 'junk')),
  dropHost: fc.integer({ min: 0, max: 29 }).map((n) => n === 0),
  extra: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), fc.string({ maxLength: 30 })), { maxLength: 3 }),
  headMutations: sometimes(1, 10, fc.array(byteMutation, { minLength: 1, maxLength: 2 })),
  sizes: fc.oneof(
    { weight: 5, arbitrary: fc.constant([] as number[]) },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }) },
  ),
});
type RequestSpec = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- building a request

function encodeName(spec: RequestSpec['name']): string {
  let encoded: string;
  try {
    encoded = spec.encoding === 'component' ? encodeURIComponent(spec.raw) : spec.raw.split('/').map(encodeURIComponent).join('/');
  } catch {
    encoded = spec.raw; // a lone surrogate: sent as it is (lenient case, see below)
  }
  for (const [at, insert] of spec.inserts) {
    const i = at % (encoded.length + 1);
    encoded = encoded.slice(0, i) + insert + encoded.slice(i);
  }
  return encoded;
}

interface Built {
  bytes: Buffer;
  /** The head's length in `bytes` (byte mutations stay inside it). */
  headLength: number;
  target: string;
  /** The body the relay reads (by the framing), or null when it never ends. */
  received: Buffer | null;
  declared: string | undefined;
}

function build(r: RequestSpec): Built {
  const target = r.otherPath ?? `/channels/${encodeName(r.name)}/messages${r.query}`;
  const lines = [`${r.method} ${target} HTTP/1.1`];
  if (!r.dropHost) lines.push('Host: 127.0.0.1');
  if (r.contentType !== null) lines.push(`Content-Type: ${r.contentType}`);
  for (const [name, value] of r.extra) lines.push(`X-${name}: ${value.replace(/[\r\n]/g, ' ')}`);
  if (r.expect !== null) lines.push(`Expect: ${r.expect}`);
  const b = r.body;
  let payload = b;
  let received: Buffer | null = b;
  let declared: string | undefined;
  const f = r.framing;
  switch (f.kind) {
    case 'length':
      declared = String(b.length);
      break;
    case 'none':
      received = Buffer.alloc(0);
      break;
    case 'short':
      declared = String(Math.max(0, b.length - f.by));
      received = b.subarray(0, Number(declared));
      break;
    case 'long':
      declared = String(b.length + f.by);
      received = null;
      break;
    case 'junk':
      declared = f.value;
      received = null;
      break;
    case 'dup-same':
    case 'dup-diff':
      declared = String(b.length);
      lines.push(`Content-Length: ${f.kind === 'dup-same' ? b.length : b.length + 1}`);
      break;
    case 'cl+te':
      declared = String(b.length);
      lines.push('Transfer-Encoding: chunked');
      break;
    case 'chunked': {
      lines.push('Transfer-Encoding: chunked');
      const parts: Buffer[] = [];
      let offset = 0;
      for (const size of [...f.sizes, b.length]) {
        if (offset >= b.length) break;
        const piece = b.subarray(offset, offset + size);
        offset += piece.length;
        parts.push(
          Buffer.from(`${f.broken === 'size' && parts.length === 0 ? 'zz' : piece.length.toString(16)}\r\n`),
          piece,
          Buffer.from('\r\n'),
        );
      }
      if (f.broken !== 'end') parts.push(Buffer.from('0\r\n\r\n'));
      payload = Buffer.concat(parts);
      received = f.broken === 'end' || (f.broken === 'size' && b.length > 0) ? null : b;
      break;
    }
  }
  if (declared !== undefined) lines.push(`Content-Length: ${declared}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return { bytes: Buffer.concat([head, payload]), headLength: head.length, target, received, declared };
}

// ---------------------------------------------------------------- what the relay must answer

/** Percent-decoding as RFC 3986 says, then UTF-8: null when an escape is malformed or the bytes are not UTF-8. */
function percentDecode(text: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else return null; // not sent: see `plainAscii`
  }
  const buffer = Buffer.from(bytes);
  return isUtf8(buffer) ? buffer.toString() : null;
}

/** The documented channel rules: at most 256 bytes of UTF-8, no C0 control characters, no DEL. */
function channelOk(name: string): boolean {
  return Buffer.byteLength(name) <= 256 && !/[\u0000-\u001f\u007f]/.test(name);
}

/** Whether the body's Content-Type makes it text (text/*, JSON) and whether its charset is UTF-8 (or ASCII). */
function textKind(contentType: string | null): 'text' | 'binary' | 'bad-charset' {
  if (contentType === null) return 'binary';
  const [type = '', ...params] = contentType.split(';');
  const mime = type.trim().toLowerCase();
  const text = mime.startsWith('text/') || mime === 'application/json' || mime.endsWith('+json');
  if (!text) return 'binary';
  for (const param of params) {
    const eq = param.indexOf('=');
    const key = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
    if (key !== 'charset') continue;
    let value = eq === -1 ? '' : param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!['utf-8', 'utf8', 'us-ascii'].includes(value.toLowerCase())) return 'bad-charset';
  }
  return 'text';
}

interface Expectation {
  /** Statuses the first final answer may have. */
  statuses: Set<number>;
  /** Whether no answer at all (the connection closed) is right. */
  silent: boolean;
  /** Checks of a 200's body. */
  channel?: string;
  kind?: 'publish' | 'history';
  /** Anything but a 5xx (the head was mutated, or holds bytes no client sends). */
  lenient?: boolean;
}

function expectation(r: RequestSpec, built: Built): Expectation {
  const nodeRefuses = (extra: number[] = []): Expectation => ({ statuses: new Set([400, ...extra]), silent: true });
  if (r.headMutations !== null || /[^\x21-\x7e]/.test(built.target)) return { statuses: new Set(), silent: true, lenient: true };
  // What Node's HTTP parser refuses (400) before the relay sees the request: a method it does not know,
  // a Content-Length that is not a number, two that differ, Content-Length with chunked, a bad chunk size.
  const f = r.framing;
  const parseError =
    !['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].includes(r.method) ||
    f.kind === 'junk' ||
    f.kind === 'cl+te' ||
    f.kind === 'dup-diff';
  // A Content-Length too large to parse may be refused by Node, or by the relay (413).
  if (parseError) return nodeRefuses(f.kind === 'junk' ? [413] : []);
  // Then Node's checks of a parsed request: Host (400), Expect (417).
  const nodeChecks: number[] = [];
  if (r.dropHost) nodeChecks.push(400);
  if (r.expect !== null && r.expect.toLowerCase() !== '100-continue') nodeChecks.push(417);
  if (f.kind === 'dup-same') nodeChecks.push(400);
  if (nodeChecks.length > 0 && f.kind !== 'dup-same') return { statuses: new Set(nodeChecks), silent: false };

  const e = routeAnswer(r, built);
  // A bad chunk size is found after the head: a route that answers without reading the body answers first.
  if (f.kind === 'chunked' && f.broken === 'size' && r.body.length > 0) {
    e.statuses.add(400);
    e.silent = true;
  }
  // More bytes than the body (none, short): Node may refuse them as the next request before the answer.
  if (f.kind === 'none' || f.kind === 'short') {
    if (built.received!.length < r.body.length) {
      e.statuses.add(400);
      e.silent = true;
    }
  }
  for (const status of nodeChecks) e.statuses.add(status);
  return e;
}

/** The relay's own answer, from the routes as documented. */
function routeAnswer(r: RequestSpec, built: Built): Expectation {
  const target = built.target;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q + 1);
  const isRead = r.method === 'GET' || r.method === 'HEAD';
  const prefix = '/channels/';
  const suffix = '/messages';
  if (!(path.startsWith(prefix) && path.endsWith(suffix) && path.length >= prefix.length + suffix.length)) {
    // Other routes: any definite 2xx/4xx (checked more closely by the relay's own tests).
    return { statuses: new Set([200, 400, 404, 405, 426]), silent: false };
  }
  const decoded = percentDecode(path.slice(prefix.length, -suffix.length));
  const good = decoded !== null && channelOk(decoded);
  const never = built.received === null; // the body never ends: only an early answer comes
  if (isRead) {
    if (!good) return { statuses: new Set([400]), silent: false };
    const raw = new URLSearchParams(search).get('since') ?? '0';
    const sinceOk = /^[0-9]+$/.test(raw) && Number.isSafeInteger(Number(raw));
    return sinceOk
      ? { statuses: new Set([200]), silent: false, channel: decoded, kind: 'history' }
      : { statuses: new Set([400]), silent: false };
  }
  if (r.method !== 'POST') return { statuses: new Set([405]), silent: false };
  if (!good) return { statuses: new Set([400]), silent: false };
  const kind = textKind(r.contentType);
  if (kind === 'bad-charset') return { statuses: new Set([415]), silent: false };
  if (built.declared !== undefined && /^\d+$/.test(built.declared) && Number(built.declared) > MAX_PAYLOAD)
    return { statuses: new Set([413]), silent: false };
  // A body that never ends (we half-close): an early 413, Node's 400 for the cut request, or no answer.
  if (never) return { statuses: new Set(r.body.length > MAX_PAYLOAD ? [413, 400] : [400]), silent: true };
  const received = built.received!;
  if (received.length > MAX_PAYLOAD) return { statuses: new Set([413]), silent: false };
  if (kind === 'text' && !isUtf8(received)) return { statuses: new Set([400]), silent: false };
  return { statuses: new Set([200]), silent: false, channel: decoded, kind: 'publish' };
}

// ---------------------------------------------------------------- the target

function describe(built: Built): string {
  const text = built.bytes.toString('latin1');
  return JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}… (${text.length} bytes)` : text);
}

function check(r: RequestSpec, built: Built, e: Expectation, x: Exchange): string {
  if (x.malformed !== null) fail(`a malformed answer (${x.malformed}) to ${describe(built)}`);
  const final = x.answers.find((a) => a.status >= 200 || a.status === 101);
  if (final?.status !== 200 && e.kind === 'publish' && e.channel === 'bystander') {
    bystanderMaybe.push(built.received!.toString(textKind(r.contentType) === 'text' ? 'utf8' : 'base64'));
  }
  if (final === undefined) {
    if (!e.silent) fail(`no answer (closed: ${x.closed}) where ${[...e.statuses].join('/')} was due, to ${describe(built)}`);
    return 'closed';
  }
  if (final.status >= 500) fail(`${final.status} ${final.body.toString().slice(0, 200)} to ${describe(built)}`);
  // A mutated head may hold a publish to the bystander's channel whose answer is lost or is not the
  // first (the bytes repeated, say): the bystander may get a message nobody was told of.
  if (e.lenient && built.bytes.includes('bystander')) bystanderMaybe.push('*');
  if (e.lenient) {
    // A mutated head may still be a publish to the bystander's channel: the bystander must get it too.
    if (final.status === 200 && /"channel":"bystander","seq":(\d+)/.test(final.body.toString()))
      bystanderSent.set(Number(/"seq":(\d+)/.exec(final.body.toString())![1]), null);
    return `lenient ${final.status}`;
  }
  if (!e.statuses.has(final.status)) {
    fail(
      `${final.status} (${final.body.toString().slice(0, 200).trim()}) where ${[...e.statuses].join('/') || 'no answer'} was due, to ${describe(built)}`,
    );
  }
  if (final.status === 200 && e.kind !== undefined && r.method !== 'HEAD') {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(final.body.toString()) as Record<string, unknown>;
    } catch {
      return fail(`a 200 whose body is not JSON: ${final.body.toString().slice(0, 200)}`);
    }
    if (json.channel !== e.channel)
      fail(`answered for channel ${JSON.stringify(json.channel)} where ${JSON.stringify(e.channel)} was named, by ${describe(built)}`);
    if (e.kind === 'publish') {
      if (!Number.isSafeInteger(json.seq) || (json.seq as number) < 1 || !Number.isSafeInteger(json.delivered))
        fail(`publish answer ${JSON.stringify(json)}`);
      if (e.channel === 'bystander')
        bystanderSent.set(json.seq as number, built.received!.toString(textKind(r.contentType) === 'text' ? 'utf8' : 'base64'));
    } else if (!Array.isArray(json.messages) || typeof json.latest !== 'number' || typeof json.epoch !== 'string') {
      fail(`history answer ${JSON.stringify(json).slice(0, 300)}`);
    }
  }
  return String(final.status);
}

/** The bystander answers its pings and has every message published to its channel, in order, once. */
async function checkBystander(port: number): Promise<void> {
  if (bystander === null || bystander.closeCode !== null) {
    if (bystander !== null) fail(`the bystander was closed with ${bystander.closeCode}`);
    bystander = await RawV1.open(port);
    bystander.sendJson({ type: 'join', channel: 'bystander', name: 'bystander' });
    bystanderSeen = -1;
  }
  await bystander.barrier();
  if (bystander.closeCode !== null) fail(`the bystander was closed with ${bystander.closeCode}`);
  for (const e of bystander.take()) {
    if (e.type === 'joined') {
      if (bystanderSeen === -1) bystanderSeen = e.seq as number;
      continue;
    }
    if (e.type !== 'message') continue;
    if (e.seq !== bystanderSeen + 1) fail(`the bystander got seq ${String(e.seq)} after ${bystanderSeen}`);
    bystanderSeen++;
    const sent = bystanderSent.get(bystanderSeen);
    const exact = sent === undefined ? bystanderMaybe.indexOf(e.data as string) : -1;
    const maybe = sent === undefined && exact === -1 ? bystanderMaybe.indexOf('*') : exact;
    if (maybe !== -1) {
      bystanderMaybe.splice(maybe, 1);
      continue;
    }
    if (sent === undefined || (sent !== null && sent !== e.data))
      fail(`the bystander got ${JSON.stringify(e).slice(0, 200)}; published: ${JSON.stringify(sent)?.slice(0, 200)}`);
    bystanderSent.delete(bystanderSeen);
  }
  if (bystanderSent.size > 0) fail(`the bystander never got seq ${[...bystanderSent.keys()].join(', ')}`);
  // What might have been published and has not come by now (after the barrier) was not published.
  bystanderMaybe.length = 0;
  if (bystander.problems.length > 0) fail(bystander.problems.join('; '));
}

export const relayHttpTarget: Target = {
  name: 'relay-http',
  about:
    "raw HTTP requests to the relay's channel routes (methods, channel names with bad percent-encoding, .., //, unicode, control characters, 300 bytes; ?since= junk; Content-Type and charsets; Content-Length right, short, long, junk, repeated; chunked, broken; bodies up to 2×maxPayload; Expect; no Host; head mutations; cut anywhere): a well-formed answer with the documented status (or Node's 400), never a 5xx or a hang; a bystander keeps getting its channel",
  weight: 0.05,
  property: (stats: FuzzStats) =>
    fc.asyncProperty(requestArb, async (r) => {
      const relayUnderTest = await relay.get();
      const built = build(r);
      const head = built.bytes.subarray(0, built.headLength);
      const bytes =
        r.headMutations === null
          ? built.bytes
          : Buffer.concat([applyByteMutations(head, r.headMutations), built.bytes.subarray(built.headLength)]);
      const e = expectation(r, built);
      const x = await exchange(relayUnderTest.port, chunksOf(bytes, r.sizes), {
        halfClose: built.received === null || e.lenient === true,
        head: r.method === 'HEAD',
      });
      const outcome = check(r, { ...built, bytes }, e, x);
      checkRelayLog(relayUnderTest);
      await checkBystander(relayUnderTest.port);
      const key = `relay-http ${outcome}`;
      stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
      stats.inputs++;
      stats.onInput?.();
    }),
  async dispose() {
    await bystander?.destroy();
    bystander = null;
    bystanderSent.clear();
    bystanderMaybe.length = 0;
    await relay.stop();
  },
};
