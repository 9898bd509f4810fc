// Collaborative documents across the nodes of a cluster, on the node's one broker link (the relay
// cluster's adapter): a document's messages between nodes go on the topic "\0y\0<doc>", which a node
// listens to while it has the document open. They are y-websocket messages, as editors send them:
//
//   update       a change a node applied (from its editors or a backend): the others apply it too
//   step 1       sent by a node that just opened the document (and by every node after the link came
//                back): the nodes that have it open answer with step 2, what it lacks, and their editors'
//                awareness states
//   awareness    cursors and names of a node's editors, and their leaving
//
// Yjs merges updates in any order and any number of times, so a message that arrives twice, late or
// before the document is read from the store does no harm; one lost while the link was down is made
// good by the step 1 sent when it comes back, and by the shared store.
import type { RelayCluster } from '../cluster.js';
import { withTimeout } from '../cluster.js';
import type { Logger } from '../log.js';
import type { DocHub, DocPeers } from './hub.js';

const DOC_PREFIX = '\u0000y\u0000';

/** Links the hub to the other nodes through the cluster's broker adapter. */
export function linkDocs(cluster: RelayCluster, hub: DocHub, log: Logger): DocPeers {
  const adapter = cluster.adapter;
  cluster.route(DOC_PREFIX, (topic, payload) => hub.fromPeer(topic.slice(DOC_PREFIX.length), payload));
  adapter.on('reconnected', () => hub.resync());
  return {
    async listen(doc) {
      adapter.subscribe(DOC_PREFIX + doc);
      if (adapter.state === 'connected') await withTimeout(adapter.synced(), 2000);
    },
    unlisten(doc) {
      adapter.unsubscribe(DOC_PREFIX + doc);
    },
    send(doc, message) {
      try {
        adapter.publish(DOC_PREFIX + doc, Buffer.from(message.buffer, message.byteOffset, message.byteLength), true);
      } catch (error) {
        // Too large for the broker (NATS's max_payload), say: the others read it from the store.
        log.warn('a document message could not be sent to the other nodes', {
          doc,
          bytes: message.length,
          error: String((error as Error)?.message ?? error),
        });
      }
    },
  };
}
