// InProcessAdapter: a cluster adapter with no broker. Alone (the same as giving a WebSocketServer no
// adapter), publishes stay with its server. Adapters made on one InProcessBus carry publishes between
// the servers of one process, as a broker would between processes: asynchronously (in a microtask),
// in publish order, to the servers whose clients subscribe to the topic, never back to the publisher.
// Useful to run several servers in one process, and to test code written for a cluster.
import type { ClusterAdapter, ClusterNode, ClusterStamp } from '../server/cluster-hook.js';

/** Links the InProcessAdapters made on it. */
export class InProcessBus {
  /** @internal */
  readonly _members = new Set<InProcessAdapter>();
}

export class InProcessAdapter implements ClusterAdapter {
  readonly bus: InProcessBus;
  /** @internal */
  private _node: ClusterNode | null = null;
  /** @internal */
  private readonly _topics = new Set<string>();

  constructor(bus: InProcessBus = new InProcessBus()) {
    if (!(bus instanceof InProcessBus)) throw new TypeError('InProcessAdapter takes an InProcessBus (or nothing)');
    this.bus = bus;
  }

  /** The topics the attached server has local subscribers for. */
  get topics(): string[] {
    return [...this._topics];
  }

  attach(node: ClusterNode): void {
    if (this._node !== null && this._node !== node) {
      throw new Error('This InProcessAdapter is already used by another WebSocketServer; give each server its own adapter');
    }
    this._node = node;
    this.bus._members.add(this);
  }

  detach(node: ClusterNode): void {
    if (this._node !== node) return;
    this._node = null;
    this._topics.clear();
    this.bus._members.delete(this);
  }

  subscribe(topic: string): void {
    this._topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this._topics.delete(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean, stamp?: ClusterStamp): void {
    for (const member of this.bus._members) {
      if (member === this || !member._topics.has(topic)) continue;
      queueMicrotask(() => member._node?.deliver(topic, payload, binary, stamp));
    }
  }
}
