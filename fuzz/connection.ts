// The `connection` fuzz target: the whole receive path of a server-side WebSocket (parser, permessage-
// deflate inflation and its ordering queue, UTF-8 checks of inflated text, the closing handshake) over an
// in-memory stream, fed what a client would send, compressed by a real deflater, then mutated and cut
// into chunks. Whatever comes in, the connection must end: 'close' is emitted once, errors are protocol
// errors with 1002, 1007 or 1009 and the close frame it sends says the same, nothing is emitted after
// 'close', and an unmutated stream is received exactly as sent, in order.
import { isUtf8 } from 'node:buffer';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { WebSocket } from '../src/connection/websocket.js';
import { Parser, ProtocolError } from '../src/protocol/parser.js';
import { createDeflateCompression } from '../src/connection/deflate-codec.js';
import { resolveDeflateOptions } from '../src/protocol/deflate.js';
import { byteMutation, chunkSizes, frameMutation } from './arbitraries.js';
import { ALLOWED_CLOSE_CODES } from './parser-oracle.js';
import type { FuzzStats, Target } from './targets.js';
import { applyByteMutations, applyFrameMutations, chunksOf, encodeSpecs, type FrameSpec } from './wire.js';

/** A socket made of memory: what is pushed in is read by the connection; what it writes is kept. */
class MemorySocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.written.push(chunk);
    callback();
  }
  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }
}

const KEY = [0x0f, 0xf0, 0x55, 0xaa];
const MAX_PAYLOAD = 32 * 1024;

const messageArb = fc.record({
  text: fc.boolean(),
  data: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 30_000 }).map((n) => Buffer.alloc(n, 0x61)) },
  ),
  compress: fc.boolean(),
  /** Fragment sizes (of the compressed payload). */
  cuts: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 3 }),
});

function frames(payload: Buffer, opcode: number, rsv1: boolean, cuts: readonly number[]): FrameSpec[] {
  const out: FrameSpec[] = [];
  let offset = 0;
  for (const cut of cuts) {
    if (offset >= payload.length) break;
    out.push({
      opcode: out.length === 0 ? opcode : 0,
      fin: false,
      rsv: out.length === 0 && rsv1 ? 4 : 0,
      maskKey: KEY,
      payload: payload.subarray(offset, offset + cut),
    });
    offset += cut;
  }
  out.push({
    opcode: out.length === 0 ? opcode : 0,
    fin: true,
    rsv: out.length === 0 && rsv1 ? 4 : 0,
    maskKey: KEY,
    payload: payload.subarray(offset),
  });
  return out;
}

export const connectionTarget: Target = {
  name: 'connection',
  about:
    'a server-side WebSocket over an in-memory socket, with permessage-deflate, fed compressed and plain messages (fragmented, with a close at the end), mutated or not, in random chunks: it always closes, once, with 1002/1007/1009 errors only (and the same code in its close frame), nothing after close, and an intact stream is received exactly',
  weight: 0.1,
  property: (stats: FuzzStats) =>
    fc.asyncProperty(
      fc.array(messageArb, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(frameMutation, { minLength: 1, maxLength: 3 }) },
      ),
      fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 2 }) }),
      chunkSizes,
      async (messages, noContextTakeover, frameMutations, byteMutations, sizes) => {
        const params = {
          serverNoContextTakeover: noContextTakeover,
          clientNoContextTakeover: noContextTakeover,
          serverMaxWindowBits: 15,
          clientMaxWindowBits: 15,
        };
        const options = resolveDeflateOptions({ threshold: 0 })!;
        const sender = createDeflateCompression(params, options, { isServer: false, maxPayload: 0 });
        const specs: FrameSpec[] = [];
        try {
          for (const m of messages) {
            const payload = m.compress
              ? await new Promise<Buffer>((resolve, reject) => sender.compress(m.data, true, (e, r) => (e ? reject(e) : resolve(r!))))
              : m.data;
            specs.push(...frames(payload, m.text ? 1 : 2, m.compress, m.cuts));
          }
        } finally {
          sender.cleanup();
        }
        specs.push({ opcode: 8, fin: true, rsv: 0, maskKey: KEY, payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b]) });
        const intact = frameMutations.length === 0 && byteMutations.length === 0;
        const bytes = applyByteMutations(encodeSpecs(applyFrameMutations(specs, frameMutations)), byteMutations);

        const socket = new MemorySocket();
        const ws = new WebSocket();
        const compression = createDeflateCompression(params, options, { isServer: true, maxPayload: MAX_PAYLOAD });
        const received: Array<{ data: Buffer; isBinary: boolean }> = [];
        const errors: ProtocolError[] = [];
        let endedBeforeError = false;
        const problems: string[] = [];
        let closes = 0;
        const closed = new Promise<number>((resolve) => {
          ws.on('close', (code: number) => {
            closes++;
            resolve(code);
          });
        });
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (closes > 0) problems.push('a message after close');
          if (data.length > MAX_PAYLOAD) problems.push(`a message of ${data.length} bytes`);
          stats.maxMessage = Math.max(stats.maxMessage, data.length);
          if (!isBinary && !isUtf8(data)) problems.push('text that is not UTF-8');
          received.push({ data: Buffer.from(data), isBinary });
        });
        ws.on('error', (error: Error) => {
          if (closes > 0) problems.push('an error after close');
          if (!(error instanceof ProtocolError) || !ALLOWED_CLOSE_CODES.has(error.closeCode)) problems.push(`error ${String(error)}`);
          else errors.push(error);
          // The peer's end had come (and ended our side) before the failure: no close frame could follow.
          if (errors.length === 1) endedBeforeError = socket.readableEnded;
        });
        ws._setSocket(socket, Buffer.alloc(0), { maxPayload: MAX_PAYLOAD, closeTimeout: 200 }, compression);
        for (const chunk of chunksOf(bytes, sizes, 256)) socket.push(chunk);
        socket.push(null);
        const timer = setTimeout(() => problems.push('no close within 10 s (hang)'), 10_000);
        const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000))]);
        clearTimeout(timer);
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (closes !== 1) problems.push(`'close' emitted ${closes} times`);

        // What the connection wrote: frames a client parses, ending with at most one close frame.
        const sent: number[] = [];
        const reader = new Parser(
          {
            onMessage: () => problems.push('the server sent a data frame'),
            onPing: () => {},
            onPong: () => {},
            onClose: (c) => sent.push(c),
            onError: (e) => problems.push(`the server's output does not parse: ${e.message}`),
          },
          { expectMasked: false },
        );
        for (const chunk of socket.written) reader.push(Buffer.from(chunk));
        // The close frame says why the connection failed, unless the peer's close frame came first (a
        // message before it may still fail to inflate after we answered it) or the stream had already
        // ended (nothing can be sent any more).
        const peerClosedFirst = (ws as unknown as { _closeFrameReceived: boolean })._closeFrameReceived;
        if (errors.length > 0 && sent[0] !== errors[0]!.closeCode && !peerClosedFirst && !endedBeforeError)
          problems.push(`failed with ${errors[0]!.closeCode} but sent close ${sent[0]}`);
        if (sent.length > 1) problems.push(`${sent.length} close frames sent`);
        if (intact) {
          if (errors.length > 0) problems.push(`an intact stream failed: ${errors[0]!.message}`);
          if (code !== 1000 || sent[0] !== 1000) problems.push(`an intact stream closed with ${code}, sent ${sent[0]}`);
          const expected = messages.map((m) => `${m.text ? 't' : 'b'}:${m.data.toString('hex')}`).join(' ');
          const got = received.map((m) => `${m.isBinary ? 'b' : 't'}:${m.data.toString('hex')}`).join(' ');
          if (got !== expected) problems.push('an intact stream was received differently');
        }
        if (problems.length > 0) throw new Error(problems.join('; '));
        const key = errors.length > 0 ? `error:${errors[0]!.closeCode}` : `close:${code}`;
        stats.outcomes.set(`connection ${key}`, (stats.outcomes.get(`connection ${key}`) ?? 0) + 1);
        stats.inputs++;
        stats.onInput?.();
      },
    ),
};
