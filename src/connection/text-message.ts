// What a `message` listener gets for a text message: a genuine Buffer (its prototype is Buffer.prototype,
// so `deepStrictEqual(message, Buffer.from('hi'))` and every other Buffer check accept it) that remembers
// it was text, so that `client.send(message)` relays it as text, not binary.
//
// The mark is a private class field stamped on the Buffer itself: invisible to reflection, to
// util.inspect and to deepStrictEqual, gone from any copy or view (`Buffer.from(message)`,
// `message.subarray()` are plain Buffers), and cheap: a private field added to an object is one hidden-class
// transition, the same for every message, where a WeakSet entry or a defined symbol property costs several
// times more per message.

/** A Buffer holding a text message's UTF-8 bytes. `toString()` gives the text. */
export type TextMessage = Buffer;

/** A constructor that returns the object it is given, so that a subclass's field lands on that object. */
class Carrier {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: returning the target is what this class is for
    return target;
  }
}

class TextMark extends Carrier {
  #text = true;

  static has(value: object): boolean {
    return #text in value;
  }
}

/** A new Buffer over the bytes of `data` (no copy), marked as text. */
export function toTextMessage(data: Buffer): TextMessage {
  // A view of its own: `data` may be a buffer shared with other messages (an empty one, say).
  const message = data.subarray(0);
  new TextMark(message);
  return message;
}

/** Whether `value` is a text message handed to a `message` listener (not a copy or a view of one). */
export function isTextMessage(value: unknown): value is TextMessage {
  return typeof value === 'object' && value !== null && TextMark.has(value);
}
