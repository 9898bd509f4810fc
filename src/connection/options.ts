// The settings and collaborators of a WebSocket connection: how it reads and closes, what send() takes,
// permessage-deflate as it uses it, and the server that accepted it (declared here so that connection/
// never imports server/).
import type { Inflater } from '../protocol/machine.js';
import type { WebSocket } from './websocket.js';

/** As in `ws`: a frame that arrives in more reads than this fails the connection. */
export const DEFAULT_MAX_BUFFERED_CHUNKS = 256 * 1024;

export interface SendOptions {
  /** Send as binary (default: true unless the data is a string or a received text message). */
  binary?: boolean;
  /** False to send a fragment; the message ends with a send whose fin is true. */
  fin?: boolean;
  /** Mask the frame (default: true on a client, false on a server). */
  mask?: boolean;
  /** Compress with permessage-deflate when negotiated (default true). */
  compress?: boolean;
}

/**
 * permessage-deflate as the connection uses it; set once negotiated. The protocol machine inflates through
 * it (decompress, the machine's Inflater); the send path compresses through it.
 */
export interface MessageCompression extends Inflater {
  /** Messages smaller than this are sent uncompressed. */
  readonly threshold: number;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  /** Frees zlib resources; called once the connection has closed. */
  cleanup(): void;
}

/**
 * How a connection reads and closes. A server hands the same object to all its connections (it is never
 * changed), so that these settings cost nothing per connection.
 */
export interface ConnectionOptions {
  maxPayload?: number;
  skipUTF8Validation?: boolean;
  /** Answer pings automatically (default true). */
  autoPong?: boolean;
  /** How long to wait for the peer's half of the closing handshake before destroying the socket (ms). */
  closeTimeout?: number;
  /** Hand out several messages, pings and pongs in one turn of the event loop (default true). */
  allowSynchronousEvents?: boolean;
  /** Fills each frame's 4-byte masking key (a client's; default: random bytes from crypto). */
  generateMask?: (mask: Buffer) => void;
  /** Most frames one message may come in (0, the default: no limit); more close the connection with 1008. */
  maxFragments?: number;
  /** Most reads one frame may arrive in (default 262144, 0: no limit); more close the connection with 1008. */
  maxBufferedChunks?: number;
}

/**
 * @internal The server that accepted a connection, as the connection reaches it: subscribe() and
 * unsubscribe() go to its topics, and it is told of the close. Declared here so that connection/ never
 * imports server/.
 */
export interface ServerHost {
  _subscribe(ws: WebSocket, topic: string): boolean;
  _unsubscribe(ws: WebSocket, topic: string): boolean;
  _isSubscribed(ws: WebSocket, topic: string): boolean;
  /** The topics `ws` is subscribed to, in the order it subscribed. */
  _topicsOf(ws: WebSocket): string[];
  /** The connection has closed (topics, limits and shutdown need to know). */
  _clientClosed(ws: WebSocket): void;
  /**
   * Whether a message of `bytes` may be queued for `ws` (the server's slow-client policy, which every path
   * that writes to a peer passes). False when it is not: the policy has dropped it or closed `ws`.
   */
  _admit(ws: WebSocket, bytes: number): boolean;
}
