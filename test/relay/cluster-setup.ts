// The brokers the relay cluster tests run against, and what each test needs of them: the serve flag, the
// shared server's URL, a private server that keeps its data across restarts, a shared history store for
// cleaning up a test's prefix.
import { RedisHistory } from '../../src/relay/history-redis.js';
import { NatsHistory } from '../../src/relay/history-nats.js';
import type { SharedHistory } from '../../src/relay/history-shared.js';
import type { ChannelBounds } from '../../src/relay/history.js';
import { PrivateBroker, SHARED_NATS, SHARED_REDIS } from '../cluster/setup.js';

export type Bounds = { limit: number; ttl: number; maxBytes: number };

export interface BrokerKind {
  name: 'Redis' | 'NATS';
  flag: '--redis' | '--nats';
  shared: string;
  /** A store of this broker's history under `prefix` (as `--cluster-prefix prefix` makes it). */
  store(prefix: string, bounds: Bounds | ChannelBounds, url?: string): SharedHistory;
  /** A private server on a free port that keeps its data when it is killed and started again. */
  persistent(): Promise<PrivateBroker>;
}

export const REDIS: BrokerKind = {
  name: 'Redis',
  flag: '--redis',
  shared: SHARED_REDIS,
  store: (prefix, bounds, url = SHARED_REDIS) => new RedisHistory({ url, prefix: `${prefix}:`, bounds }),
  persistent: () => PrivateBroker.redis(true),
};

export const NATS: BrokerKind = {
  name: 'NATS',
  flag: '--nats',
  shared: SHARED_NATS,
  store: (prefix, bounds, url = SHARED_NATS) => new NatsHistory({ url, prefix, bounds }),
  persistent: () => PrivateBroker.nats(false, true),
};

export const BROKERS = [REDIS, NATS];

/** Deletes what a test left under `prefix` on the shared broker. */
export async function wipe(kind: BrokerKind, prefix: string): Promise<void> {
  const store = kind.store(prefix, { limit: 1, ttl: 0, maxBytes: 1 });
  try {
    await store.connect();
    await store.wipe();
  } finally {
    await store.close();
  }
}

/**
 * What the broker holds for the channels of `prefix`: Redis keys other than the epoch, the highest number
 * and the bitmap of names seen; NATS channel streams.
 */
export async function channelsHeld(kind: BrokerKind, prefix: string): Promise<number> {
  if (kind.name === 'Redis') {
    const { createClient } = await import('redis');
    const client = createClient({ url: SHARED_REDIS });
    await client.connect();
    try {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${prefix}:history:*`, COUNT: 1000 }))
        keys.push(...(Array.isArray(batch) ? batch : [batch]));
      return keys.filter((key) => !/:history:(epoch|top|seen)$/.test(key)).length;
    } finally {
      await client.quit();
    }
  }
  const { connect } = await import('nats');
  const nc = await connect({ servers: SHARED_NATS });
  try {
    const lister = (await nc.jetstreamManager()).streams.names();
    let count = 0;
    for (let page = await lister.next(); page.length > 0; page = await lister.next())
      count += page.filter((name) => name.startsWith(`${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_h_`)).length;
    return count;
  } finally {
    await nc.close();
  }
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs` with `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
