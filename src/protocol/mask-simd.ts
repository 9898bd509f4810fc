// The XOR of a long payload with a masking key in WebAssembly SIMD (16 bytes an instruction, 64 a loop
// turn): about three times the word-sized JavaScript loop on a 1 MiB payload, copies in and out
// included, and no native addon. The module is the few dozen bytes below, written out by hand with its
// text form beside each part; it owns one 64 KiB page of memory for the whole process, and a payload goes
// through it 64 KiB at a time. Where WebAssembly or its SIMD is missing, simdMask is null and frame.ts keeps
// to its JavaScript loop.

// The part of the WebAssembly JavaScript API used here (neither lib ES2022 nor @types/node 20 declares it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

/** Bytes per pass through the module's memory (one WebAssembly page; a multiple of 64 and of 4). */
const BLOCK = 65536;

// (module
//   (memory (export "m") 1)
//   (func (export "x") (param $len i32) (param $key i32) (local $i i32) (local $k v128)
//     (local.set $k (i32x4.splat (local.get $key)))
//     (block (loop
//       (br_if 1 (i32.ge_u (local.get $i) (local.get $len)))
//       ;; four times, at offsets 0, 16, 32 and 48:
//       (v128.store offset=N (local.get $i) (v128.xor (v128.load offset=N (local.get $i)) (local.get $k)))
//       (local.set $i (i32.add (local.get $i) (i32.const 64)))
//       (br 0)))))
// $len is a multiple of 64: the bytes past the payload in the last 64 are XORed too, and never copied out.
function xorAt(offset: number): number[] {
  // local.get $i; local.get $i; v128.load offset; local.get $k; v128.xor; v128.store offset
  return [0x20, 0x02, 0x20, 0x02, 0xfd, 0x00, 0x00, offset, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x00, offset];
}
const BODY = [
  ...[0x02, 0x01, 0x7f, 0x01, 0x7b], // locals: 1 i32 ($i), 1 v128 ($k)
  ...[0x20, 0x01, 0xfd, 0x11, 0x21, 0x03], // $k = i32x4.splat($key)
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x02, 0x20, 0x00, 0x4f, 0x0d, 0x01], // br_if 1 ($i >= $len)
  ...xorAt(0x00),
  ...xorAt(0x10),
  ...xorAt(0x20),
  ...xorAt(0x30),
  ...[0x20, 0x02, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x02], // $i += 64
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x0b], // br 0; end loop; end block; end func
];
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...[0x01, 0x06, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00], // types: (i32, i32) -> ()
  ...[0x03, 0x02, 0x01, 0x00], // functions: one, of type 0
  ...[0x05, 0x03, 0x01, 0x00, 0x01], // memory: one, 1 page, no maximum
  ...[0x07, 0x09, 0x02, 0x01, 0x6d, 0x02, 0x00, 0x01, 0x78, 0x00, 0x00], // exports: "m" memory 0, "x" func 0
  ...[0x0a, BODY.length + 2, 0x01, BODY.length, ...BODY], // code: one body
]);

type SimdMask = (source: Uint8Array, word: number, target: Uint8Array, targetOffset: number, length: number) => void;

function load(): SimdMask | null {
  let memory: Uint8Array;
  let xor: (length: number, word: number) => void;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
    memory = new Uint8Array((instance.exports.m as { buffer: ArrayBuffer }).buffer);
    xor = instance.exports.x as (length: number, word: number) => void;
  } catch {
    // No WebAssembly, or no SIMD in it (a runtime that refuses the module): the JavaScript loop serves.
    return null;
  }
  return (source, word, target, targetOffset, length) => {
    for (let done = 0; done < length; done += BLOCK) {
      const n = Math.min(BLOCK, length - done);
      memory.set(source.subarray(done, done + n));
      xor((n + 63) & ~63, word);
      target.set(memory.subarray(0, n), targetOffset + done);
    }
  };
}

/**
 * XORs `length` bytes of `source` (from 0) into `target` at `targetOffset` with `word`: the four key bytes
 * that apply to source[0..3], the first in the lowest byte (WebAssembly is little-endian). Source and
 * target may be the same bytes. Null where WebAssembly SIMD is not available.
 */
export const simdMask: SimdMask | null = load();
