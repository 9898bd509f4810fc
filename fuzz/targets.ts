// The fuzz targets: each is a fast-check property over generated and mutated inputs, with counters of
// what happened (outcomes per close code or status, sizes), so that the same property runs a few hundred
// times in `npm test` and millions of times in `npm run fuzz`.
import { isUtf8 } from 'node:buffer';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { ProtocolError } from '../src/protocol/parser.js';
import { encodeFrame } from '../src/protocol/frame.js';
import {
  checkUpgradeRequest,
  errorResponse,
  formatExtensions,
  isToken,
  isValidKey,
  parseExtensions,
  parseTokenList,
  type ExtensionOffer,
  type RequestLike,
} from '../src/protocol/handshake.js';
import {
  acceptDeflateResponse,
  deflateOffer,
  negotiateDeflateAsServer,
  resolveDeflateOptions,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../src/protocol/deflate.js';
import { createDeflateCompression, zlibActivity, type DeflateCodec } from '../src/connection/deflate-codec.js';
import { byteMutation, chunkSizes, frameMutation, maskKey, parserOptions, textPayload, validStream } from './arbitraries.js';
import { clientHandshakeTarget } from './client-handshake.js';
import { connectionTarget } from './connection.js';
import { relayHttpTarget } from './relay-http.js';
import { relayReplayTarget } from './relay-replay.js';
import { relayV1Target } from './relay-v1.js';
import { describeEvent, eventsEqual, ownChunk, runParser, sameEvents, type ParserRun } from './parser-oracle.js';
import {
  INVALID_UTF8,
  applyByteMutations,
  applyFrameMutations,
  chunksOf,
  cutPayload,
  encodeSpecs,
  planEvents,
  planFrames,
  type FrameSpec,
} from './wire.js';

export interface FuzzStats {
  inputs: number;
  /** How inputs ended, per target: `parser-mutate error:1002`, `handshake 426`, `inflate 1009`... */
  outcomes: Map<string, number>;
  maxMessage: number;
  maxHeld: number;
  maxRetained: number;
  /** Called after each input (the runner prints progress from it). */
  onInput?: () => void;
}

export function createStats(): FuzzStats {
  return { inputs: 0, outcomes: new Map(), maxMessage: 0, maxHeld: 0, maxRetained: 0 };
}

function count(stats: FuzzStats, target: string, outcome: string): void {
  const key = `${target} ${outcome}`;
  stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
  stats.inputs++;
  stats.onInput?.();
}

function noteRun(stats: FuzzStats, run: ParserRun): void {
  stats.maxMessage = Math.max(stats.maxMessage, run.maxMessage);
  stats.maxHeld = Math.max(stats.maxHeld, run.maxHeld);
  stats.maxRetained = Math.max(stats.maxRetained, run.maxRetained);
}

function fail(message: string): never {
  throw new Error(message);
}

function checkRun(run: ParserRun, what: string): void {
  if (run.violations.length > 0) fail(`${what}: ${run.violations.join('; ')}`);
}

function describeAll(run: ParserRun): string {
  return run.events.map(describeEvent).join(' | ').slice(0, 2000);
}

export interface Target {
  name: string;
  /** What it feeds and what it checks, for the runner's help and summary. */
  about: string;
  /** Share of the inputs of a fuzz run. */
  weight: number;
  /** Each target has its own tuple of generated arguments. */
  property(stats: FuzzStats): fc.IRawProperty<any>;
  /** Releases what the target started for its inputs (a server, connections), once it has run. */
  dispose?(): Promise<void>;
}

// ---------------------------------------------------------------- the frame parser

const parserRoundtrip: Target = {
  name: 'parser-roundtrip',
  about: 'valid streams of every frame shape, encoded by encodeFrame and cut anyhow, parse to exactly the messages sent',
  weight: 2,
  property: (stats) =>
    fc.property(fc.boolean(), maskKey, validStream(true), chunkSizes, fc.boolean(), (masked, key, items, sizes, atLimit) => {
      const specs = planFrames(items, masked ? key : null);
      const bytes = Buffer.concat(
        specs.flatMap((s) =>
          encodeFrame(s.payload, { opcode: s.opcode, fin: s.fin, rsv1: s.rsv === 4, maskKey: s.maskKey ? Buffer.from(s.maskKey) : null }),
        ),
      );
      const expected = planEvents(items);
      let largest = 0;
      for (const e of expected) if (e.type === 'message') largest = Math.max(largest, e.data.length);
      // maxPayload either off or exactly the largest message: a message of maxPayload bytes is accepted.
      const options = { expectMasked: masked, allowRsv1: true, maxPayload: atLimit ? Math.max(1, largest) : 0 };
      const whole = runParser([ownChunk(bytes)], options);
      const split = runParser(chunksOf(bytes, sizes).map(ownChunk), options);
      checkRun(whole, 'whole');
      checkRun(split, 'split');
      noteRun(stats, split);
      if (!eventsEqual(whole.events, expected))
        fail(`whole stream: expected ${expected.map(describeEvent).join(' | ')}, got ${describeAll(whole)}`);
      if (!eventsEqual(split.events, expected)) fail(`split ${sizes.join(',')}: got ${describeAll(split)}`);
      count(stats, 'parser-roundtrip', whole.outcome);
    }),
};

const parserMutate: Target = {
  name: 'parser-mutate',
  about:
    'valid streams with frame mutations (opcode, FIN, RSV, mask, declared length, length encoding, drop, duplicate, swap, insert, split, bad UTF-8) then byte mutations (bit flips, set, truncate, delete, insert, splice, repeat); no throw, codes 1002/1007/1009 only, silence after an error or close, same events for any split',
  weight: 6,
  property: (stats) =>
    fc.property(
      parserOptions,
      maskKey,
      validStream(true),
      fc.array(frameMutation, { maxLength: 4 }),
      fc.array(byteMutation, { maxLength: 3 }),
      chunkSizes,
      (options, key, items, frameMutations, byteMutations, sizes) => {
        const frames = applyFrameMutations(planFrames(items, options.expectMasked ? key : null), frameMutations);
        const bytes = applyByteMutations(encodeSpecs(frames), byteMutations);
        const whole = runParser([ownChunk(bytes)], options);
        const split = runParser(chunksOf(bytes, sizes).map(ownChunk), options);
        checkRun(whole, 'whole');
        checkRun(split, 'split');
        noteRun(stats, whole);
        noteRun(stats, split);
        if (!sameEvents(whole, split))
          fail(`split ${sizes.join(',')} differs:\n whole: ${describeAll(whole)}\n split: ${describeAll(split)}`);
        count(stats, 'parser-mutate', whole.outcome);
      },
    ),
};

const parserNoise: Target = {
  name: 'parser-noise',
  about: 'random bytes, alone or after a valid frame header; same promises as parser-mutate',
  weight: 1,
  property: (stats) =>
    fc.property(
      parserOptions,
      fc.uint8Array({ maxLength: 600 }),
      fc.integer({ min: 0, max: 255 }),
      chunkSizes,
      (options, noise, first, sizes) => {
        const bytes = Buffer.concat([Buffer.from([first]), Buffer.from(noise)]);
        const whole = runParser([ownChunk(bytes)], options);
        const split = runParser(chunksOf(bytes, sizes).map(ownChunk), options);
        checkRun(whole, 'whole');
        checkRun(split, 'split');
        noteRun(stats, whole);
        if (!sameEvents(whole, split))
          fail(`split ${sizes.join(',')} differs:\n whole: ${describeAll(whole)}\n split: ${describeAll(split)}`);
        count(stats, 'parser-noise', whole.outcome);
      },
    ),
};

const parserUtf8: Target = {
  name: 'parser-utf8',
  about:
    'a fragmented text message with an invalid UTF-8 sequence at a random position: 1007 whenever the whole is not UTF-8, the message otherwise',
  weight: 1,
  property: (stats) =>
    fc.property(
      textPayload,
      fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 8 }),
      fc.nat(),
      fc.nat(INVALID_UTF8.length - 1),
      chunkSizes,
      (text, cuts, pos, seq, sizes) => {
        const at = pos % (text.length + 1);
        const payload = Buffer.concat([text.subarray(0, at), Buffer.from(INVALID_UTF8[seq]!), text.subarray(at)]);
        const pieces = cutPayload(payload, cuts);
        const frames: FrameSpec[] = pieces.map((piece, i) => ({
          opcode: i === 0 ? 1 : 0,
          fin: i === pieces.length - 1,
          rsv: 0,
          maskKey: [1, 2, 3, 4],
          payload: piece,
        }));
        const bytes = encodeSpecs(frames);
        const run = runParser(chunksOf(bytes, sizes).map(ownChunk), { expectMasked: true });
        checkRun(run, 'utf8');
        const valid = isUtf8(payload);
        const last = run.events.at(-1);
        if (valid ? last?.type !== 'message' : !(last?.type === 'error' && last.closeCode === 1007) || run.events.length !== 1) {
          fail(`payload ${payload.toString('hex')} (valid: ${valid}) gave ${describeAll(run)}`);
        }
        count(stats, 'parser-utf8', run.outcome);
      },
    ),
};

// ---------------------------------------------------------------- the opening handshake

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const headerName = fc.constantFrom(
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
);
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    ',',
    ',,',
    'websocket',
    'WebSocket',
    'upgrade',
    'keep-alive, Upgrade',
    '13',
    ' 13 ',
    '8',
    '13, 8',
    KEY,
    ` ${KEY} `,
    KEY.slice(1),
    KEY + 'A',
    'dGhlIHNhbXBsZSBub25jZQ=',
    'chat',
    'chat, chat',
    'a b',
    'x'.repeat(5000),
  ),
);
const headerValue: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 3, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.array(hostileText, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const requestArb: fc.Arbitrary<RequestLike> = fc
  .record({
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constant('GET') },
      { weight: 1, arbitrary: fc.constantFrom('POST', 'get', 'HEAD', 'CONNECT', '') },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    edits: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
  })
  .map(({ method, edits }) => {
    const headers: Record<string, string | string[] | undefined> = {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-version': '13',
      'sec-websocket-key': KEY,
    };
    for (const [name, value] of edits) headers[name] = value;
    return { method, headers };
  });

/**
 * The rules of RFC 6455 4.2.1 as `ws` applies them, stated again independently: the status a request must
 * get (101 when it may upgrade). The method first, then the Upgrade header (the value "websocket" in any
 * case), the key, the version (13 or 8), the subprotocols; neither the HTTP version nor the Connection
 * header is looked at here (node:http, or our own head reader, only hands on upgrades that have it).
 */
function expectedStatus(req: RequestLike): number {
  const get = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  if (req.method !== undefined && req.method !== 'GET') return 405;
  if (get('upgrade')?.toLowerCase() !== 'websocket') return 400;
  const key = get('sec-websocket-key');
  if (key === undefined || !/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key)) return 400;
  const version = Number(get('sec-websocket-version'));
  if (version !== 13 && version !== 8) return 400;
  const protocols = get('sec-websocket-protocol');
  if (protocols !== undefined) {
    const items = protocols
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    if (items.length === 0 || new Set(items).size !== items.length || !items.every(isToken)) return 400;
  }
  return 101;
}

const handshake: Target = {
  name: 'handshake',
  about:
    'opening-handshake requests with mutated method, version and headers (missing, repeated, odd case and spacing, junk, 5000-byte values); checkUpgradeRequest never throws, refuses with 400/405 exactly as ws applies RFC 6455 4.2.1, and the error response is well-formed',
  weight: 1,
  property: (stats) =>
    fc.property(requestArb, (req) => {
      const result = checkUpgradeRequest(req);
      const expected = expectedStatus(req);
      if (result.ok) {
        if (expected !== 101) fail(`accepted a request that must get ${expected}: ${JSON.stringify(req)}`);
        if (!isValidKey(result.key)) fail(`accepted key ${result.key}`);
        if (!result.protocols.every(isToken) || new Set(result.protocols).size !== result.protocols.length)
          fail(`protocols ${JSON.stringify(result.protocols)}`);
        count(stats, 'handshake', '101');
        return;
      }
      if (result.status !== expected) fail(`status ${result.status} (${result.message}) where ${expected} was due: ${JSON.stringify(req)}`);
      if (result.message === 'Missing or invalid Sec-WebSocket-Version header' && result.headers?.['Sec-WebSocket-Version'] !== '13, 8')
        fail('a refused version without Sec-WebSocket-Version: 13, 8');
      if (result.status === 405 && result.headers?.Allow !== 'GET') fail('405 without Allow: GET');
      const response = errorResponse(result.status, result.message, result.headers);
      const end = response.indexOf('\r\n\r\n');
      const head = response.slice(0, end).split('\r\n');
      const body = response.slice(end + 4);
      if (!head[0]!.startsWith(`HTTP/1.1 ${result.status} `)) fail(`status line ${head[0]}`);
      if (!head.includes(`Content-Length: ${Buffer.byteLength(body)}`) || body !== result.message)
        fail('the body and Content-Length disagree');
      if (head.some((line, i) => i > 0 && !/^[A-Za-z-]+: [^\r\n]*$/.test(line))) fail(`a malformed header line in ${JSON.stringify(head)}`);
      count(stats, 'handshake', String(result.status));
    }),
};

// ---------------------------------------------------------------- Sec-WebSocket-Extensions and -Protocol

const tokenArb = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const offersArb: fc.Arbitrary<ExtensionOffer[]> = fc.array(
  fc.record({ name: tokenArb, params: fc.array(fc.tuple(tokenArb, fc.oneof(tokenArb, fc.constant(true as const))), { maxLength: 4 }) }),
  { maxLength: 4 },
);
const space = fc.constantFrom('', '', ' ', '\t', '  ', ' \t ');

/** Formats offers with random (legal) spacing, quoting some values, and empty list elements. */
function formatLoosely(offers: readonly ExtensionOffer[], spaces: readonly string[], quote: readonly boolean[]): string {
  let k = 0;
  const s = () => spaces[k++ % spaces.length] ?? '';
  const q = () => quote[k++ % quote.length] ?? false;
  return offers
    .map(
      (offer) =>
        s() +
        offer.name +
        offer.params
          .map(
            ([name, value]) =>
              `${s()};${s()}${name}${value === true ? '' : `${s()}=${s()}${q() ? `"${value.replace(/(["\\])/g, '\\$1')}"` : value}`}`,
          )
          .join('') +
        s(),
    )
    .join(',');
}

const headerJunk = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom(
          'permessage-deflate',
          'x-webkit-deflate-frame',
          'client_max_window_bits',
          'server_max_window_bits',
          'server_no_context_takeover',
          'client_no_context_takeover',
          '10',
          '15',
          '8',
          '7',
          '16',
          '09',
          'a',
          'é',
          '€',
        ),
      },
      { weight: 6, arbitrary: fc.constantFrom(',', ';', '=', '"', '\\', ' ', '\t', ',,', ';;', '=""', '"a"', '"1\\0"', '\r\n', '\0') },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(''));

const extensions: Target = {
  name: 'extensions',
  about:
    'Sec-WebSocket-Extensions and -Protocol values: format then parse is the identity with any legal spacing and quoting; junk never throws and gives null or well-formed offers',
  weight: 1,
  property: (stats) =>
    fc.property(
      offersArb,
      fc.array(space, { minLength: 1, maxLength: 8 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
      headerJunk,
      (offers, spaces, quote, junk) => {
        const compact = parseExtensions(formatExtensions(offers));
        const loose = parseExtensions(formatLoosely(offers, spaces, quote));
        const expected = JSON.stringify(offers);
        if (JSON.stringify(compact) !== expected) fail(`format then parse: ${JSON.stringify(compact)} for ${expected}`);
        if (JSON.stringify(loose) !== expected)
          fail(`loose format ${JSON.stringify(formatLoosely(offers, spaces, quote))} parsed to ${JSON.stringify(loose)}`);
        const parsed = parseExtensions(junk);
        if (parsed !== null) {
          for (const offer of parsed) {
            if (!isToken(offer.name)) fail(`offer name ${JSON.stringify(offer.name)} from ${JSON.stringify(junk)}`);
            for (const [name, value] of offer.params) {
              if (!isToken(name) || (value !== true && !isToken(value)))
                fail(`parameter ${JSON.stringify([name, value])} from ${JSON.stringify(junk)}`);
            }
          }
        }
        const list = parseTokenList(junk);
        if (list !== null && (list.length === 0 || !list.every(isToken) || new Set(list).size !== list.length))
          fail(`token list ${JSON.stringify(list)}`);
        count(stats, 'extensions', parsed === null ? 'malformed' : 'parsed');
      },
    ),
};

// ---------------------------------------------------------------- permessage-deflate negotiation

// Absent is one of the choices too: requiredKeys below is empty.
const bitsOption = fc.oneof(fc.boolean(), fc.integer({ min: 8, max: 15 }));
const deflateOptionsArb: fc.Arbitrary<PerMessageDeflateOptions> = fc.record(
  {
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    serverMaxWindowBits: bitsOption,
    clientMaxWindowBits: bitsOption,
  },
  { requiredKeys: [] },
);

const negotiation: Target = {
  name: 'negotiation',
  about:
    'permessage-deflate: for every pair of client and server options, what the server agrees to the client accepts, with parameters that work together (each deflater within its inflater’s window and context); mutated offers never throw and any agreement is a valid response',
  weight: 1,
  property: (stats) =>
    fc.property(deflateOptionsArb, deflateOptionsArb, headerJunk, (clientOptions, serverOptions, junk) => {
      const client = resolveDeflateOptions(clientOptions)!;
      const server = resolveDeflateOptions(serverOptions)!;
      const offer = deflateOffer(client);
      const result = negotiateDeflateAsServer(offer, server);
      if (!result.ok) fail(`the server refused the client's own offer ${offer}: ${result.message}`);
      let outcome = 'declined';
      if (result.agreement !== null) {
        const accepted = acceptDeflateResponse(result.agreement.response, client);
        // As in ws, a client whose clientNoContextTakeover is false refuses a server that asks for it;
        // the offer cannot tell the server so. Any other failure is a disagreement.
        const refusesReset = client.clientNoContextTakeover === false && result.agreement.params.clientNoContextTakeover;
        if (!accepted.ok && refusesReset && /client_no_context_takeover/.test(accepted.message)) {
          count(stats, 'negotiation', 'client refuses client_no_context_takeover');
          return;
        }
        if (!accepted.ok) fail(`offer ${offer}, response ${result.agreement.response}: the client fails with ${accepted.message}`);
        const problem = incompatible(accepted.agreement!.params, result.agreement.params);
        if (problem !== null) fail(`offer ${offer}, response ${result.agreement.response}: ${problem}`);
        outcome =
          JSON.stringify(accepted.agreement!.params) === JSON.stringify(result.agreement.params)
            ? 'agreed'
            : 'agreed, client bound tighter';
        count(stats, 'negotiation', outcome);
        outcome = '';
      }
      // Whatever a client sends, an agreement is one the default client accepts as the server understood it.
      const hostile = negotiateDeflateAsServer(junk, server);
      if (hostile.ok && hostile.agreement !== null) {
        const accepted = acceptDeflateResponse(hostile.agreement.response, resolveDeflateOptions(true));
        if (!accepted.ok || incompatible(accepted.agreement!.params, hostile.agreement.params) !== null) {
          fail(`junk offer ${JSON.stringify(junk)} gave response ${hostile.agreement.response}, which a client reads differently`);
        }
      }
      if (outcome !== '') count(stats, 'negotiation', outcome);
    }),
};

/**
 * Whether what each side will do works with what the other expects: in each direction the deflater's
 * window is no larger than the inflater's, and a deflater keeps no context where the inflater drops it.
 * (A client may bind itself tighter than the server knows: an offered client_max_window_bits binds it
 * even when the response leaves the parameter out.) Null when compatible.
 */
function incompatible(client: DeflateParams, server: DeflateParams): string | null {
  if (client.serverMaxWindowBits < server.serverMaxWindowBits)
    return `the server deflates with ${server.serverMaxWindowBits} bits, the client inflates with ${client.serverMaxWindowBits}`;
  if (server.clientMaxWindowBits < client.clientMaxWindowBits)
    return `the client deflates with ${client.clientMaxWindowBits} bits, the server inflates with ${server.clientMaxWindowBits}`;
  if (client.serverNoContextTakeover && !server.serverNoContextTakeover) return 'the client drops the context the server keeps';
  if (server.clientNoContextTakeover && !client.clientNoContextTakeover) return 'the server drops the context the client keeps';
  return null;
}

// ---------------------------------------------------------------- inflating (the zlib side of permessage-deflate)

const INFLATE_LIMIT = 64 * 1024;
let bombs: Buffer[] | null = null;
/** Small bombs: far more inflated bytes than INFLATE_LIMIT from a few hundred compressed ones. */
function getBombs(): Buffer[] {
  bombs ??= [Buffer.alloc(1 << 20), Buffer.alloc(4 << 20, 0x61), Buffer.from('ab'.repeat(1 << 19))].map((data) =>
    deflateRawSync(data, { level: 9 }),
  );
  return bombs;
}

const corruption = fc.oneof(
  { weight: 3, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant([] as never[]) },
);

function decompressOnce(codec: DeflateCodec, data: Buffer): Promise<{ error: Error | null; result?: Buffer; calls: () => number }> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    const timer = setTimeout(() => reject(new Error(`decompress of ${data.length} bytes never called back (hang)`)), 10_000);
    codec.decompress(data, true, (error, result) => {
      calls++;
      clearTimeout(timer);
      resolve({ error, ...(result ? { result } : {}), calls: () => calls });
    });
  });
}

const inflate: Target = {
  name: 'inflate',
  about:
    'compressed messages from our deflater, corrupted by byte mutations, plus random bytes and bombs, inflated in sequence on one codec (context kept or not): each calls back once, 1007 or 1009 or the data, never over maxPayload; intact messages come back intact',
  weight: 0.05,
  property: (stats) =>
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          {
            weight: 4,
            arbitrary: fc.record({ kind: fc.constant('message' as const), data: fc.uint8Array({ maxLength: 3000 }), corruption }),
          },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('noise' as const), data: fc.uint8Array({ maxLength: 300 }), corruption }) },
          {
            weight: 1,
            arbitrary: fc.record({ kind: fc.constant('bomb' as const), data: fc.constant(new Uint8Array()), corruption, which: fc.nat(2) }),
          },
        ),
        { minLength: 1, maxLength: 4 },
      ),
      fc.boolean(),
      fc.integer({ min: 9, max: 15 }),
      fc.constantFrom(0, INFLATE_LIMIT),
      async (messages, noContextTakeover, windowBits, limit) => {
        const params = {
          serverNoContextTakeover: noContextTakeover,
          clientNoContextTakeover: noContextTakeover,
          serverMaxWindowBits: windowBits,
          clientMaxWindowBits: windowBits,
        };
        const options = resolveDeflateOptions({ threshold: 0 })!;
        const sender = createDeflateCompression(params, options, { isServer: false, maxPayload: 0 });
        const receiver = createDeflateCompression(params, options, { isServer: true, maxPayload: limit === 0 ? 8 << 20 : limit });
        const maxPayloadNow = limit === 0 ? 8 << 20 : limit;
        // With context kept between messages, once one message was not our deflater's output as it was
        // made, the two sides' windows differ and later messages may inflate to other bytes (or fail).
        let inSync = true;
        try {
          for (const m of messages) {
            let input: Buffer;
            if (m.kind === 'message') {
              input = await new Promise<Buffer>((resolve, reject) =>
                sender.compress(Buffer.from(m.data), true, (e, r) => (e ? reject(e) : resolve(r!))),
              );
            } else if (m.kind === 'noise') {
              input = Buffer.from(m.data);
            } else {
              input = getBombs()[(m as { which: number }).which]!;
            }
            const corrupted = applyByteMutations(input, m.corruption);
            const outcome = await decompressOnce(receiver, corrupted);
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (outcome.calls() !== 1) fail(`the callback ran ${outcome.calls()} times`);
            if (outcome.error) {
              const e = outcome.error;
              if (!(e instanceof ProtocolError) || (e.closeCode !== 1007 && e.closeCode !== 1009)) fail(`inflate failed with ${String(e)}`);
              count(stats, 'inflate', String(e.closeCode));
              break; // the connection is failed after an error: nothing more is inflated on it
            }
            const result = outcome.result!;
            stats.maxMessage = Math.max(stats.maxMessage, result.length);
            if (result.length > maxPayloadNow) fail(`inflated ${result.length} bytes past maxPayload ${maxPayloadNow}`);
            const intact = m.kind === 'message' && m.corruption.length === 0;
            if (intact && inSync && !result.equals(Buffer.from(m.data))) fail('an intact message came back changed');
            if (!intact && !noContextTakeover) inSync = false;
            count(stats, 'inflate', intact ? 'intact' : 'inflated');
          }
        } finally {
          sender.cleanup();
          receiver.cleanup();
        }
        const activity = zlibActivity();
        if (activity.running !== 0 || activity.waiting !== 0) fail(`zlib operations left after cleanup: ${JSON.stringify(activity)}`);
      },
    ),
};

export const TARGETS: readonly Target[] = [
  parserRoundtrip,
  parserMutate,
  parserNoise,
  parserUtf8,
  handshake,
  extensions,
  negotiation,
  inflate,
  connectionTarget,
  relayHttpTarget,
  relayV1Target,
  relayReplayTarget,
  clientHandshakeTarget,
];
