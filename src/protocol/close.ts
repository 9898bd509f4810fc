// Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4), validated both ways.
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  Unsupported: 1003,
  /** Reported when a close frame carried no status code; never sent. */
  NoStatus: 1005,
  /** Reported when the connection was lost without a close frame; never sent. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reported when the TLS handshake failed; never sent. */
  TlsHandshake: 1015,
} as const;

/** Whether a code may appear in a close frame on the wire. */
export function isValidWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Longest close reason: a control payload is 125 bytes, two of which hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Builds the payload of a close frame we send, with the checks and messages of `ws`: a TypeError for a code
 * that may not be sent (or a reason that is neither a string nor bytes), a RangeError for a reason over 123
 * bytes. `code` undefined sends an empty payload (a reason without a code is not sent).
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  if (typeof code !== 'number' || !isValidWireCloseCode(code)) {
    throw new TypeError('First argument must be a valid error code number');
  }
  // As in `ws`, what has no length (none, '', or not a string at all) sends the code alone.
  if (reason === undefined || reason === null || !(reason as { length?: number }).length) {
    const out = Buffer.allocUnsafe(2);
    out.writeUInt16BE(code, 0);
    return out;
  }
  if (typeof reason !== 'string' && !(reason instanceof Uint8Array)) {
    throw new TypeError('Second argument must be a string or a Uint8Array');
  }
  const reasonBytes = typeof reason === 'string' ? Buffer.byteLength(reason) : reason.length;
  if (reasonBytes > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`The message must not be greater than ${MAX_CLOSE_REASON_BYTES} bytes`);
  }
  const out = Buffer.allocUnsafe(2 + reasonBytes);
  out.writeUInt16BE(code, 0);
  if (typeof reason === 'string') out.write(reason, 2);
  else out.set(reason, 2);
  return out;
}
