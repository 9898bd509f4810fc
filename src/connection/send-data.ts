// What send(), ping() and pong() accept, and how it becomes bytes: as in `ws`, a string, a number (sent as
// its text), a Buffer, an ArrayBuffer, a view of one, a Blob (read before it is sent), or anything
// Buffer.from() takes (an array of bytes, say).

/** Anything `Buffer.from()` takes, as `@types/ws` spells it. */
type BufferFromLike =
  | readonly number[]
  | readonly any[]
  | { valueOf(): ArrayBuffer }
  | { valueOf(): SharedArrayBuffer }
  | { valueOf(): Uint8Array }
  | { valueOf(): readonly number[] }
  | { valueOf(): string }
  | { [Symbol.toPrimitive](hint: string): string };

export type SendData = string | number | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView | Blob | BufferFromLike;

/** Whether `value` is a Blob (or a File), recognised as `ws` does, without instanceof across realms. */
export function isBlob(value: unknown): value is Blob {
  if (typeof value !== 'object' || value === null) return false;
  const blob = value as Blob & { [Symbol.toStringTag]?: unknown };
  const tag = blob[Symbol.toStringTag];
  return (
    typeof blob.arrayBuffer === 'function' &&
    typeof blob.type === 'string' &&
    typeof blob.stream === 'function' &&
    (tag === 'Blob' || tag === 'File')
  );
}

/**
 * The bytes of anything but a string, a number or a Blob: a Buffer as it is, a view over the memory of
 * an ArrayBuffer or a typed array (no copy), otherwise `Buffer.from(data)` (which throws a TypeError for
 * what it cannot take).
 */
export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return (Buffer.from as (value: unknown) => Buffer)(data);
}

/** How many bytes `data` sends: a Blob's size, a string's UTF-8 length, otherwise its bytes'. */
export function byteLengthOf(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (isBlob(data)) return data.size;
  return toBuffer(data).length;
}
