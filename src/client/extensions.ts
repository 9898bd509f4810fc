// What the client offers in Sec-WebSocket-Extensions, and the check of the server's answer.
//
// TODO(permessage-deflate): the deflate module (src/protocol/deflate.ts, written in parallel) registers a
// factory here with setClientExtensionFactory() from the module that wires it in (as the server does with
// setExtensionNegotiatorFactory). Until then no factory is set: the client offers no extension, and a
// server that answers with one fails the connection, as RFC 6455 4.1 requires.
import type { MessageCompression } from '../connection/websocket.js';
import { parseExtensions } from '../protocol/handshake.js';

/** One connection's offer: the header to send, and the check of what the server accepted. */
export interface ClientExtensionOffer {
  /** The Sec-WebSocket-Extensions value to send. */
  readonly header: string;
  /**
   * Checks the server's Sec-WebSocket-Extensions value (already known to be well-formed) against this
   * offer; returns the connection's compression, or a message saying why the answer is refused.
   */
  accept(response: string): { ok: true; compression: MessageCompression | null } | { ok: false; message: string };
}

/** Builds an offer from the `perMessageDeflate` option, or returns null to offer nothing. */
export type ClientExtensionFactory = (option: boolean | Record<string, unknown>, maxPayload: number) => ClientExtensionOffer | null;

let factory: ClientExtensionFactory | null = null;

/** @internal Set by the permessage-deflate module. */
export function setClientExtensionFactory(next: ClientExtensionFactory | null): void {
  factory = next;
}

/** The offer for one connection, or null when nothing is offered. */
export function createOffer(option: boolean | Record<string, unknown> | undefined, maxPayload: number): ClientExtensionOffer | null {
  const setting = option ?? true;
  if (setting === false || factory === null) return null;
  return factory(setting, maxPayload);
}

export type ExtensionCheck = { ok: true; extensions: string; compression: MessageCompression | null } | { ok: false; message: string };

/** Checks the server's Sec-WebSocket-Extensions header: only what was offered may come back. */
export function checkResponseExtensions(header: string | undefined, offer: ClientExtensionOffer | null): ExtensionCheck {
  if (header === undefined) return { ok: true, extensions: '', compression: null };
  const parsed = parseExtensions(header);
  if (parsed === null) return { ok: false, message: `Invalid Sec-WebSocket-Extensions header in the server response: ${header}` };
  if (parsed.length === 0) return { ok: true, extensions: '', compression: null };
  if (offer === null) {
    const names = parsed.map((extension) => extension.name).join(', ');
    return { ok: false, message: `Server sent a Sec-WebSocket-Extensions header (${names}) but no extension was offered` };
  }
  const result = offer.accept(header);
  if (!result.ok) return result;
  return { ok: true, extensions: header.trim(), compression: result.compression };
}
