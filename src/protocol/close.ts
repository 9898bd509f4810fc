// Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4), validated both ways.
import { isUtf8 } from 'node:buffer';

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
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** Longest close reason: a control payload is 125 bytes, two of which hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

export type CloseParse =
  | { ok: true; code: number; reason: Buffer }
  | { ok: false; closeCode: number; message: string };

/** Reads a received close frame's payload. An empty payload means "no status" (reported as 1005). */
export function parseClosePayload(payload: Uint8Array): CloseParse {
  if (payload.length === 0) return { ok: true, code: CloseCode.NoStatus, reason: Buffer.alloc(0) };
  if (payload.length === 1) {
    return { ok: false, closeCode: CloseCode.ProtocolError, message: 'Close frame payload of 1 byte' };
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    return { ok: false, closeCode: CloseCode.ProtocolError, message: `Invalid close code ${code}` };
  }
  const reason = Buffer.from(payload.buffer, payload.byteOffset + 2, payload.length - 2);
  if (!isUtf8(reason)) {
    return { ok: false, closeCode: CloseCode.InvalidPayload, message: 'Close reason is not valid UTF-8' };
  }
  return { ok: true, code, reason };
}

/**
 * Builds the payload of a close frame we send. Throws a TypeError for a code that may not be sent and a
 * RangeError for a reason over 123 bytes. `code` undefined sends an empty payload.
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Buffer {
  if (code === undefined) {
    if (reason !== undefined && reason.length > 0) throw new TypeError('A close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (typeof code !== 'number' || !Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new TypeError(`Invalid close code: ${String(code)} (use 1000, 1001-1003, 1007-1014 or 3000-4999)`);
  }
  const reasonBytes = reason === undefined ? 0 : typeof reason === 'string' ? Buffer.byteLength(reason) : reason.length;
  if (reasonBytes > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Close reason is ${reasonBytes} bytes; the limit is ${MAX_CLOSE_REASON_BYTES}`);
  }
  const out = Buffer.allocUnsafe(2 + reasonBytes);
  out.writeUInt16BE(code, 0);
  if (typeof reason === 'string') out.write(reason, 2);
  else if (reason) out.set(reason, 2);
  return out;
}
