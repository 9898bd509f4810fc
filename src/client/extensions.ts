// What the client offers in Sec-WebSocket-Extensions (permessage-deflate, on by default as in `ws`), and
// the check of the server's answer.
import type { MessageCompression } from '../connection/websocket.js';
import { createDeflateCompression } from '../connection/deflate-codec.js';
import { acceptDeflateElement, deflateOffer, resolveDeflateOptions, type PerMessageDeflateOptions } from '../protocol/deflate.js';
import { parseExtensions, type ExtensionOffer } from '../protocol/handshake.js';

/** One connection's offer: the header to send, and the check of what the server accepted. */
export interface ClientExtensionOffer {
  /** The Sec-WebSocket-Extensions value to send. */
  readonly header: string;
  /**
   * Checks the server's one permessage-deflate element (parsed from the header `response`) against this
   * offer; returns the connection's compression, or a message saying why the answer is refused.
   */
  accept(element: ExtensionOffer, response: string): { ok: true; compression: MessageCompression | null } | { ok: false; message: string };
}

/** The offer for one connection, or null when nothing is offered. Throws a RangeError for bad options. */
export function createOffer(option: boolean | PerMessageDeflateOptions | undefined, maxPayload: number): ClientExtensionOffer | null {
  const resolved = resolveDeflateOptions(option ?? true);
  if (resolved === null) return null;
  return {
    header: deflateOffer(resolved),
    accept(element, response) {
      const negotiated = acceptDeflateElement(element, response, resolved);
      if (!negotiated.ok) return negotiated;
      const agreement = negotiated.agreement;
      return {
        ok: true,
        compression: agreement ? createDeflateCompression(agreement.params, resolved, { isServer: false, maxPayload }) : null,
      };
    },
  };
}

export type ExtensionCheck = { ok: true; extensions: string; compression: MessageCompression | null } | { ok: false; message: string };

/**
 * Checks the server's Sec-WebSocket-Extensions header (parsed here, once): only what was offered may come
 * back. Failures are worded as `ws` words them; `extensions` is what `ws.extensions` says: the names of the extensions in use.
 */
export function checkResponseExtensions(header: string | undefined, offer: ClientExtensionOffer | null): ExtensionCheck {
  // An empty header names no extension (RFC 6455 9.1; `ws` fails the connection).
  if (header === undefined || header.trim() === '') return { ok: true, extensions: '', compression: null };
  if (offer === null) return { ok: false, message: 'Server sent a Sec-WebSocket-Extensions header but no extension was requested' };
  const parsed = parseExtensions(header);
  if (parsed === null) return { ok: false, message: 'Invalid Sec-WebSocket-Extensions header' };
  if (parsed.length !== 1 || parsed[0]!.name !== 'permessage-deflate')
    return { ok: false, message: 'Server indicated an extension that was not requested' };
  const result = offer.accept(parsed[0]!, header.trim());
  if (!result.ok) return { ok: false, message: 'Invalid Sec-WebSocket-Extensions header' };
  return { ok: true, extensions: 'permessage-deflate', compression: result.compression };
}
