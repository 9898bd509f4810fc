// The options of `new WebSocket(url, protocols, options)`: the `ws` package's ClientOptions, typed so that
// options written against `@types/ws` are accepted as they are. Declared beside the class whose constructor
// takes them (websocket.ts); options.ts checks them and fills in the defaults. Any other option of `http.request()`
// or `tls.connect()` (the constructor also takes a ClientRequestArgs) goes to them as given.
import type { Agent, ClientRequest, ClientRequestArgs, OutgoingHttpHeaders } from 'node:http';
import type { createConnection as netCreateConnection } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { PerMessageDeflateOptions } from '../protocol/deflate.js';
import type { WebSocket } from '../connection/websocket.js';

/** Sends each opening handshake request instead of `request.end()` (to set last headers, say). */
export type FinishRequest = (request: ClientRequest, websocket: WebSocket) => void;

export interface ClientOptions extends Pick<ClientRequestArgs, 'localPort' | 'lookup' | 'hints' | 'signal'>, SecureContextOptions {
  /** Extra request headers. The handshake's own headers (Upgrade, Sec-WebSocket-*) cannot be replaced. */
  headers?: OutgoingHttpHeaders | undefined;
  /** The Origin header (Sec-WebSocket-Origin with protocolVersion 8). */
  origin?: string | undefined;
  /** Sec-WebSocket-Version: 13 (default) or 8; anything else throws a RangeError. */
  protocolVersion?: number | undefined;
  /** Fail the connection if the opening handshake has not completed within this many ms (per request). */
  handshakeTimeout?: number | undefined;
  /** Largest message accepted, in bytes (default 100 MiB; 0 for no limit); larger ones close with 1009. */
  maxPayload?: number | undefined;
  /** Follow 3xx redirects (default false). */
  followRedirects?: boolean | undefined;
  /** How many redirects to follow at most (default 10). */
  maxRedirects?: number | undefined;
  /** permessage-deflate: offered by default (true), as in `ws`; false not to offer it. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  skipUTF8Validation?: boolean | undefined;
  /** Answer pings automatically (default true). */
  autoPong?: boolean | undefined;
  /** How long the closing handshake may take before the socket is destroyed (ms, default 30000). */
  closeTimeout?: number | undefined;
  /** Hand out several messages, pings and pongs in one turn of the event loop (default true). */
  allowSynchronousEvents?: boolean | undefined;
  /** Fills each frame's 4-byte masking key (default: random bytes from crypto). */
  generateMask?(mask: Buffer): void;
  /** Most frames one message may come in (0, the default: no limit); more close the connection with 1008. */
  maxFragments?: number | undefined;
  /** Most reads one frame may arrive in (default 262144; 0: no limit); more close the connection with 1008. */
  maxBufferedChunks?: number | undefined;
  /** Accepted for `ws`'s sake; Wavecast never holds more than one automatic pong (see the README). */
  maxPendingAutoPongs?: number | undefined;
  /** Called instead of `request.end()` to send each opening handshake request. */
  finishRequest?: FinishRequest | undefined;
  agent?: Agent | undefined;
  localAddress?: string | undefined;
  family?: number | undefined;
  /** Ignored, as in `ws`: the URL decides. */
  host?: string | undefined;
  /** Ignored, as in `ws`: the URL decides. */
  protocol?: string | undefined;
  servername?: string | undefined;
  rejectUnauthorized?: boolean | undefined;
  checkServerIdentity?(servername: string, cert: any): Error | undefined | boolean;
  /** Makes the connection (called with the request's options), instead of net.connect / tls.connect. */
  createConnection?: ClientRequestArgs['createConnection'] | typeof netCreateConnection | undefined;
  /** `user:password` for Basic authentication (credentials in the URL take precedence). */
  auth?: string | undefined;
}
