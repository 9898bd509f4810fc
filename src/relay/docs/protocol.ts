// The y-websocket wire protocol, as y-protocols defines it and y-websocket's WebsocketProvider speaks it:
// each WebSocket message is binary, a varuint message type and its body.
//
//   0 sync        a varuint sync type and a varuint8array: step 1 (a state vector: "send me what I
//                 lack"), step 2 (the update answering a step 1) or update (a change as it happens)
//   1 awareness   a varuint8array: an awareness update (who is here, cursors)
//   2 auth        a varuint (0: permission denied) and a reason string
//   3 query awareness  (no body): "send me every awareness state you know"
//
// The encoding of the bodies is y-protocols' (sync.js, awareness.js, auth.js); this file only frames
// them and reads the framing, so that the relay can check an update before anything applies it.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as auth from 'y-protocols/auth';
import * as sync from 'y-protocols/sync';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

export type DocMessage =
  | { kind: 'step1'; stateVector: Uint8Array }
  | { kind: 'update'; update: Uint8Array; step2: boolean }
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'query-awareness' }
  | { kind: 'auth' };

/** Reads one message; throws a DocProtocolError for anything that is not one. */
export function readDocMessage(data: Uint8Array): DocMessage {
  const decoder = decoding.createDecoder(data);
  try {
    const type = decoding.readVarUint(decoder);
    switch (type) {
      case MESSAGE_SYNC: {
        const syncType = decoding.readVarUint(decoder);
        const body = decoding.readVarUint8Array(decoder);
        if (syncType === sync.messageYjsSyncStep1) return { kind: 'step1', stateVector: body };
        if (syncType === sync.messageYjsSyncStep2 || syncType === sync.messageYjsUpdate)
          return { kind: 'update', update: body, step2: syncType === sync.messageYjsSyncStep2 };
        throw new DocProtocolError(`unknown sync message type ${syncType}`);
      }
      case MESSAGE_AWARENESS:
        return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
      case MESSAGE_QUERY_AWARENESS:
        return { kind: 'query-awareness' };
      case MESSAGE_AUTH:
        return { kind: 'auth' };
      default:
        throw new DocProtocolError(`unknown message type ${type}`);
    }
  } catch (error) {
    if (error instanceof DocProtocolError) throw error;
    throw new DocProtocolError('a message cut short');
  }
}

export class DocProtocolError extends Error {
  constructor(detail: string) {
    super(`Not a y-websocket message: ${detail}`);
  }
}

/** sync step 1 with a state vector. */
export function step1Message(stateVector: Uint8Array): Uint8Array {
  return syncMessage(sync.messageYjsSyncStep1, stateVector);
}

/** sync step 2 carrying an update (the answer to a step 1). */
export function step2Message(update: Uint8Array): Uint8Array {
  return syncMessage(sync.messageYjsSyncStep2, update);
}

export function updateMessage(update: Uint8Array): Uint8Array {
  return syncMessage(sync.messageYjsUpdate, update);
}

/** The header (types and the body's length) written by lib0, then the body copied once beside it. */
function syncMessage(syncType: number, body: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint(encoder, body.length);
  const header = encoding.toUint8Array(encoder);
  const message = new Uint8Array(header.length + body.length);
  message.set(header, 0);
  message.set(body, header.length);
  return message;
}

export function awarenessMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

export function queryAwarenessMessage(): Uint8Array {
  return Uint8Array.of(MESSAGE_QUERY_AWARENESS);
}

/** What the provider logs as "Permission denied to access <url>.\n<reason>". */
export function permissionDeniedMessage(reason: string): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AUTH);
  auth.writePermissionDenied(encoder, reason);
  return encoding.toUint8Array(encoder);
}
