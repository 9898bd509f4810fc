// The server's one opening for scale-out: a cluster adapter (src/cluster/) carries publish() to the other
// nodes and brings theirs back. This file says what the server asks of an adapter and does the server's
// half: it tells the adapter which topics have local subscribers, hands it every publish, and delivers
// what other nodes published to local subscribers only. The server knows nothing of brokers.
import { isTextMessage } from '../connection/text-message.js';
import type { SendData } from '../connection/websocket.js';
import { publishedBytes, type PublishOptions, type TopicRegistry, type TopicWatcher } from './topics.js';

/**
 * What a WebSocketServer asks of the thing that carries its publishes between nodes (the `adapter`
 * option). The server calls it synchronously; an adapter queues what it sends and never blocks.
 */
export interface ClusterAdapter {
  /** The server starts using the adapter (once, from its constructor). May throw to refuse. */
  attach(node: ClusterNode): void;
  /** The server has closed: forget it. Its topics have already been unsubscribed. */
  detach(node: ClusterNode): void;
  /**
   * `topic` got its first local subscriber: subscribe to it on the broker. May throw (a TypeError or
   * RangeError) for a topic the adapter cannot carry; the subscription is then refused.
   */
  subscribe(topic: string): void;
  /** `topic` lost its last local subscriber: unsubscribe from it on the broker. Must not throw. */
  unsubscribe(topic: string): void;
  /**
   * A local publish, to carry to the other nodes (the server delivers it locally itself). `binary`
   * says whether it goes out as a binary or a text message. May throw (a TypeError or RangeError) for
   * a message the adapter cannot carry; the publish then fails before anything is delivered.
   * `stamp` is what a layer above the server attached to the message (the server's own publishes
   * have none); an adapter carries it to the other nodes as it is, without reading it.
   */
  publish(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): void;
}

/**
 * What a layer above the server (the relay) may attach to a message it carries between nodes: the
 * message's place in a channel's history. Adapters carry it in their wire format; the server ignores it.
 */
export interface ClusterStamp {
  /** Sequence number: a non-negative safe integer. */
  seq: number;
  /** When the message was accepted, in ms since 1970. */
  time: number;
  /** The epoch the number belongs to (at most 255 bytes of UTF-8). */
  epoch: string;
  /** Who published it (at most 255 bytes of UTF-8), when that is known. */
  from?: string;
}

/** What an adapter can do with the server it is attached to. */
export interface ClusterNode {
  /**
   * Delivers a message another node published to this server's local subscribers of `topic` (and to
   * nobody else; it is not handed back to the adapter). `stamp` is the one the publisher attached, if
   * any. Returns how many connections got it.
   */
  deliver(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): number;
  /** The topics that have local subscribers now. */
  readonly topics: string[];
}

/** @internal The server's side of an adapter: watches the topic registry and routes publishes through it. */
export class ClusterHook implements ClusterNode, TopicWatcher {
  private _attached = false;

  constructor(
    private readonly _registry: TopicRegistry,
    readonly adapter: ClusterAdapter,
  ) {
    checkAdapter(adapter);
  }

  /** Starts: from now on the adapter hears of topics and publishes. */
  attach(): void {
    this.adapter.attach(this);
    this._attached = true;
    this._registry.watcher = this;
    for (const topic of this._registry.topics()) this.adapter.subscribe(topic);
  }

  /** Stops: unsubscribes every topic still subscribed and lets the adapter go. */
  detach(): void {
    if (!this._attached) return;
    this._attached = false;
    this._registry.watcher = null;
    for (const topic of this._registry.topics()) this.topicRemoved(topic);
    this.adapter.detach(this);
  }

  get topics(): string[] {
    return this._registry.topics();
  }

  // TopicWatcher: the registry reports a topic's first subscriber before it records it, so a throw
  // from the adapter refuses the subscription.
  topicAdded(topic: string): void {
    this.adapter.subscribe(topic);
  }

  topicRemoved(topic: string): void {
    try {
      this.adapter.unsubscribe(topic);
    } catch {
      // An adapter must not throw here; if one does, the local unsubscribe still stands.
    }
  }

  /** wss.publish() with an adapter: the adapter takes the message first (it may refuse it), then local subscribers get it. */
  publish(topic: string, data: SendData, options: PublishOptions | undefined): number {
    let payload: Buffer;
    let binary: boolean;
    if (typeof data === 'string' || typeof data === 'number') {
      payload = Buffer.from(String(data));
      binary = options?.binary === true;
    } else {
      payload = publishedBytes(data);
      binary = options?.binary ?? !isTextMessage(data);
    }
    if (this._attached) this.adapter.publish(topic, payload, binary);
    return this._registry.publish(topic, payload, { ...options, binary });
  }

  /** A message of another node: to local subscribers, as a plain publish (a stamp means nothing to the server). */
  deliver(topic: string, payload: Buffer, binary: boolean): number {
    if (!this._attached) return 0;
    return this._registry.publish(topic, payload, { binary });
  }
}

function checkAdapter(adapter: unknown): asserts adapter is ClusterAdapter {
  const missing = ['attach', 'detach', 'subscribe', 'unsubscribe', 'publish'].filter(
    (name) => typeof (adapter as Record<string, unknown> | null)?.[name] !== 'function',
  );
  if (adapter === null || typeof adapter !== 'object' || missing.length > 0) {
    throw new TypeError(
      `Invalid adapter: expected a cluster adapter (such as RedisAdapter or NatsAdapter)${missing.length > 0 && adapter !== null && typeof adapter === 'object' ? `; it has no ${missing.join(', ')} method` : ''}`,
    );
  }
}
