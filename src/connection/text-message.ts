// What a `message` listener gets for a text message: a Buffer (every Buffer method works on it) that
// remembers it was text, so that `client.send(message)` relays it as text, not binary.

/** A Buffer holding a text message's UTF-8 bytes. `toString()` gives the text. */
export interface TextMessage extends Buffer {
  readonly isText: true;
}

class TextMessageView extends Uint8Array {}
Object.setPrototypeOf(TextMessageView.prototype, Buffer.prototype);
Object.defineProperty(TextMessageView.prototype, 'isText', { value: true });

/** Views the bytes of `data` (no copy) as a TextMessage. */
export function toTextMessage(data: Uint8Array): TextMessage {
  return new TextMessageView(data.buffer as ArrayBuffer, data.byteOffset, data.length) as unknown as TextMessage;
}

export function isTextMessage(value: unknown): value is TextMessage {
  return value instanceof TextMessageView;
}
