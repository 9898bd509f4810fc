// Documents kept by Redis, for a cluster on Redis (`--redis`) without --postgres: each document is a
// Stream `<prefix>docs:<name>` of entries with one field, u (an update). An update is one XADD; loading
// is one XRANGE; compaction reads the entries, adds one merging them with the caller's state and
// deletes exactly the entries it read (XDEL by id), so that entries other nodes add meanwhile stay.
// Redis's own persistence (RDB, AOF) decides what survives a restart of Redis.
//
// It works on the node's RedisLink (its command connection, which fails a command at once while the link
// is down: the document keeps the update and stores it later), shared with the adapter and the history.
// The `redis` package is an optional peer dependency, loaded when the link connects.
import { describeError } from '../../cluster/broker-adapter.js';
import { RedisLink } from '../../cluster/redis-link.js';
import { mergeAll, type DocStore } from './store.js';

/** Blob strings as Buffers; a command Redis does not answer within 5 s fails. */
const BINARY = { typeMapping: { 36: Buffer }, timeout: 5000 };
const XDEL_BATCH = 1000;

type Entry = [id: Buffer, fields: Buffer[]];

export class RedisDocStore implements DocStore {
  readonly description: string;

  private constructor(
    private readonly _link: RedisLink,
    private readonly _prefix: string,
  ) {
    this.description = `Redis at ${_link.url} (${_prefix}docs:*)`;
  }

  /** Opens the store on a link (the node's, or a new one to a URL); rejects naming the URL when Redis cannot be reached. */
  static async open(link: RedisLink | string, prefix: string): Promise<RedisDocStore> {
    const shared = typeof link === 'string' ? new RedisLink({ url: link }) : link;
    try {
      await shared.open('--redis');
    } catch (error) {
      throw new Error(`Cannot reach Redis at ${shared.url}: ${describeError(error)}`, { cause: error });
    }
    return new RedisDocStore(shared, `${prefix}:`);
  }

  private get _client() {
    return this._link.command;
  }

  async load(doc: string): Promise<Uint8Array[]> {
    return (await this._range(doc)).map(([, fields]) => fields[1]!);
  }

  async append(doc: string, update: Uint8Array): Promise<void> {
    await this._client.sendCommand(
      ['XADD', this._key(doc), '*', 'u', Buffer.from(update.buffer, update.byteOffset, update.byteLength)],
      BINARY,
    );
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
    await this._link.close();
  }

  /** Deletes every stored document of this prefix (tests). */
  async wipe(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this._client.sendCommand(['SCAN', cursor, 'MATCH', `${this._prefix}docs:*`, 'COUNT', '1000'])) as [
        string,
        string[],
      ];
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
