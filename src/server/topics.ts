// Pub/sub for one server: which connections are subscribed to which topics, and publish/broadcast,
// which frame a message once and write the same bytes to every recipient.
import { Opcode, headerLength, encodeFrame, writeHeader } from '../protocol/frame.js';
import { isTextMessage } from '../connection/text-message.js';
import { WebSocket, type SendData, type TopicHost } from '../connection/websocket.js';

export interface PublishOptions {
  /** Send as binary (default: false for strings and received text messages, true otherwise). */
  binary?: boolean;
  /**
   * Compress with permessage-deflate where negotiated (default true). Reserved: published messages go
   * uncompressed until the shared per-publish compression is wired in.
   */
  compress?: boolean;
  /** A connection (usually the sender) or a collection of connections that must not get the message. */
  except?: WebSocket | Iterable<WebSocket>;
}

/** Decides, per recipient, whether a published frame may be queued (see backpressure.ts). */
export interface DeliveryGate {
  admit(ws: WebSocket, bytes: number): boolean;
}

/**
 * Told when a topic gets its first subscriber and when it loses its last (the cluster hook uses it to
 * subscribe on a broker only for topics with local subscribers). `topicAdded` runs before the
 * subscription is recorded: if it throws, the subscription is refused and the error goes to the caller.
 */
export interface TopicWatcher {
  topicAdded(topic: string): void;
  topicRemoved(topic: string): void;
}

/** A message framed once: the buffers every recipient gets, and their total size. */
interface PreparedMessage {
  frames: Buffer[];
  bytes: number;
}

export class TopicRegistry implements TopicHost {
  private readonly _subscribers = new Map<string, Set<WebSocket>>();
  /** Hears of topics gaining their first and losing their last subscriber (set by the cluster hook). */
  watcher: TopicWatcher | null = null;

  constructor(private readonly _gate: DeliveryGate) {}

  /** @internal Called by WebSocket#subscribe. */
  _subscribe(ws: WebSocket, topic: string): boolean {
    if (ws._topics !== null && ws._topics.has(topic)) return false;
    let set = this._subscribers.get(topic);
    if (set === undefined) {
      this.watcher?.topicAdded(topic);
      set = new Set();
      this._subscribers.set(topic, set);
    }
    (ws._topics ??= new Set()).add(topic);
    set.add(ws);
    return true;
  }

  /** @internal Called by WebSocket#unsubscribe. */
  _unsubscribe(ws: WebSocket, topic: string): boolean {
    const topics = ws._topics;
    if (topics === null || !topics.delete(topic)) return false;
    this._remove(ws, topic);
    return true;
  }

  /** Forgets every subscription of a connection that has closed. */
  removeAll(ws: WebSocket): void {
    const topics = ws._topics;
    if (topics === null) return;
    ws._topics = null;
    for (const topic of topics) this._remove(ws, topic);
  }

  private _remove(ws: WebSocket, topic: string): void {
    const set = this._subscribers.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) {
      this._subscribers.delete(topic);
      this.watcher?.topicRemoved(topic);
    }
  }

  subscriberCount(topic: string): number {
    return this._subscribers.get(String(topic))?.size ?? 0;
  }

  /** The topics that have at least one subscriber. */
  topics(): string[] {
    return [...this._subscribers.keys()];
  }

  /** Writes `data` to every open subscriber of `topic`; returns how many it was written to. */
  publish(topic: string, data: SendData, options?: PublishOptions): number {
    const set = this._subscribers.get(String(topic));
    if (set === undefined || set.size === 0) return 0;
    return this.deliver(set, data, options);
  }

  /** Writes `data` to every connection in `recipients` that is open; returns how many it was written to. */
  deliver(recipients: Iterable<WebSocket>, data: SendData, options?: PublishOptions): number {
    const message = prepare(data, options?.binary);
    // COMPRESSION (per publish): when options.compress !== false and recipients negotiated
    // permessage-deflate without server context takeover, compress the payload once here and write the
    // RSV1 frame to those recipients (the plain frame to the rest). Wired in after the deflate merge.
    const except = exceptSet(options?.except);
    let count = 0;
    for (const ws of recipients) {
      if (ws._readyState !== WebSocket.OPEN || ws._socket === null) continue;
      if (except !== null && except.has(ws)) continue;
      if (!this._gate.admit(ws, message.bytes)) continue;
      if (ws._sendPrepared(message.frames, message.bytes)) count++;
    }
    return count;
  }
}

/** Frames a message once (server frames are never masked). Strings are encoded straight after the header. */
function prepare(data: SendData, binary: boolean | undefined): PreparedMessage {
  if (typeof data === 'number') data = String(data);
  if (typeof data === 'string') {
    const length = Buffer.byteLength(data);
    const opcode = binary === true ? Opcode.Binary : Opcode.Text;
    const hlen = headerLength(length, false);
    const frame = Buffer.allocUnsafe(hlen + length);
    writeHeader(frame, 0, opcode, true, false, length, null);
    frame.write(data, hlen);
    return { frames: [frame], bytes: frame.length };
  }
  const payload = toBuffer(data);
  const isBinary = binary ?? !isTextMessage(data);
  const frames = encodeFrame(payload, { opcode: isBinary ? Opcode.Binary : Opcode.Text, fin: true, rsv1: false, maskKey: null });
  let bytes = 0;
  for (const frame of frames) bytes += frame.length;
  return { frames, bytes };
}

export function toBuffer(data: Exclude<SendData, string | number>): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('Data must be a string, a Buffer, an ArrayBuffer or an ArrayBuffer view');
}

function exceptSet(except: PublishOptions['except']): { has(ws: WebSocket): boolean } | null {
  if (except === undefined || except === null) return null;
  if (except instanceof WebSocket) return { has: (ws) => ws === except };
  if (except instanceof Set) return except as Set<WebSocket>;
  return new Set(except as Iterable<WebSocket>);
}
