// The public API of wavecast. As in `ws`, the module is also the WebSocket class: the default export (and
// what `require('wavecast')` returns) is `WebSocket`, carrying `WebSocket`, `WebSocketServer`, `Server`
// and `createWebSocketStream`, and the type names of `@types/ws` (`WebSocket.RawData`, ...).
import type { IncomingMessage } from 'node:http';
import { WebSocket } from './client/websocket.js';
import type { BinaryType as BinaryTypeName, RawData as RawDataType } from './connection/websocket.js';
import type { ClientOptions as ClientOptionsType } from './client/client-options.js';
import { createWebSocketStream } from './connection/stream.js';
import type { CloseEventShape, ErrorEventShape, MessageEventShape, OpenEventShape } from './connection/events.js';
import type { AddEventListenerOptions, WebSocketEventMap as EventMap } from './connection/browser-face.js';
import { WebSocketServer as ServerBase } from './server/websocket-server.js';
import type {
  ServerOptions as ServerOptionsType,
  VerifyClientAsync,
  VerifyClientSync,
  WebSocketClass as SocketClass,
} from './server/websocket-server.js';
import type { PerMessageDeflateOptions as PerMessageDeflateOptionsType } from './protocol/deflate.js';
import type { FinishRequest } from './client/client-options.js';

/**
 * The server users import: it makes its connections with the package's WebSocket unless given another
 * class as the `WebSocket` option (a subclass of it, as in `ws`), so that the sockets it accepts are
 * `instanceof WebSocket`. (server/ cannot name the client's class itself: server/ and client/ never import
 * each other.)
 */
class WebSocketServer<T extends SocketClass = typeof WebSocket> extends ServerBase<T> {
  constructor(options: ServerOptionsType<T> = {}, callback?: () => void) {
    super(options.WebSocket === undefined ? { ...options, WebSocket: WebSocket as SocketClass as T } : options, callback);
  }
}

export { WebSocket, createWebSocketStream, WebSocketServer };
export type { BinaryType, RawData, SendData, SendOptions, ConnectionOptions } from './connection/websocket.js';
export { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './connection/events.js';
export type {
  CloseEventInit,
  ErrorEventInit,
  MessageEventInit,
  CloseEventShape,
  ErrorEventShape,
  MessageEventShape,
  OpenEventShape,
} from './connection/events.js';
export type { AddEventListenerOptions, WebSocketEventMap } from './connection/browser-face.js';
export { isTextMessage, type TextMessage } from './connection/text-message.js';
export type {
  ServerOptions,
  VerifyClientInfo,
  VerifyClientCallback,
  VerifyClientSync,
  VerifyClientAsync,
  UpgradeCallback,
} from './server/websocket-server.js';
export { UpgradeRejection } from './server/admission.js';
export type { AuthenticateHook, AuthenticateInfo } from './server/admission.js';
export type { PublishOptions } from './server/topics.js';
export type { ClusterAdapter, ClusterNode, ClusterStamp } from './server/cluster-hook.js';
export { InProcessAdapter, InProcessBus } from './cluster/in-process.js';
export { BrokerAdapter } from './cluster/broker-adapter.js';
export type {
  AdapterLog,
  AdapterLogLevel,
  AdapterState,
  AdapterStats,
  BrokerAdapterOptions,
  ReconnectInfo,
} from './cluster/broker-adapter.js';
export { MAX_TOPIC_BYTES } from './cluster/wire.js';
// RedisAdapter and NatsAdapter are imported from 'wavecast/redis' and 'wavecast/nats'.
export type { BackpressurePolicy } from './server/backpressure.js';
export type { HeartbeatOptions } from './server/sweep.js';
export type { GracefulCloseOptions } from './server/shutdown.js';
export type { ServerStats } from './server/stats.js';
export { ProtocolError } from './protocol/parser.js';
export type { ProtocolErrorConstructor } from './protocol/parser.js';
export type { PerMessageDeflateOptions } from './protocol/deflate.js';
export { CloseCode } from './protocol/close.js';
export type { ClientOptions, FinishRequest } from './client/client-options.js';

// The shape of `ws`'s module: the class carries the rest of the API.
declare module './client/websocket.js' {
  namespace WebSocket {
    /** The class itself, as `require('wavecast').WebSocket`. */
    const WebSocket: WebSocketClass;
    const WebSocketServer: WebSocketServerClass;
    /** `WebSocketServer`, under the name `ws` 8 keeps for it. */
    const Server: WebSocketServerClass;
    const createWebSocketStream: CreateWebSocketStream;
    // The type names of `@types/ws`.
    type RawData = RawDataType;
    type Data = string | Buffer | ArrayBuffer | Buffer[];
    type BinaryType = BinaryTypeName;
    type CertMeta = string | string[] | Buffer | Buffer[];
    type ClientOptions = ClientOptionsType;
    type ServerOptions<T extends SocketClass = typeof WebSocket> = ServerOptionsType<T>;
    type PerMessageDeflateOptions = PerMessageDeflateOptionsType;
    type VerifyClientCallbackSync<Request extends IncomingMessage = IncomingMessage> = VerifyClientSync<Request>;
    type VerifyClientCallbackAsync<Request extends IncomingMessage = IncomingMessage> = VerifyClientAsync<Request>;
    type FinishRequestCallback = FinishRequest;
    type Event = OpenEventShape;
    type ErrorEvent = ErrorEventShape;
    type CloseEvent = CloseEventShape;
    type MessageEvent = MessageEventShape;
    type EventListenerOptions = AddEventListenerOptions;
    type WebSocketEventMap = EventMap;
    interface AddressInfo {
      address: string;
      family: string;
      port: number;
    }
  }
}
type WebSocketClass = typeof WebSocket;
type WebSocketServerClass = typeof WebSocketServer;
type CreateWebSocketStream = typeof createWebSocketStream;

Object.defineProperties(WebSocket, {
  WebSocket: { value: WebSocket, enumerable: true, writable: true, configurable: true },
  WebSocketServer: { value: WebSocketServer, enumerable: true, writable: true, configurable: true },
  Server: { value: WebSocketServer, enumerable: true, writable: true, configurable: true },
  createWebSocketStream: { value: createWebSocketStream, enumerable: true, writable: true, configurable: true },
});

export default WebSocket;
