// Documents kept by NATS JetStream, for a cluster on NATS (`--nats`) without --postgres: one stream
// `<prefix>_docs` (file storage) whose subject `<prefix>.docs.<hash of the name>` holds a document's
// updates. An update is one publish; loading reads the subject's messages with an ordered consumer, up
// to the last one it had when the load began; compaction publishes one update merging what it read with
// the caller's state, then purges the subject below the first message it did not read, so that what
// other nodes publish meanwhile stays. A message is at most the server's max_payload (1 MiB by default):
// a larger compacted document is refused by NATS and its updates stay as they are (logged).
//
// It works on the node's NatsLink, shared with the adapter and the history. The `nats` package is an
// optional peer dependency, loaded when the link connects.
import { createHash } from 'node:crypto';
import { describeError } from '../../cluster/broker-adapter.js';
import { NatsLink } from '../../cluster/nats-link.js';
import { apiCode } from '../history-nats.js';
import { mergeAll, type DocStore } from './store.js';

interface JsMsg {
  seq: number;
  data: Uint8Array;
}

interface Messages extends AsyncIterable<JsMsg> {
  stop(): void;
}

interface JetStream {
  publish(subject: string, data: Uint8Array, options: Record<string, unknown>): Promise<{ seq: number }>;
  consumers: {
    get(stream: string, options: Record<string, unknown>): Promise<{ consume(options?: Record<string, unknown>): Promise<Messages> }>;
  };
}

interface JetStreamManager {
  streams: {
    add(config: Record<string, unknown>): Promise<unknown>;
    info(name: string): Promise<unknown>;
    getMessage(name: string, query: Record<string, unknown>): Promise<{ seq: number }>;
    purge(name: string, options: Record<string, unknown>): Promise<unknown>;
    delete(name: string): Promise<boolean>;
  };
}

interface NatsConnection {
  jetstream(): JetStream;
  jetstreamManager(): Promise<JetStreamManager>;
}

const STREAM_NOT_FOUND = 10059;
const MESSAGE_NOT_FOUND = 10037;
const STREAM_NAME_IN_USE = 10058;
/** The longest a load may take before it is given up (a NATS that stopped answering). */
const READ_TIMEOUT = 10_000;

export class NatsDocStore implements DocStore {
  readonly description: string;
  private readonly _stream: string;
  private readonly _subjectPrefix: string;

  private constructor(
    private readonly _link: NatsLink,
    private readonly _nc: NatsConnection,
    private readonly _jsm: JetStreamManager,
    prefix: string,
  ) {
    this._stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_docs`;
    this._subjectPrefix = `${prefix}.docs.`;
    this.description = `NATS JetStream at ${_link.url} (stream ${this._stream})`;
  }

  /** Opens the store on a link (the node's, or a new one to a URL) and makes the stream; rejects naming the URL when NATS or its JetStream cannot be used. */
  static async open(link: NatsLink | string, prefix: string): Promise<NatsDocStore> {
    const shared = typeof link === 'string' ? new NatsLink({ url: link, name: 'wavecast-docs' }) : link;
    try {
      await shared.open('--nats');
    } catch (error) {
      throw new Error(`Cannot reach NATS at ${shared.url}: ${describeError(error)}`, { cause: error });
    }
    try {
      const nc = shared.connection<NatsConnection>();
      const store = new NatsDocStore(shared, nc, await nc.jetstreamManager(), prefix);
      await store._ensureStream();
      return store;
    } catch (error) {
      await shared.close();
      throw new Error(`NATS at ${shared.url} has no usable JetStream for documents (start nats-server with -js): ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  async load(doc: string): Promise<Uint8Array[]> {
    return (await this._read(doc)).updates;
  }

  async append(doc: string, update: Uint8Array): Promise<void> {
    await this._nc.jetstream().publish(this._subject(doc), update, { expect: { streamName: this._stream } });
  }

  async compact(doc: string, state: Uint8Array): Promise<number> {
    const { updates, last } = await this._read(doc);
    const merged = mergeAll([...updates, state]);
    await this.append(doc, merged);
    if (last > 0) await this._jsm.streams.purge(this._stream, { filter: this._subject(doc), seq: last + 1 });
    return merged.length;
  }

  async close(): Promise<void> {
    await this._link.close();
  }

  /** Deletes every stored document of this prefix (tests). */
  async wipe(): Promise<void> {
    await this._jsm.streams.purge(this._stream, {});
  }

  /** The document's updates, and the sequence number of the last one (0: none). */
  private async _read(doc: string): Promise<{ updates: Uint8Array[]; last: number }> {
    const subject = this._subject(doc);
    let last: number;
    try {
      last = (await this._jsm.streams.getMessage(this._stream, { last_by_subj: subject })).seq;
    } catch (error) {
      if (apiCode(error) === MESSAGE_NOT_FOUND) return { updates: [], last: 0 };
      throw error;
    }
    // One subject, as a string: a list (filter_subjects) needs NATS 2.10, and 2.9 ignores it and stalls.
    const consumer = await this._nc.jetstream().consumers.get(this._stream, { filterSubjects: subject });
    const messages = await consumer.consume();
    const timer = setTimeout(() => messages.stop(), READ_TIMEOUT);
    const updates: Uint8Array[] = [];
    let reached = 0;
    try {
      for await (const message of messages) {
        updates.push(message.data);
        reached = message.seq;
        if (message.seq >= last) break;
      }
    } finally {
      clearTimeout(timer);
      messages.stop();
    }
    if (reached < last) throw new Error(`Reading document ${JSON.stringify(doc)} from NATS did not finish within ${READ_TIMEOUT} ms`);
    return { updates, last };
  }

  private async _ensureStream(): Promise<void> {
    try {
      await this._jsm.streams.info(this._stream);
      return;
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
    }
    try {
      await this._jsm.streams.add({ name: this._stream, subjects: [`${this._subjectPrefix}*`], storage: 'file', num_replicas: 1 });
    } catch (error) {
      if (apiCode(error) !== STREAM_NAME_IN_USE) throw error; // another node made it first
    }
  }

  private _subject(doc: string): string {
    return this._subjectPrefix + createHash('sha256').update(doc).digest('hex').slice(0, 40);
  }
}
