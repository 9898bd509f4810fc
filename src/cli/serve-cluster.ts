// `wavecast serve --redis URL` / `--nats URL`: opens the node's one link to the broker, connects the broker
// adapter (publishes between nodes) and the shared history (sequence numbers, history, epoch) on it, and
// makes the relay's cluster node of them (the documents' store uses the same link). The modules that
// need the `redis` or `nats` package are loaded only here, only then.
import type { BrokerAdapter } from '../cluster/broker-adapter.js';
import type { Logger } from '../relay/log.js';
import type { RelayCluster } from '../relay/cluster.js';
import type { SharedHistory } from '../relay/history-shared.js';
import type { ChannelBounds, HistoryBounds } from '../relay/history.js';

export interface ClusterSettings {
  broker: 'redis' | 'nats';
  url: string;
  /** Key prefix (Redis: `<prefix>:`) or first subject token (NATS). */
  prefix: string;
  /** Presence heartbeat, ms. */
  presenceInterval: number;
  /** Presence updates per channel sent at once per second (more are merged). */
  presenceUpdates?: number;
  /** The history's bounds: the same for every channel, or per channel (namespaces). */
  history: HistoryBounds | ChannelBounds;
}

/** Connects to the broker; rejects with an error naming the URL when it cannot be reached. */
export async function startCluster(settings: ClusterSettings, log: Logger): Promise<RelayCluster> {
  const adapterLog = (level: 'info' | 'warn' | 'error', message: string) => log[level](message);
  let adapter: BrokerAdapter;
  let store: SharedHistory;
  if (settings.broker === 'redis') {
    const [{ RedisAdapter, RedisLink }, { RedisHistory }] = await Promise.all([
      import('../cluster/redis.js'),
      import('../relay/history-redis.js'),
    ]);
    const link = new RedisLink({ url: settings.url });
    adapter = new RedisAdapter({ link, prefix: `${settings.prefix}:`, log: adapterLog });
    store = new RedisHistory({ link, prefix: `${settings.prefix}:`, bounds: settings.history });
  } else {
    const [{ NatsAdapter, NatsLink }, { NatsHistory }] = await Promise.all([
      import('../cluster/nats.js'),
      import('../relay/history-nats.js'),
    ]);
    const link = new NatsLink({ url: settings.url, name: 'wavecast-relay' });
    adapter = new NatsAdapter({ link, prefix: settings.prefix, log: adapterLog });
    store = new NatsHistory({ link, prefix: settings.prefix, bounds: settings.history });
  }
  try {
    await adapter.connect();
    await store.connect();
  } catch (error) {
    await Promise.all([adapter.close(), store.close()]).catch(() => undefined);
    throw error;
  }
  const { RelayCluster } = await import('../relay/cluster.js');
  return new RelayCluster({
    adapter,
    store,
    log,
    presenceInterval: settings.presenceInterval,
    ...(settings.presenceUpdates !== undefined ? { presenceUpdates: settings.presenceUpdates } : {}),
  });
}
