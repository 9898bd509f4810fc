// Documents in PostgreSQL (`--postgres URL`), for production and for several nodes: one table,
//
//   wavecast_doc_updates (id bigserial primary key, doc text, data bytea), indexed on (doc, id)
//
// made at start if missing. An update is one INSERT; loading is one SELECT in id order. Compaction runs
// in a transaction: read the document's rows, insert one row merging them with the caller's state,
// delete exactly the rows read (by id: a row another node inserted meanwhile is kept, whatever its id).
//
// The `pg` package is an optional peer dependency, loaded only here.
import { describeError, hidePassword, loadPeer } from '../../cluster/broker-adapter.js';
import { mergeAll, type DocStore } from './store.js';

interface PgModule {
  default: { Pool: new (options: Record<string, unknown>) => PgPool };
}

interface PgPool {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  connect(): Promise<PgClient>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}

interface PgClient {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  release(error?: Error | boolean): void;
}

const TABLE = 'wavecast_doc_updates';

export class PostgresDocStore implements DocStore {
  readonly description: string;

  private constructor(
    private readonly _pool: PgPool,
    url: string,
  ) {
    this.description = `PostgreSQL at ${hidePassword(url)}`;
  }

  /** Connects and makes the table; rejects naming the URL when PostgreSQL cannot be reached. */
  static async open(url: string, onError: (error: Error) => void = () => undefined): Promise<PostgresDocStore> {
    const pg = await loadPeer<PgModule>('pg', '--postgres');
    const pool = new pg.default.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // An idle connection that breaks reports here; the next query opens a new one.
    pool.on('error', onError);
    try {
      await pool.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id bigserial PRIMARY KEY, doc text NOT NULL, data bytea NOT NULL)`);
      await pool.query(`CREATE INDEX IF NOT EXISTS ${TABLE}_doc ON ${TABLE} (doc, id)`);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`Cannot use PostgreSQL at ${hidePassword(url)}: ${describeError(error)}`, { cause: error });
    }
    return new PostgresDocStore(pool, url);
  }

  async load(doc: string): Promise<Uint8Array[]> {
    const { rows } = await this._pool.query<{ data: Buffer }>(`SELECT data FROM ${TABLE} WHERE doc = $1 ORDER BY id`, [doc]);
    return rows.map((row) => row.data);
  }

  async append(doc: string, update: Uint8Array): Promise<void> {
    await this._pool.query(`INSERT INTO ${TABLE} (doc, data) VALUES ($1, $2)`, [
      doc,
      Buffer.from(update.buffer, update.byteOffset, update.byteLength),
    ]);
  }

  async compact(doc: string, state: Uint8Array): Promise<number> {
    const client = await this._pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; data: Buffer }>(`SELECT id, data FROM ${TABLE} WHERE doc = $1 ORDER BY id`, [doc]);
      const merged = mergeAll([...rows.map((row) => row.data), state]);
      await client.query(`INSERT INTO ${TABLE} (doc, data) VALUES ($1, $2)`, [
        doc,
        Buffer.from(merged.buffer, merged.byteOffset, merged.byteLength),
      ]);
      if (rows.length > 0) await client.query(`DELETE FROM ${TABLE} WHERE id = ANY($1::bigint[])`, [rows.map((row) => row.id)]);
      await client.query('COMMIT');
      client.release();
      return merged.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this._pool.end();
  }

  /** Deletes every stored document (tests). */
  async wipe(): Promise<void> {
    await this._pool.query(`DELETE FROM ${TABLE}`);
  }
}
