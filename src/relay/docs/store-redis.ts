// Documents kept by Redis, for a cluster on Redis (`--redis`) without --postgres: each document is a
// Stream `<prefix>docs:<name>` of entries with one field, u (an update). An update is one XADD; loading
// is one XRANGE; compaction reads the entries, adds one merging them with the caller's state and
// deletes exactly the entries it read (XDEL by id), so that entries other nodes add meanwhile stay.
// Redis's own persistence (RDB, AOF) decides what survives a restart of Redis.
//
// The `redis` package is an optional peer dependency, loaded only here.
import { describeError, hidePassword, loadPeer } from '../../cluster/broker-adapter.js';
import { mergeAll, type DocStore } from './store.js';

interface RedisClient {
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  sendCommand(args: Array<string | Buffer>, options?: Record<string, unknown>): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
}

/** Blob strings as Buffers; a command Redis does not answer within 5 s fails. */
const BINARY = { typeMapping: { 36: Buffer }, timeout: 5000 };
const XDEL_BATCH = 1000;

type Entry = [id: Buffer, fields: Buffer[]];

export class RedisDocStore implements DocStore {
  readonly description: string;

  private constructor(
    private readonly _client: RedisClient,
    private readonly _prefix: string,
    url: string,
  ) {
    this.description = `Redis at ${hidePassword(url)} (${_prefix}docs:*)`;
  }

  /** Connects; rejects naming the URL when Redis cannot be reached. */
  static async open(url: string, prefix: string): Promise<RedisDocStore> {
    const redis = await loadPeer<{ createClient(options: Record<string, unknown>): RedisClient }>('redis', '--redis');
    let up = false;
    // While the link is down a command fails at once: the document keeps the update and stores it later.
    const client = redis.createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: (retries: number, cause: Error) => (up ? Math.min(50 * 2 ** Math.min(retries, 10), 1000) : cause) },
    });
    client.on('error', () => undefined); // the failed commands say what went wrong
    try {
      await client.connect();
    } catch (error) {
      client.destroy?.();
      throw new Error(`Cannot reach Redis at ${hidePassword(url)}: ${describeError(error)}`, { cause: error });
    }
    up = true;
    return new RedisDocStore(client, `${prefix}:`, url);
  }

  async load(doc: string): Promise<Uint8Array[]> {
    return (await this._range(doc)).map(([, fields]) => fields[1]!);
  }

  async append(doc: string, update: Uint8Array): Promise<void> {
    await this._client.sendCommand(['XADD', this._key(doc), '*', 'u', Buffer.from(update.buffer, update.byteOffset, update.byteLength)], BINARY);
  }

  async compact(doc: string, state: Uint8Array): Promise<number> {
    const entries = await this._range(doc);
    const merged = mergeAll([...entries.map(([, fields]) => fields[1]!), state]);
    await this.append(doc, merged);
    for (let i = 0; i < entries.length; i += XDEL_BATCH) {
      await this._client.sendCommand(['XDEL', this._key(doc), ...entries.slice(i, i + XDEL_BATCH).map(([id]) => id)], BINARY);
    }
    return merged.length;
  }

  async close(): Promise<void> {
    try {
      await (this._client.close ?? this._client.quit)?.call(this._client);
    } catch {
      this._client.destroy?.();
    }
  }

  /** Deletes every stored document of this prefix (tests). */
  async wipe(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this._client.sendCommand(['SCAN', cursor, 'MATCH', `${this._prefix}docs:*`, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await this._client.sendCommand(['DEL', ...keys]);
    } while (cursor !== '0');
  }

  private _range(doc: string): Promise<Entry[]> {
    return this._client.sendCommand(['XRANGE', this._key(doc), '-', '+'], BINARY) as Promise<Entry[]>;
  }

  private _key(doc: string): string {
    return `${this._prefix}docs:${doc}`;
  }
}
