// The `client-handshake` fuzz target: the Node client (`new WebSocket(url)`) against a fake server that
// answers its upgrade request with a mutated response: the status line, Upgrade, Connection,
// Sec-WebSocket-Accept (missing, wrong, spaced), Sec-WebSocket-Protocol (unasked, not among those asked,
// two), Sec-WebSocket-Extensions (valid and invalid permessage-deflate parameters, unknown extensions),
// header names in any case, headers repeated, junk headers, heads over Node's 16 KiB, responses cut short,
// then frames right after the head (valid, masked, garbage), the whole cut into writes at random bytes.
// The client must open exactly when RFC 6455 4.1 (and RFC 7692 for the extension) says it may, and
// otherwise emit 'error' then 'close' with 1006, never 'open'; it never throws out of an event, never
// hangs (handshakeTimeout bounds it), and never leaks the socket: once it reports 'close', the server sees
// the connection go. A frame sent right after the head is received.
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { WebSocket } from '../src/index.js';
import { fail, within } from './relay-harness.js';
import type { FuzzStats, Target } from './targets.js';
import { chunksOf } from './wire.js';

const HANDSHAKE_TIMEOUT = 500;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

type Verdict = 'open' | 'fail' | 'either';

/** Values with what a client must do with them (null: the header is left out). */
const STATUS_LINES: Array<[string, Verdict]> = [
  ['HTTP/1.1 101 Switching Protocols', 'open'],
  ['HTTP/1.1 101 Web Socket Protocol Handshake', 'open'],
  ['HTTP/1.1 101 ', 'open'],
  ['HTTP/1.1 101', 'either'],
  ['HTTP/1.0 101 Switching Protocols', 'either'],
  ['HTTP/1.1 200 OK', 'fail'],
  ['HTTP/1.1 302 Found', 'fail'],
  ['HTTP/1.1 404 Not Found', 'fail'],
  ['HTTP/1.1 426 Upgrade Required', 'fail'],
  ['HTTP/1.1 1011 Switching', 'fail'],
  ['HTTP/1.1 10 Switching', 'fail'],
  ['HTTP/2 101 Switching Protocols', 'fail'],
  ['http/1.1 101 Switching Protocols', 'fail'],
  ['SWITCH 101', 'fail'],
  ['', 'fail'],
];
const UPGRADES: Array<[string | null, Verdict]> = [
  ['websocket', 'open'],
  ['WebSocket', 'open'],
  ['WEBSOCKET', 'open'],
  ['websocket, h2c', 'either'],
  [null, 'fail'],
  ['h2c', 'fail'],
  ['', 'fail'],
  ['web socket', 'fail'],
  ['websockets', 'fail'],
];
const CONNECTIONS: Array<[string | null, Verdict]> = [
  ['Upgrade', 'open'],
  ['upgrade', 'open'],
  ['keep-alive, Upgrade', 'open'],
  [null, 'fail'],
  ['close', 'fail'],
  ['', 'fail'],
  ['Upgraded', 'fail'],
];
type AcceptKind = 'right' | 'spaced' | 'missing' | 'wrong' | 'lowercase' | 'empty' | 'padded';
const ACCEPTS: AcceptKind[] = ['right', 'spaced', 'missing', 'wrong', 'lowercase', 'empty', 'padded'];
/** Extensions answered to the default offer (permessage-deflate; client_max_window_bits). */
const EXTENSIONS: Array<[string | null, Verdict]> = [
  [null, 'open'],
  ['', 'open'],
  ['permessage-deflate', 'open'],
  [' permessage-deflate ', 'open'],
  ['permessage-deflate; client_max_window_bits=10', 'open'],
  ['permessage-deflate; client_max_window_bits=8', 'open'],
  ['permessage-deflate; server_no_context_takeover', 'open'],
  ['permessage-deflate; client_no_context_takeover', 'open'],
  ['permessage-deflate;server_max_window_bits=8', 'open'],
  ['permessage-deflate; server_max_window_bits=15; client_max_window_bits=15', 'open'],
  ['permessage-deflate; server_max_window_bits="10"', 'open'],
  ['permessage-deflate; server_max_window_bits=7', 'fail'],
  ['permessage-deflate; server_max_window_bits=16', 'fail'],
  ['permessage-deflate; server_max_window_bits', 'fail'],
  ['permessage-deflate; client_max_window_bits', 'fail'],
  ['permessage-deflate; server_max_window_bits=010', 'fail'],
  ['permessage-deflate; server_max_window_bits=1e1', 'fail'],
  ['permessage-deflate; server_no_context_takeover=1', 'fail'],
  ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'fail'],
  ['permessage-deflate; foo', 'fail'],
  ['permessage-deflate; foo=bar', 'fail'],
  ['permessage-deflate, permessage-deflate', 'fail'],
  ['permessage-deflate; server_max_window_bits="1 0"', 'fail'],
  ['permessage-deflate;', 'fail'],
  ['permessage-deflate; =10', 'fail'],
  ['x-webkit-deflate-frame', 'fail'],
  ['permessage-deflate, x-foo', 'fail'],
  ['PERMESSAGE-DEFLATE', 'either'],
  [';', 'fail'],
  ['"permessage-deflate"', 'fail'],
];
type ProtocolKind = 'none' | 'first' | 'second' | 'other' | 'empty' | 'both' | 'spaced';
const PROTOCOLS: ProtocolKind[] = ['none', 'first', 'second', 'other', 'empty', 'both', 'spaced'];
const AFTER = ['none', 'text', 'masked', 'garbage', 'close'] as const;

/** True once in `n + 1` (fast-check leans to the edges of integer ranges, so not from an integer). */
const rarely = (n: number) => fc.oneof({ weight: n, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const specArb = fc.record({
  status: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(STATUS_LINES.length - 1) }),
  upgrade: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(UPGRADES.length - 1) }),
  connection: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(CONNECTIONS.length - 1) }),
  accept: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(ACCEPTS.length - 1) }),
  extensions: fc.oneof({ weight: 2, arbitrary: fc.nat(10) }, { weight: 1, arbitrary: fc.nat(EXTENSIONS.length - 1) }),
  /** 'fit': what a good server answers (the first asked, or none). */
  protocol: fc.oneof({ weight: 3, arbitrary: fc.constant('fit' as const) }, { weight: 1, arbitrary: fc.constantFrom(...PROTOCOLS) }),
  /** The subprotocols the client asks for. */
  asked: fc.constantFrom([] as string[], ['chat'], ['chat', 'superchat']),
  /** Whether the client offers permessage-deflate. */
  deflate: fc.boolean(),
  /** Header names: as usual, lower case, upper case, or each letter's case flipped at random. */
  nameCase: fc.constantFrom('usual', 'lower', 'upper', 'mixed'),
  /** Headers sent twice: Sec-WebSocket-Accept, -Protocol, -Extensions, Upgrade, Connection. */
  repeat: fc.oneof(
    { weight: 4, arbitrary: fc.constant([]) },
    {
      weight: 1,
      arbitrary: fc.subarray(['accept', 'protocol', 'extensions', 'upgrade', 'connection'] as const, { minLength: 1, maxLength: 2 }),
    },
  ),
  junk: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/), fc.stringMatching(/^[ -~]{0,20}$/)), { maxLength: 3 }),
  /** A head over Node's 16 KiB limit. */
  oversized: rarely(30),
  /** Cut the response short: the client must time out. */
  truncate: rarely(60),
  after: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, { weight: 2, arbitrary: fc.constantFrom(...AFTER) }),
  sizes: fc.oneof(
    { weight: 2, arbitrary: fc.constant([] as number[]) },
    { weight: 1, arbitrary: fc.constant([1]) },
    { weight: 2, arbitrary: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }) },
  ),
  /** After writing: keep the connection, end it (FIN), or reset it. */
  // biome-ignore lint/suspicious/noThenProperty: a field of a fuzz case, never awaited
  then: fc.constantFrom('hold', 'hold', 'end', 'destroy'),
  seed: fc.nat(),
});
type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function caseOf(name: string, mode: Spec['nameCase'], seed: number): string {
  if (mode === 'lower') return name.toLowerCase();
  if (mode === 'upper') return name.toUpperCase();
  if (mode === 'usual') return name;
  return [...name].map((c, i) => ((seed >> (i % 30)) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
}

interface Plan {
  bytes: Buffer;
  verdict: Verdict;
  /** The protocol and extension the client must report when it opens. */
  protocol: string;
  deflate: boolean | null;
}

function plan(spec: Spec, key: string): Plan {
  const verdicts: Verdict[] = [];
  const [statusLine, statusVerdict] = STATUS_LINES[spec.status]!;
  verdicts.push(statusVerdict);
  const headers: Array<[string, string]> = [];
  const [upgrade, upgradeVerdict] = UPGRADES[spec.upgrade]!;
  verdicts.push(upgradeVerdict);
  if (upgrade !== null) headers.push(['Upgrade', upgrade]);
  const [connection, connectionVerdict] = CONNECTIONS[spec.connection]!;
  verdicts.push(connectionVerdict);
  if (connection !== null) headers.push(['Connection', connection]);
  const acceptKind = ACCEPTS[spec.accept]!;
  const right = accept(key);
  const acceptValue = {
    right,
    spaced: ` ${right}  `,
    missing: null,
    wrong: accept(key + 'x'),
    lowercase: right.toLowerCase(),
    empty: '',
    padded: right + '=',
  }[acceptKind];
  // The value must be the key's digest, exactly (base64 is case-sensitive); spaces around it are not part of it.
  verdicts.push(acceptValue !== null && acceptValue.trim() === right ? 'open' : 'fail');
  if (acceptValue !== null) headers.push(['Sec-WebSocket-Accept', acceptValue]);
  // Subprotocol: one of those asked, or none when none was asked (RFC 6455 4.1, and this client fails
  // a server that picks none of those asked, as browsers do).
  const asked = spec.asked;
  const kind = spec.protocol === 'fit' ? (asked.length === 0 ? 'none' : 'first') : spec.protocol;
  const protocol: string | null = {
    none: null,
    first: asked[0] ?? 'chat',
    second: asked[1] ?? 'superchat',
    other: 'other',
    empty: '',
    both: 'chat, superchat',
    spaced: ` ${asked[0] ?? 'chat'} `,
  }[kind];
  if (protocol !== null) headers.push(['Sec-WebSocket-Protocol', protocol]);
  const chosen = protocol?.trim() ?? null;
  verdicts.push(asked.length === 0 ? (protocol === null ? 'open' : 'fail') : chosen !== null && asked.includes(chosen) ? 'open' : 'fail');
  const [extension, extensionVerdict] = EXTENSIONS[spec.extensions]!;
  if (extension !== null) headers.push(['Sec-WebSocket-Extensions', extension]);
  verdicts.push(spec.deflate ? extensionVerdict : extension === null || extension.trim() === '' ? 'open' : 'fail');
  // Repeated headers: Node joins their values with ", ".
  for (const which of spec.repeat) {
    const name = {
      accept: 'Sec-WebSocket-Accept',
      protocol: 'Sec-WebSocket-Protocol',
      extensions: 'Sec-WebSocket-Extensions',
      upgrade: 'Upgrade',
      connection: 'Connection',
    }[which];
    const existing = headers.find(([n]) => n === name);
    if (existing === undefined) continue;
    headers.push([name, existing[1]]);
    if (which === 'accept' || which === 'protocol') verdicts.push('fail');
    else if (which === 'extensions') verdicts.push(existing[1].trim() === '' ? 'either' : spec.deflate ? 'fail' : 'either');
    else verdicts.push('either');
  }
  for (const [name, value] of spec.junk) headers.push([`X-${name}`, value]);
  if (spec.oversized) {
    for (let i = 0; i < 200; i++) headers.push([`X-Filler-${i}`, 'f'.repeat(100)]);
    verdicts.push('fail');
  }
  const head = [statusLine, ...headers.map(([n, v]) => `${caseOf(n, spec.nameCase, spec.seed)}: ${v}`)].join('\r\n') + '\r\n\r\n';
  let bytes = Buffer.from(head, 'latin1');
  if (spec.truncate) {
    bytes = bytes.subarray(0, spec.seed % (bytes.length - 1));
    verdicts.push('fail');
  }
  const after = {
    none: Buffer.alloc(0),
    text: Buffer.from([0x81, 0x02, 0x68, 0x69]),
    masked: Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]),
    garbage: Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a]),
    close: Buffer.from([0x88, 0x02, 0x03, 0xe8]),
  }[spec.after];
  if (!spec.truncate) bytes = Buffer.concat([bytes, after]);
  const verdict: Verdict = verdicts.includes('fail') ? 'fail' : verdicts.includes('either') ? 'either' : 'open';
  const deflate = spec.deflate && extension !== null && extension.trim() !== '' ? true : spec.deflate ? false : null;
  return { bytes, verdict, protocol: chosen ?? '', deflate };
}

// ---------------------------------------------------------------- the fake server

let server: Server | null = null;
let port = 0;
let onSocket: ((socket: Socket) => void) | null = null;

async function fakeServer(): Promise<number> {
  if (server !== null) return port;
  server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    if (onSocket === null) socket.destroy();
    else onSocket(socket);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  return port;
}

/** The client's request head: resolves with it once complete. */
function readRequest(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(head);
      }
    };
    socket.on('data', onData);
  });
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export const clientHandshakeTarget: Target = {
  name: 'client-handshake',
  about:
    'the Node client against a fake server answering its upgrade with mutated responses (status line, Upgrade, Connection, Accept, subprotocol, permessage-deflate parameters, header case, repeated and junk headers, heads over 16 KiB, cut short, frames or garbage after the head, split at any byte): it opens exactly when RFC 6455/7692 allow, otherwise error then close 1006; no throw, no hang, no leaked socket',
  weight: 0.02,
  property: (stats: FuzzStats) =>
    fc.asyncProperty(specArb, async (spec) => {
      const p = await fakeServer();
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      process.on('uncaughtException', onUncaught);
      let serverSocket: Socket | null = null;
      let planned: Plan | null = null;
      const served = new Promise<void>((resolve) => {
        onSocket = (socket) => {
          serverSocket = socket;
          void readRequest(socket).then(async (head) => {
            const key = /\r\nsec-websocket-key: *([^\r]*)/i.exec(head)?.[1] ?? '';
            planned = plan(spec, key);
            for (const chunk of chunksOf(planned.bytes, spec.sizes)) {
              if (socket.destroyed) break;
              socket.write(chunk);
              if (spec.sizes.length > 0) await tick();
            }
            // Anything the client sends after its request (its close frame) is answered by hanging up,
            // as a server ends its closing handshake, so that a close does not wait out closeTimeout.
            socket.on('data', () => socket.end());
            if (!spec.truncate && spec.then === 'end') socket.end();
            if (!spec.truncate && spec.then === 'destroy') socket.destroy();
            resolve();
          });
        };
      });
      const events: string[] = [];
      let closeCode = 0;
      let errors: Error[] = [];
      let message: string | null = null;
      const ws = new WebSocket(`ws://127.0.0.1:${p}/fuzz`, spec.asked, {
        handshakeTimeout: HANDSHAKE_TIMEOUT,
        closeTimeout: 100,
        perMessageDeflate: spec.deflate,
      });
      let openedNow!: (value: boolean) => void;
      const openedOrClosed = new Promise<boolean>((resolve) => (openedNow = resolve));
      const closed = new Promise<void>((resolve) => {
        ws.on('open', () => {
          events.push('open');
          openedNow(true);
        });
        ws.on('error', (error: Error) => {
          events.push('error');
          errors.push(error);
        });
        ws.on('message', (data: Buffer) => {
          message = data.toString();
          events.push('message');
        });
        ws.on('close', (code: number) => {
          events.push('close');
          closeCode = code;
          openedNow(events.includes('open'));
          resolve();
        });
      });
      try {
        await within(served, 5_000, 'request from the client');
        const plan_ = planned as Plan | null;
        if (plan_ === null) fail('no plan');
        const opened = await within(openedOrClosed, HANDSHAKE_TIMEOUT + 5_000, 'open or close (the handshake hangs past its timeout)');
        const what = JSON.stringify(plan_.bytes.toString('latin1').slice(0, 600));
        if (opened && plan_.verdict === 'fail') fail(`opened on ${what}`);
        if (!opened && plan_.verdict === 'open') fail(`did not open (${errors.map((e) => e.message).join('; ')}) on ${what}`);
        if (opened) {
          if (ws.protocol !== plan_.protocol)
            fail(`protocol ${JSON.stringify(ws.protocol)} where ${JSON.stringify(plan_.protocol)} was chosen, on ${what}`);
          if (plan_.deflate !== null && (ws.extensions !== '') !== plan_.deflate)
            fail(`extensions ${JSON.stringify(ws.extensions)} on ${what}`);
          if (spec.after === 'text') {
            await within(
              new Promise<void>((resolve) =>
                message !== null || events.includes('close') ? resolve() : ws.once('message', () => resolve()),
              ),
              5_000,
              'the frame sent after the head',
            );
            if (message !== 'hi') fail(`the frame after the head came as ${JSON.stringify(message)}, events ${events.join(',')}`);
          }
          if (spec.after === 'masked') {
            await within(closed, 5_000, 'close after a masked frame from the server');
            if (!errors.some((e) => (e as Error & { closeCode?: number }).closeCode === 1002))
              fail(`a masked frame from the server did not fail with 1002: ${events.join(',')}, ${errors.map(String).join('; ')}`);
          }
          ws.terminate();
        }
        await within(closed, 5_000, 'close');
        if (!opened) {
          if (events[0] !== 'error' || events[1] !== 'close' || events.length !== 2)
            fail(`events ${events.join(',')} on a refused handshake, on ${what}`);
          if (closeCode !== 1006) fail(`closed with ${closeCode} on a refused handshake`);
        } else if (
          events.filter((e) => e === 'open').length !== 1 ||
          events.at(-1) !== 'close' ||
          events.filter((e) => e === 'close').length !== 1
        ) {
          fail(`events ${events.join(',')}`);
        }
        // The client let the socket go: the server's side closes.
        const s = serverSocket as Socket | null;
        if (s !== null && !s.destroyed) {
          await within(new Promise((resolve) => s.once('close', resolve)), 5_000, 'the socket to be released after close (leak)');
        }
        await tick();
        if (uncaught.length > 0) fail(`uncaught: ${String(uncaught[0])}`);
        const key = `client-handshake ${opened ? 'open' : 'refused'}${plan_.verdict === 'either' ? ' (either allowed)' : ''}`;
        stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
        stats.inputs++;
        stats.onInput?.();
      } finally {
        process.off('uncaughtException', onUncaught);
        onSocket = null;
        ws.terminate();
        (serverSocket as Socket | null)?.destroy();
        errors = [];
      }
    }),
  async dispose() {
    const s = server;
    server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  },
};
