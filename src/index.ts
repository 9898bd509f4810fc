// The public API of wavecast.
export { WebSocket } from './connection/websocket.js';
export type { BinaryType, RawData, SendData, SendOptions, ConnectionOptions } from './connection/websocket.js';
export { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './connection/events.js';
export { isTextMessage, type TextMessage } from './connection/text-message.js';
export { WebSocketServer } from './server/websocket-server.js';
export type { ServerOptions, VerifyClientInfo, VerifyClientCallback, UpgradeCallback } from './server/websocket-server.js';
export { UpgradeRejection } from './server/admission.js';
export type { AuthenticateHook, AuthenticateInfo } from './server/admission.js';
export type { PublishOptions } from './server/topics.js';
export type { ClusterAdapter, ClusterNode } from './server/cluster-hook.js';
export { InProcessAdapter, InProcessBus } from './cluster/in-process.js';
export { BrokerAdapter } from './cluster/broker-adapter.js';
export type { AdapterLog, AdapterLogLevel, AdapterState, AdapterStats, BrokerAdapterOptions, ReconnectInfo } from './cluster/broker-adapter.js';
export { MAX_TOPIC_BYTES } from './cluster/wire.js';
// RedisAdapter and NatsAdapter are imported from 'wavecast/redis' and 'wavecast/nats'.
export type { BackpressurePolicy } from './server/backpressure.js';
export type { HeartbeatOptions } from './server/sweep.js';
export type { GracefulCloseOptions } from './server/shutdown.js';
export type { ServerStats } from './server/stats.js';
export { ProtocolError } from './protocol/parser.js';
export type { PerMessageDeflateOptions } from './protocol/deflate.js';
export { CloseCode } from './protocol/close.js';
// Loading the client module makes `new WebSocket(url)` a client.
import './client/connect.js';
export type { ClientOptions } from './client/options.js';
