// NatsHistory: channel history in NATS JetStream, shared by every relay node that uses the same NATS
// and prefix, so that a client that reconnects to another node (or after a restart) recovers what it
// missed.
//
// One stream per channel, `<PREFIX>_h_<hash>` capturing the one subject `<prefix>.history.<hash>` (the
// hash is the first 24 hex digits of the channel name's SHA-256, so any name fits the rules for stream
// names and subjects). The stream's own sequence number is the channel's sequence number: JetStream
// assigns it when it stores the message, atomically, so two nodes can never get the same number and
// no number is handed out without its message. The stream's limits are the channel's history bounds
// (its namespace's, else the flags): max_msgs (--history), max_age (--history-ttl), max_bytes
// (--history-bytes), discarding the oldest; a stream found with other bounds (the config changed) is
// given those in force. A stream keeps its last sequence number when its limits have removed every
// message, and across server restarts.
//
// Idle channels' streams are deleted (a stream costs the server about 60 KB of memory): a sweep (every
// node, a few times per shortest ttl) lists the streams and retires each whose messages have all expired
// and that has had none for its own ttl (its max_age): it moves the stream to the subject
// `<prefix>.retired.<hash>` (so no publish can land in it meanwhile; one that raced it is refused and
// retried by its publisher), checks that nothing landed, raises the floor of the channel's bucket to the
// stream's last number, and deletes it. Floors are messages `<prefix>.meta.floor.<bucket>` (1,024 buckets of channel hashes, the highest
// number of any deleted stream in the bucket). A channel whose stream is made again starts after its
// bucket's floor: the stream is made on `<prefix>.staging.<hash>`, purged up to floor + 1 (which sets its
// first number), then moved to its subject; so its numbers go on above every number it had, and a client's
// `since` from before is answered with a gap. A channel of a bucket with no floor starts at 1.
//
// The epoch is one message on `<prefix>.meta.epoch` in the stream `<PREFIX>_meta`, written once with the
// header Nats-Expected-Last-Subject-Sequence: 0 so that two nodes that start together agree. A JetStream
// that lost its store has no epoch message: the next node to notice writes a new one.
//
// It works on the node's NatsLink, shared with the broker adapter and the documents' store; the `nats`
// package is loaded when the link connects, never by `import 'wavecast'`.
import { createHash } from 'node:crypto';
import { describeError } from '../cluster/broker-adapter.js';
import { NatsLink } from '../cluster/nats-link.js';
import { historyRead, type HistoryRead, type StoredMessage } from './history.js';
import { newEpoch, SharedHistoryBase, type SharedHistory, type SharedHistoryOptions } from './history-shared.js';

export interface NatsHistoryOptions extends SharedHistoryOptions {
  /** nats://host:port (default nats://127.0.0.1:4222). */
  url?: string;
  /** The first subject token (default `wavecast`); stream names use it with '.' made '_'. */
  prefix?: string;
  /** The node's link to NATS (shared with the adapter); by default one of its own to `url`. */
  link?: NatsLink;
}

interface MsgHdrs {
  get(key: string): string;
  set(key: string, value: string): void;
}

interface StoredMsg {
  seq: number;
  data: Uint8Array;
  header: MsgHdrs;
}

interface NatsConnection {
  jetstream(): { publish(subject: string, data: Uint8Array, options: Record<string, unknown>): Promise<{ seq: number }> };
  jetstreamManager(): Promise<JetStreamManager>;
}

interface JetStreamManager {
  streams: {
    add(config: Record<string, unknown>): Promise<unknown>;
    info(name: string): Promise<StreamInfo>;
    update(name: string, config: Record<string, unknown>): Promise<unknown>;
    purge(name: string, options: Record<string, unknown>): Promise<unknown>;
    getMessage(name: string, query: Record<string, unknown>): Promise<StoredMsg>;
    delete(name: string): Promise<boolean>;
    names(subject?: string): { next(): Promise<string[]> };
    list(subject?: string): { next(): Promise<StreamInfo[]> };
  };
}

interface StreamInfo {
  created: string;
  config: Record<string, unknown> & { name: string; subjects?: string[] };
  state: { messages: number; first_seq: number; last_seq: number; last_ts: string };
}

interface NatsModule {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
  headers(): MsgHdrs;
}

const TIME = 'Wavecast-Time';
const BINARY = 'Wavecast-Binary';
const FROM = 'Wavecast-From';
/** JetStream API error codes. */
const STREAM_NOT_FOUND = 10059;
const MESSAGE_NOT_FOUND = 10037;
const WRONG_LAST_SEQUENCE = 10071;
const STREAM_NAME_IN_USE = 10058;
/** Messages fetched at once by a read. */
const READ_BATCH = 64;
/** Buckets of channel hashes that have a floor (see the top). */
const FLOOR_BUCKETS = 1024;
/** Streams a sweep retires at once. */
const SWEEP_CONCURRENCY = 8;
/** How long a stream may stay half made (on its staging subject) before a sweep finishes making it (ms). */
const STAGING_GRACE = 60_000;

export class NatsHistory extends SharedHistoryBase implements SharedHistory {
  readonly prefix: string;
  readonly link: NatsLink;
  private readonly _streamPrefix: string;
  private _nats: NatsModule | null = null;
  private _nc: NatsConnection | null = null;
  private _jsm: JetStreamManager | null = null;
  /** Whether the link is up (the state says 'connected' only once the epoch was checked after a reconnect). */
  private _up = false;
  /** Channel streams known to exist (made or found), as promises so a channel is made once at a time. */
  private readonly _streams = new Map<string, Promise<void>>();
  private _epochCheck: Promise<void> | null = null;
  private _unwatch: (() => void) | null = null;

  constructor(options: NatsHistoryOptions) {
    const link =
      options.link ??
      new NatsLink({
        url: options.url ?? 'nats://127.0.0.1:4222',
        connectTimeout: options.connectTimeout ?? 5000,
        name: 'wavecast-history',
      });
    super('NATS', link.url, options);
    this.link = link;
    this.prefix = options.prefix ?? 'wavecast';
    this._streamPrefix = this.prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  async connect(): Promise<void> {
    try {
      await this.link.open('The NATS history');
    } catch (error) {
      throw this._unreachable(error);
    }
    const nc = this.link.connection<NatsConnection>();
    this._nats = this.link.module<NatsModule>();
    this._nc = nc;
    // The link is shared and may already be up and down again: a JetStream check that a drop of the link
    // made fail is tried once more when it is back.
    let dropped = false;
    const watchDrop = this.link.onState((state) => {
      if (state === 'reconnecting') dropped = true;
    });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this._linkBack();
          this._jsm = await nc.jetstreamManager();
          this._up = true;
          this._epochCheck = null;
          await this._checkEpoch();
          break;
        } catch (error) {
          if (attempt > 0 || !dropped) throw error;
        }
      }
      this._state = 'connected';
    } catch (error) {
      this._nc = null;
      this._up = false;
      await this.link.close();
      throw new Error(`NATS at ${this.url} has no usable JetStream (start nats-server with -js): ${describeError(error)}`, {
        cause: error,
      });
    } finally {
      watchDrop();
    }
    this._unwatch = this.link.onState((state) => {
      if (state === 'reconnecting' || state === 'closed') {
        this._up = false;
        this._setState('reconnecting');
      } else if (state === 'connected') {
        this._up = true;
        // The server may have restarted with another store: find the streams and the epoch again.
        this._streams.clear();
        this._epochCheck = null;
        this._checkEpoch().then(
          () => this._setState('connected'),
          () => this._setState('connected'),
        );
      }
    });
  }

  /** Resolves when the link is connected (at once if it is), or rejects after connectTimeout. */
  private _linkBack(): Promise<void> {
    if (this.link.state === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`the link to NATS at ${this.url} did not come back`));
      }, this._options.connectTimeout ?? 5000);
      const off = this.link.onState((state) => {
        if (state !== 'connected') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this._state === 'closed') return;
    const wasOpen = this._nc !== null;
    this._unwatch?.();
    this._unwatch = null;
    this._nc = null;
    this._up = false;
    this._state = 'closed';
    if (wasOpen) await this.link.close();
  }

  async append(channel: string, data: Buffer, binary: boolean, from?: string): Promise<StoredMessage> {
    const nc = this._live();
    const time = Date.now();
    const headers = this._nats!.headers();
    headers.set(TIME, String(time));
    if (binary) headers.set(BINARY, '1');
    if (from !== undefined) headers.set(FROM, from);
    const { stream, subject } = this._names(channel);
    for (let attempt = 0; ; attempt++) {
      await this._stream(channel);
      try {
        const ack = await nc.jetstream().publish(subject, data, { headers, expect: { streamName: stream } });
        const message: StoredMessage = { channel, seq: ack.seq, time, data, binary, epoch: this._epoch };
        if (from !== undefined) message.from = from;
        return message;
      } catch (error) {
        // No stream (the store was wiped, or the stream was deleted): make it, once.
        if (attempt > 0 || !isNoStream(error)) throw error;
        this._streams.delete(channel);
        this._epochCheck = null;
      }
    }
  }

  async read(channel: string, since: number): Promise<HistoryRead> {
    const jsm = this._manager();
    const { stream, hash } = this._names(channel);
    const start = Math.max(0, since);
    let state: { first_seq: number; last_seq: number };
    try {
      state = (await jsm.streams.info(stream)).state;
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
      await this._checkEpoch();
      // Never used, or deleted once idle: numbers go on above the floor.
      return historyRead([], await this._floor(hash), start);
    }
    const latest = state.last_seq;
    const { limit, ttl } = this._bounds.of(channel);
    const oldest = ttl > 0 ? Date.now() - ttl : -Infinity;
    const messages: StoredMessage[] = [];
    if (limit > 0) {
      for (let from = Math.max(start + 1, state.first_seq); from <= latest; from += READ_BATCH) {
        const batch: Array<Promise<StoredMsg | null>> = [];
        for (let seq = from; seq < from + READ_BATCH && seq <= latest; seq++) batch.push(this._get(jsm, stream, seq));
        for (const stored of await Promise.all(batch)) {
          if (stored === null) continue;
          const time = Number(stored.header.get(TIME));
          if (time < oldest) continue;
          const data = Buffer.from(stored.data.buffer, stored.data.byteOffset, stored.data.byteLength);
          const message: StoredMessage = {
            channel,
            seq: stored.seq,
            time,
            data,
            binary: stored.header.get(BINARY) === '1',
            epoch: this._epoch,
          };
          const from = stored.header.get(FROM);
          if (from !== '') message.from = from;
          messages.push(message);
        }
      }
    }
    return historyRead(messages, latest, start);
  }

  async latest(channel: string): Promise<number> {
    const { stream, hash } = this._names(channel);
    try {
      return (await this._manager().streams.info(stream)).state.last_seq;
    } catch (error) {
      if (apiCode(error) === STREAM_NOT_FOUND) return this._floor(hash);
      throw error;
    }
  }

  /**
   * Deletes the streams of idle channels (see the top), finishes retiring those a node left half retired
   * and making those left half made. Each stream's ttl is its own max_age (its channel's, set when it was
   * made). Without a ttl for any channel nothing expires, and nothing is deleted.
   */
  async sweep(): Promise<void> {
    if (!(this._bounds.shortestTtl > 0)) return;
    const jsm = this._manager();
    const now = Date.now();
    const mine = `${this._streamPrefix}_h_`;
    const lister = jsm.streams.list();
    const streams: StreamInfo[] = [];
    for (let page = await lister.next(); page.length > 0; page = await lister.next())
      for (const info of page) if (info.config.name.startsWith(mine)) streams.push(info);
    const sweepOne = async (info: StreamInfo) => {
      const hash = info.config.name.slice(mine.length);
      const subject = info.config.subjects?.[0];
      if (subject === this._subject('retired', hash)) await this._delete(jsm, info, hash);
      else if (subject === this._subject('staging', hash)) {
        if (now - Date.parse(info.created) > STAGING_GRACE)
          await jsm.streams.update(info.config.name, { ...info.config, subjects: [this._subject('history', hash)] });
      } else if (info.state.messages === 0 && idleSince(info) < now - ttlOf(info)) {
        await this._retire(jsm, info, hash);
      }
    };
    // A few at a time: each is five requests to the server.
    let next = 0;
    const worker = async () => {
      while (next < streams.length) await sweepOne(streams[next++]!);
    };
    await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, worker));
  }

  /** Moves an idle stream off its subject, and deletes it unless a message landed in it meanwhile. */
  private async _retire(jsm: JetStreamManager, info: StreamInfo, hash: string): Promise<void> {
    const name = info.config.name;
    await jsm.streams.update(name, { ...info.config, subjects: [this._subject('retired', hash)] });
    const after = await jsm.streams.info(name);
    if (after.state.messages > 0 || after.state.last_seq !== info.state.last_seq) {
      await jsm.streams.update(name, { ...info.config, subjects: [this._subject('history', hash)] });
      return;
    }
    await this._delete(jsm, after, hash);
  }

  /** Raises the floor of a retired stream's bucket to its last number, then deletes it. */
  private async _delete(jsm: JetStreamManager, info: StreamInfo, hash: string): Promise<void> {
    await this._raiseFloor(hash, info.state.last_seq);
    try {
      await jsm.streams.delete(info.config.name);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
    }
  }

  /** The highest number of any deleted stream of the bucket of `hash` (0: none). */
  private async _floor(hash: string): Promise<number> {
    return (await this._readFloor(hash)).floor;
  }

  private async _readFloor(hash: string): Promise<{ floor: number; seq: number }> {
    try {
      const stored = await this._manager().streams.getMessage(`${this._streamPrefix}_meta`, { last_by_subj: this._floorSubject(hash) });
      return { floor: Number(new TextDecoder().decode(stored.data)) || 0, seq: stored.seq };
    } catch (error) {
      // No floor yet, or no meta stream (a wiped store: numbers restart under a new epoch anyway).
      if (apiCode(error) === MESSAGE_NOT_FOUND || apiCode(error) === STREAM_NOT_FOUND) return { floor: 0, seq: 0 };
      throw error;
    }
  }

  /** Raises a bucket's floor to at least `to` (compare-and-set on the floor's subject: two nodes may race). */
  private async _raiseFloor(hash: string, to: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { floor, seq } = await this._readFloor(hash);
      if (floor >= to) return;
      const headers = this._nats!.headers();
      headers.set('Nats-Expected-Last-Subject-Sequence', String(seq));
      try {
        await this._live()
          .jetstream()
          .publish(this._floorSubject(hash), new TextEncoder().encode(String(to)), { headers });
        return;
      } catch (error) {
        if (apiCode(error) !== WRONG_LAST_SEQUENCE) throw error;
      }
    }
    throw new Error(`Could not raise a channel floor in NATS at ${this.url}`);
  }

  private _floorSubject(hash: string): string {
    return `${this.prefix}.meta.floor.${parseInt(hash.slice(0, 8), 16) % FLOOR_BUCKETS}`;
  }

  private _subject(kind: 'history' | 'staging' | 'retired', hash: string): string {
    return `${this.prefix}.${kind}.${hash}`;
  }

  async wipe(): Promise<void> {
    const jsm = this._manager();
    const lister = jsm.streams.names();
    const names: string[] = [];
    for (let page = await lister.next(); page.length > 0; page = await lister.next()) names.push(...page);
    for (const name of names)
      if (name.startsWith(`${this._streamPrefix}_h_`) || name === `${this._streamPrefix}_meta`) await jsm.streams.delete(name);
    this._streams.clear();
    this._epochCheck = null;
  }

  /** The stream and subject of a channel. */
  private _names(channel: string): { stream: string; subject: string; hash: string } {
    const hash = createHash('sha256').update(channel).digest('hex').slice(0, 24);
    return { stream: `${this._streamPrefix}_h_${hash}`, subject: this._subject('history', hash), hash };
  }

  /** Makes sure the channel's stream exists (the epoch too, when a stream has to be made). */
  private _stream(channel: string): Promise<void> {
    let known = this._streams.get(channel);
    if (known === undefined) {
      known = this._makeStream(channel);
      this._streams.set(channel, known);
      known.catch(() => this._streams.delete(channel));
    }
    return known;
  }

  private async _makeStream(channel: string): Promise<void> {
    const jsm = this._manager();
    const { stream, subject, hash } = this._names(channel);
    let existing: StreamInfo | null = null;
    try {
      existing = await jsm.streams.info(stream);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
    }
    const { limit, ttl, maxBytes } = this._bounds.of(channel);
    // max_msgs 0 would mean "no limit": with history 0 one message is stored and none is read.
    const bounds = { max_msgs: Math.max(1, limit), max_age: ttl * 1_000_000, max_bytes: maxBytes > 0 ? maxBytes : -1 };
    if (existing !== null) {
      if (existing.config.subjects?.[0] !== subject)
        throw new Error(
          `The history stream of ${JSON.stringify(channel).slice(0, 100)} is being retired or made by another node; try again`,
        );
      // Made before the channel's bounds changed (a new config or flags): it takes the ones in force.
      if (existing.config.max_msgs !== bounds.max_msgs || existing.config.max_age !== bounds.max_age)
        await jsm.streams.update(stream, { ...existing.config, ...bounds });
      return;
    }
    // A new stream: if the store was wiped, the epoch must be new too before any number is handed out.
    await this._checkEpoch();
    const floor = await this._floor(hash);
    const config = {
      name: stream,
      subjects: [floor > 0 ? this._subject('staging', hash) : subject],
      description: `wavecast history of ${JSON.stringify(channel).slice(0, 200)}`,
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      ...bounds,
      num_replicas: 1,
    };
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another node made it meanwhile, or with other bounds: use it as it is.
      if (apiCode(error) !== STREAM_NAME_IN_USE) throw error;
      return;
    }
    if (floor > 0) {
      // Made on its staging subject, where nothing is published: its first number is set, then it goes live.
      await jsm.streams.purge(stream, { seq: floor + 1 });
      await jsm.streams.update(stream, { ...config, subjects: [subject] });
    }
  }

  /** Reads the epoch, writing one first if there is none (once at a time). */
  private _checkEpoch(): Promise<void> {
    this._epochCheck ??= this._readEpoch().catch((error: unknown) => {
      this._epochCheck = null;
      throw error;
    });
    return this._epochCheck;
  }

  private async _readEpoch(): Promise<void> {
    const jsm = this._manager();
    const stream = `${this._streamPrefix}_meta`;
    const subject = `${this.prefix}.meta.epoch`;
    // The epoch and the floors of deleted channels' streams.
    const config = {
      name: stream,
      subjects: [subject, `${this.prefix}.meta.floor.*`],
      storage: 'file',
      max_msgs_per_subject: 1,
      num_replicas: 1,
    };
    try {
      await jsm.streams.add(config);
    } catch (error) {
      if (apiCode(error) !== STREAM_NAME_IN_USE) throw error;
      // Made by an earlier version, with the epoch's subject only.
      const info = await jsm.streams.info(stream);
      if (!info.config.subjects?.includes(config.subjects[1]!))
        await jsm.streams.update(stream, { ...info.config, subjects: config.subjects });
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const stored = await jsm.streams.getMessage(stream, { last_by_subj: subject });
        this._epoch = new TextDecoder().decode(stored.data);
        return;
      } catch (error) {
        if (apiCode(error) !== MESSAGE_NOT_FOUND) throw error;
      }
      const headers = this._nats!.headers();
      // Only if nothing is there yet: of two nodes starting together, one writes and both read it.
      headers.set('Nats-Expected-Last-Subject-Sequence', '0');
      try {
        await this._live().jetstream().publish(subject, new TextEncoder().encode(newEpoch()), { headers });
      } catch (error) {
        if (apiCode(error) !== WRONG_LAST_SEQUENCE) throw error;
      }
    }
    throw new Error(`Could not read or write the history epoch in NATS at ${this.url}`);
  }

  private async _get(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
    try {
      return await jsm.streams.getMessage(stream, { seq });
    } catch (error) {
      // Removed by the limits since the stream's state was read.
      if (apiCode(error) === MESSAGE_NOT_FOUND) return null;
      throw error;
    }
  }

  /** The connection, when the link is up: an operation while it is down fails at once. */
  private _live(): NatsConnection {
    if (this._nc === null || !this._up || this._state === 'closed')
      throw new Error(`The link to NATS at ${this.url} is ${this._state === 'closed' ? 'closed' : 'down'}`);
    return this._nc;
  }

  private _manager(): JetStreamManager {
    this._live();
    return this._jsm!;
  }
}

/** When a stream last changed: made, or its newest message stored (ms). */
function idleSince(info: StreamInfo): number {
  return Math.max(Date.parse(info.created), Date.parse(info.state.last_ts));
}

/** A stream's ttl: its max_age, in ms (0: none, never idle). */
function ttlOf(info: StreamInfo): number {
  const age = Number(info.config.max_age ?? 0) / 1_000_000;
  return age > 0 ? age : Number.POSITIVE_INFINITY;
}

export function apiCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

/** A publish that no stream took (nats.js reports the server's "no responders" as code 503). */
function isNoStream(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '503' || apiCode(error) === STREAM_NOT_FOUND;
}
