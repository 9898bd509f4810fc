// wavecast/browser: the relay's client for browsers (and Node, with a WebSocket passed in).
export { WavecastClient, PROTOCOL } from './client.js';
export type {
  ClientOptions,
  ClientEvents,
  ChannelMessage,
  ConnectionState,
  ChannelPresence,
  GapInfo,
  PresenceInfo,
  ServerError,
  WebSocketLike,
  WebSocketConstructor,
} from './client.js';
export { backoffDelay, type BackoffOptions } from '../v1/backoff.js';
export { OfflineQueue, OfflineQueueFullError, type QueuePolicy } from './offline-queue.js';
