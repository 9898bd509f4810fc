// Pub/sub for one server: which connections are subscribed to which topics, and publish/broadcast,
// which frame a message once and write the same bytes to every recipient; with permessage-deflate, the
// recipients whose server side keeps no context also share one compression per publish.
import { DeflateCodec, deflateMessage } from '../connection/deflate-codec.js';
import type { ResolvedDeflateOptions } from '../protocol/deflate.js';
import { Opcode, encodeFrame, encodeTextFrame } from '../protocol/frame.js';
import { SharedFrames } from '../connection/shared-frames.js';
import { isTextMessage } from '../connection/text-message.js';
import { WebSocket, type SendData } from '../connection/websocket.js';
import { isBlob, toBuffer } from '../connection/send-data.js';

export interface PublishOptions {
  /** Send as binary (default: false for strings and received text messages, true otherwise). */
  binary?: boolean;
  /**
   * Compress with permessage-deflate (default true): a message of at least the threshold is compressed
   * once per publish for the recipients whose server side keeps no context (server_no_context_takeover)
   * and sent to them as that one compressed frame; every other recipient gets it uncompressed. False
   * sends it uncompressed to all.
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
  /** The payload alone (for a string, a view into the frame): what a shared compression compresses. */
  payload: Buffer;
  opcode: number;
}

/** @internal The server's topics (not part of the published API). */
export class TopicRegistry {
  private readonly _subscribers = new Map<string, Set<WebSocket>>();
  /** The topics of each subscribed connection, in the order it subscribed (the registry holds them, not the socket). */
  private readonly _byConnection = new Map<WebSocket, Set<string>>();
  /** Hears of topics gaining their first and losing their last subscriber (set by the cluster hook). */
  watcher: TopicWatcher | null = null;

  /**
   * `_deflate`: the server's permessage-deflate options (null when it is off). Every connection of the
   * server negotiated with them, so a compression made with their zlib options and a connection's window
   * is what that connection's own compressor would make.
   */
  constructor(
    private readonly _gate: DeliveryGate,
    private readonly _deflate: ResolvedDeflateOptions | null = null,
  ) {}

  /** @internal Called by WebSocket#subscribe. */
  _subscribe(ws: WebSocket, topic: string): boolean {
    let topics = this._byConnection.get(ws);
    if (topics?.has(topic)) return false;
    let set = this._subscribers.get(topic);
    if (set === undefined) {
      this.watcher?.topicAdded(topic);
      set = new Set();
      this._subscribers.set(topic, set);
    }
    if (topics === undefined) this._byConnection.set(ws, (topics = new Set()));
    topics.add(topic);
    set.add(ws);
    return true;
  }

  /** @internal Called by WebSocket#unsubscribe. */
  _unsubscribe(ws: WebSocket, topic: string): boolean {
    const topics = this._byConnection.get(ws);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this._byConnection.delete(ws);
    this._remove(ws, topic);
    return true;
  }

  /** @internal Called by WebSocket#isSubscribed. */
  _isSubscribed(ws: WebSocket, topic: string): boolean {
    return this._byConnection.get(ws)?.has(topic) ?? false;
  }

  /** @internal The topics of `ws`, in the order it subscribed (WebSocket#topics). */
  _topicsOf(ws: WebSocket): string[] {
    const topics = this._byConnection.get(ws);
    return topics === undefined ? [] : [...topics];
  }

  /** Forgets every subscription of a connection that has closed. */
  removeAll(ws: WebSocket): void {
    const topics = this._byConnection.get(ws);
    if (topics === undefined) return;
    this._byConnection.delete(ws);
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
    // COMPRESSION (per publish). A recipient whose server side keeps no context (it negotiated
    // server_no_context_takeover) has each message compressed from an empty window, so one compression
    // with its window size is valid for every such recipient: those recipients are grouped by window and
    // each group shares one compression and one RSV1 frame. zlib is asynchronous, so each of them
    // reserves its place in its ordered write path now (a slot of the group's SharedFrames): nothing
    // published or sent to it afterwards overtakes this message. Recipients without permessage-deflate,
    // and those whose server side keeps context (its window would have to see this message, so they
    // cannot share), get the uncompressed frame: legal after negotiation, and still framed once.
    // The slow-client gate admits with the uncompressed size, an upper bound of what is written.
    const deflate = this._deflate;
    const compress = deflate !== null && options?.compress !== false && message.payload.length >= deflate.threshold;
    let groups: Map<number, SharedFrames> | null = null;
    const except = exceptSet(options?.except);
    let count = 0;
    for (const ws of recipients) {
      if (ws._readyState !== WebSocket.OPEN || ws._socket === null) continue;
      if (except?.has(ws)) continue;
      if (!this._gate.admit(ws, message.bytes)) continue;
      const codec = ws._compression;
      if (compress && codec instanceof DeflateCodec && codec.deflateNoContextTakeover) {
        groups ??= new Map();
        let shared = groups.get(codec.deflateWindowBits);
        if (shared === undefined) {
          shared = new SharedFrames(message.bytes);
          groups.set(codec.deflateWindowBits, shared);
        }
        if (ws._sendShared(shared)) count++;
        continue;
      }
      if (ws._sendPrepared(message.frames, message.bytes)) count++;
    }
    if (groups !== null) {
      for (const [windowBits, shared] of groups) {
        if (shared.waiting > 0) this._compressShared(message, windowBits, shared);
      }
    }
    return count;
  }

  /**
   * @internal Compresses a published message once for the recipients whose window is `windowBits`, in a
   * slot of the process-wide zlib limiter, and fills in their frames. If zlib fails, or the message does
   * not get smaller, they get the uncompressed frame instead (always legal).
   */
  _compressShared(message: PreparedMessage, windowBits: number, shared: SharedFrames): void {
    const deflate = this._deflate!;
    const options = { windowBits, zlibOptions: deflate.zlibDeflateOptions, concurrencyLimit: deflate.concurrencyLimit };
    deflateMessage(message.payload, options, (error, compressed) => {
      if (error !== null || compressed === undefined || compressed.length >= message.payload.length) {
        shared.fill(message.frames, message.bytes);
        return;
      }
      const frames = encodeFrame(compressed, { opcode: message.opcode, fin: true, rsv1: true, maskKey: null });
      shared.fill(frames, sizeOf(frames));
    });
  }
}

/** Frames a message once (server frames are never masked). Strings are encoded straight after the header. */
function prepare(data: SendData, binary: boolean | undefined): PreparedMessage {
  if (typeof data === 'number') data = String(data);
  if (typeof data === 'string') {
    const length = Buffer.byteLength(data);
    const opcode = binary === true ? Opcode.Binary : Opcode.Text;
    const frame = encodeTextFrame(data, length, opcode, true, null);
    return { frames: [frame], bytes: frame.length, payload: frame.subarray(frame.length - length), opcode };
  }
  const payload = publishedBytes(data);
  const opcode = (binary ?? !isTextMessage(data)) ? Opcode.Binary : Opcode.Text;
  const frames = encodeFrame(payload, { opcode, fin: true, rsv1: false, maskKey: null });
  return { frames, bytes: sizeOf(frames), payload, opcode };
}

function sizeOf(frames: Buffer[]): number {
  let bytes = 0;
  for (const frame of frames) bytes += frame.length;
  return bytes;
}

/**
 * The bytes of a published message, by send-data.ts's toBuffer (so publish and broadcast take what send
 * takes), but a Blob: publishing is synchronous, so a Blob is refused with a clear error.
 */
export function publishedBytes(data: Exclude<SendData, string | number>): Buffer {
  if (isBlob(data))
    throw new TypeError(
      'publish() and broadcast() take a string, a Buffer, an ArrayBuffer or a view, not a Blob: send its bytes (await blob.arrayBuffer())',
    );
  return toBuffer(data);
}

function exceptSet(except: PublishOptions['except']): { has(ws: WebSocket): boolean } | null {
  if (except === undefined || except === null) return null;
  if (except instanceof WebSocket) return { has: (ws) => ws === except };
  if (except instanceof Set) return except as Set<WebSocket>;
  return new Set(except as Iterable<WebSocket>);
}
