// fast-check arbitraries for the fuzzers: valid streams of messages (every frame shape: each length
// encoding, fragmented or not, control frames between fragments, a close at the end), the mutations of
// wire.ts, ways to cut a byte stream, and parser options. The property tests and `npm run fuzz` share them.
import fc from 'fast-check';
import type { ParserOptions } from '../src/protocol/parser.js';
import {
  EDGE_LENGTHS,
  INVALID_UTF8,
  type ByteMutation,
  type CloseItem,
  type ControlItem,
  type DataItem,
  type FrameMutation,
  type FrameSpec,
  type StreamItem,
} from './wire.js';

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

/** Payload sizes: mostly small, often at the edges of the length encodings, now and then large. */
export const payloadSize: fc.Arbitrary<number> = fc.oneof(
  { weight: 40, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 8, arbitrary: fc.constantFrom(124, 125, 126, 127) },
  { weight: 8, arbitrary: fc.integer({ min: 41, max: 1200 }) },
  { weight: 1, arbitrary: fc.constantFrom(65535, 65536, 65537) },
  { weight: 1, arbitrary: fc.integer({ min: 1201, max: 70_000 }) },
);

/** Bytes of the given size, cheap to make even when large (a random pattern repeated). */
export const binaryPayload: fc.Arbitrary<Buffer> = fc
  .tuple(payloadSize, fc.uint8Array({ minLength: 1, maxLength: 64 }))
  .map(([size, pattern]) => {
    const out = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) out[i] = pattern[i % pattern.length]!;
    return out;
  });

/** Valid UTF-8 of every width (1 to 4 bytes per character), sometimes long. */
export const textPayload: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), payloadSize)
      .map(([s, size]) => Buffer.from(s.repeat(Math.ceil(size / Math.max(1, Buffer.byteLength(s)))))),
  },
);

export const controlPayload: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 125 }).map(toBuffer);

export const controlItem: fc.Arbitrary<ControlItem> = fc.record({
  kind: fc.constant('control' as const),
  opcode: fc.constantFrom(9 as const, 10 as const),
  payload: controlPayload,
});

export const closeCode: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 }),
);

export const closeItem: fc.Arbitrary<CloseItem> = fc.record({
  kind: fc.constant('close' as const),
  code: fc.option(closeCode, { nil: null }),
  reason: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => {
    const bytes = Buffer.from(s);
    return bytes.length <= 123 ? bytes : Buffer.from('too long');
  }),
});

export function dataItem(allowCompressed: boolean): fc.Arbitrary<DataItem> {
  return fc
    .record({
      opcode: fc.constantFrom(1 as const, 2 as const),
      binary: binaryPayload,
      text: textPayload,
      cuts: fc.array(fc.oneof(fc.integer({ min: 0, max: 8 }), payloadSize), { maxLength: 6 }),
      compressed: allowCompressed ? fc.boolean() : fc.constant(false),
      between: fc.array(fc.record({ after: fc.nat(6), opcode: fc.constantFrom(9 as const, 10 as const), payload: controlPayload }), {
        maxLength: 3,
      }),
    })
    .map(({ opcode, binary, text, cuts, compressed, between }) => ({
      kind: 'data' as const,
      opcode,
      payload: opcode === 1 ? text : binary,
      cuts,
      compressed,
      between,
    }));
}

/** A valid stream: messages and control frames, sometimes ending with a close frame. */
export function validStream(allowCompressed: boolean): fc.Arbitrary<StreamItem[]> {
  return fc
    .tuple(
      fc.array(fc.oneof({ weight: 3, arbitrary: dataItem(allowCompressed) }, { weight: 1, arbitrary: controlItem }), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.option(closeItem, { nil: null }),
    )
    .map(([items, close]) => (close === null ? items : [...items, close]));
}

export const maskKey: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });

/** A frame of any shape, valid or not: for insertion into a stream. */
export const anyFrame: fc.Arbitrary<FrameSpec> = fc.record({
  opcode: fc.integer({ min: 0, max: 15 }),
  fin: fc.boolean(),
  rsv: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) }),
  maskKey: fc.oneof({ weight: 4, arbitrary: maskKey }, { weight: 1, arbitrary: fc.constant(null) }),
  payload: fc.oneof(controlPayload, binaryPayload),
});

const at = fc.nat();
const edgeLength = fc.oneof(fc.constantFrom(...EDGE_LENGTHS), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));

export const frameMutation: fc.Arbitrary<FrameMutation> = fc.oneof(
  fc.record({ op: fc.constant('opcode' as const), at, opcode: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ op: fc.constant('fin' as const), at }),
  fc.record({ op: fc.constant('rsv' as const), at, rsv: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('mask' as const), at }),
  fc.record({ op: fc.constant('declare' as const), at, length: edgeLength }),
  fc.record({ op: fc.constant('lengthBits' as const), at, bits: fc.constantFrom(7 as const, 16 as const, 64 as const) }),
  fc.record({ op: fc.constant('drop' as const), at }),
  fc.record({ op: fc.constant('duplicate' as const), at }),
  fc.record({ op: fc.constant('swap' as const), at, with: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at, frame: anyFrame }),
  fc.record({ op: fc.constant('split' as const), at, cut: fc.nat() }),
  fc.record({ op: fc.constant('badUtf8' as const), at, pos: fc.nat(), seq: fc.nat(INVALID_UTF8.length - 1) }),
  fc.record({ op: fc.constant('payloadBit' as const), at, pos: fc.nat(), bit: fc.nat(7) }),
);

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      pos: fc.nat(),
      value: fc.constantFrom(0x00, 0x7e, 0x7f, 0x80, 0xff, 0x88, 0x89, 0x8a, 0x81, 0x82, 0x00),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      pos: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }).map(toBuffer),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('splice' as const),
      pos: fc.nat(),
      other: fc.uint8Array({ maxLength: 64 }).map(toBuffer),
      from: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('repeat' as const), pos: fc.nat(), length: fc.integer({ min: 1, max: 32 }), times: fc.nat() }),
  },
);

/** Chunk sizes to cut a stream with (cycled): from byte by byte to large reads. */
export const chunkSizes: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant([1] as number[]),
  fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 8 }),
  fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
);

export const maxPayload: fc.Arbitrary<number> = fc.constantFrom(0, 0, 16, 125, 126, 1000, 65536, 100_000);

export const parserOptions: fc.Arbitrary<ParserOptions> = fc.record({
  expectMasked: fc.boolean(),
  maxPayload,
  allowRsv1: fc.boolean(),
  skipUtf8Validation: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
