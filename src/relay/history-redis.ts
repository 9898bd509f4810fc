// RedisHistory: channel history in Redis, shared by every relay node that uses the same Redis and prefix,
// so that a client that reconnects to another node (or after a restart) recovers what it missed.
//
// Keys (prefix `wavecast:` by default):
//   <prefix>history:epoch          the epoch: made once (by whichever node needs it first); a Redis that
//                                  lost its data has no epoch, so a new one tells clients their numbers are void
//   <prefix>history:seq:<channel>  the channel's newest sequence number (INCR)
//   <prefix>history:log:<channel>  a Stream of the kept messages, entry id `<seq>-0`, fields t (time),
//                                  b (1: binary), d (the payload) and, for a wavecast.v1 publisher, f (its id)
//   <prefix>history:bytes:<channel> payload bytes in the log
//   <prefix>history:top            the highest sequence number handed out on any channel
//   <prefix>history:seen           a bitmap of 2^20 bits (128 KiB): the bit of every channel name's hash
//                                  that was ever appended to
//
// The bounds are the channel's own (its namespace's, else the --history flags), passed with each call.
// With a ttl, a channel's three keys expire together once it has been idle that long (each append
// pushes the expiry back), so an idle channel leaves nothing behind. A channel that comes back after that
// must not number from 1 again (a client holding one of its old numbers would be fed another message
// under it): when its counter is missing and its bit in `seen` is set, it starts above `top`, which is
// above every number it ever had; a client's `since` from before is then answered with a gap. A channel
// never seen starts at 1 (a name whose bit another name set only starts higher).
//
// An append is one Lua script, run atomically by Redis: it takes the next number, adds the entry, and
// drops the oldest entries past the count, byte and age bounds. Numbers are therefore unique and
// consecutive across nodes, and a number is only handed out together with its entry. A read is one
// script too (epoch, newest number and the entries after `since` at one instant).
//
// It works on the node's RedisLink (its command connection), shared with the broker adapter and the
// documents' store; the `redis` package is loaded when the link connects, never by `import 'wavecast'`.
import { createHash } from 'node:crypto';
import { RedisLink, type RedisClient } from '../cluster/redis-link.js';
import { hashName, historyRead, type HistoryRead, type StoredMessage } from './history.js';
import { newEpoch, SharedHistoryBase, type SharedHistory, type SharedHistoryOptions } from './history-shared.js';

export interface RedisHistoryOptions extends SharedHistoryOptions {
  /** `redis[s]://…` (default redis://127.0.0.1:6379). */
  url?: string;
  /** Put before every key (default `wavecast:`). */
  prefix?: string;
  /** The node's link to Redis (shared with the adapter); by default one of its own to `url`. */
  link?: RedisLink;
}

const APPEND = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then epoch = ARGV[1]; redis.call('SET', KEYS[1], epoch) end
local bit = tonumber(ARGV[9])
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('GETBIT', KEYS[6], bit) == 1 then
  redis.call('SET', KEYS[2], redis.call('GET', KEYS[5]) or '0')
end
local seq = redis.call('INCR', KEYS[2])
redis.call('SETBIT', KEYS[6], bit, 1)
if seq > tonumber(redis.call('GET', KEYS[5]) or '0') then redis.call('SET', KEYS[5], seq) end
local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local maxBytes = tonumber(ARGV[7])
local size = string.len(ARGV[4])
if limit > 0 and size <= maxBytes then
  if ARGV[8] == '' then
    redis.call('XADD', KEYS[3], seq .. '-0', 't', ARGV[2], 'b', ARGV[3], 'd', ARGV[4])
  else
    redis.call('XADD', KEYS[3], seq .. '-0', 't', ARGV[2], 'b', ARGV[3], 'd', ARGV[4], 'f', ARGV[8])
  end
  local bytes = redis.call('INCRBY', KEYS[4], size)
  local count = redis.call('XLEN', KEYS[3])
  while count > 0 do
    local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
    local fields = first[2]
    if count > limit or bytes > maxBytes or (ttl > 0 and tonumber(fields[2]) < now - ttl) then
      redis.call('XDEL', KEYS[3], first[1])
      bytes = redis.call('DECRBY', KEYS[4], string.len(fields[6]))
      count = count - 1
    else
      break
    end
  end
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[3], ttl)
    redis.call('PEXPIRE', KEYS[4], ttl)
  end
else
  redis.call('DEL', KEYS[3], KEYS[4])
end
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return {seq, epoch}
`;

const READ = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then epoch = ARGV[1]; redis.call('SET', KEYS[1], epoch) end
local latest = redis.call('GET', KEYS[2])
if not latest then
  -- Gone idle (or never used): a channel seen before goes on above every number handed out.
  if redis.call('GETBIT', KEYS[6], tonumber(ARGV[3])) == 1 then latest = redis.call('GET', KEYS[5]) or '0' else latest = '0' end
end
return {epoch, tonumber(latest), redis.call('XRANGE', KEYS[3], '(' .. ARGV[2] .. '-0', '+')}
`;

/**
 * Buffers for blob strings (payloads stay binary-safe); a Redis that hangs fails a command after 5 s (the
 * publisher is told) rather than holding it without end.
 */
const COMMAND_OPTIONS = { typeMapping: { 36: Buffer }, timeout: 5000 };

export class RedisHistory extends SharedHistoryBase implements SharedHistory {
  readonly prefix: string;
  readonly link: RedisLink;
  private _unwatch: (() => void) | null = null;

  constructor(options: RedisHistoryOptions) {
    const link =
      options.link ?? new RedisLink({ url: options.url ?? 'redis://127.0.0.1:6379', connectTimeout: options.connectTimeout ?? 5000 });
    super('Redis', link.url, options);
    this.link = link;
    this.prefix = options.prefix ?? 'wavecast:';
  }

  async connect(): Promise<void> {
    try {
      await this.link.open('The Redis history');
    } catch (error) {
      throw this._unreachable(error);
    }
    try {
      await this._loadScripts(this.link.command);
    } catch (error) {
      await this.link.close();
      throw this._unreachable(error);
    }
    this._unwatch = this.link.onState((state) => {
      if (state === 'reconnecting') this._setState('reconnecting');
      else if (state === 'connected') {
        // A Redis that restarted has forgotten the scripts: loaded again before any call after this.
        this._loadScripts(this.link.command).catch(() => {});
        this._setState('connected');
      }
    });
    this._setState('connected');
    // Fix the epoch now (a read of any channel makes it if it is missing).
    await this.latest('');
  }

  async close(): Promise<void> {
    if (this._state === 'closed') return;
    const wasOpen = this._unwatch !== null;
    this._unwatch?.();
    this._unwatch = null;
    this._state = 'closed';
    if (wasOpen) await this.link.close();
  }

  async append(channel: string, data: Buffer, binary: boolean, from?: string): Promise<StoredMessage> {
    const time = Date.now();
    const { limit, ttl, maxBytes } = this._bounds.of(channel);
    const reply = (await this._script(APPEND, this._keys(channel), [
      newEpoch(),
      String(time),
      binary ? '1' : '0',
      data,
      String(limit),
      String(ttl),
      String(maxBytes),
      from ?? '',
      String(seenBit(channel)),
    ])) as [number, Buffer];
    const epoch = reply[1].toString();
    this._epoch = epoch;
    const message: StoredMessage = { channel, seq: Number(reply[0]), time, data, binary, epoch };
    if (from !== undefined) message.from = from;
    return message;
  }

  async read(channel: string, since: number): Promise<HistoryRead> {
    const reply = (await this._script(READ, this._keys(channel), [newEpoch(), String(Math.max(0, since)), String(seenBit(channel))])) as [
      Buffer,
      number,
      Array<[Buffer, Buffer[]]>,
    ];
    this._epoch = reply[0].toString();
    const latest = Number(reply[1]);
    const { ttl } = this._bounds.of(channel);
    const oldest = ttl > 0 ? Date.now() - ttl : -Infinity;
    const messages: StoredMessage[] = [];
    for (const [id, fields] of reply[2]) {
      const time = Number(fields[1]!.toString());
      if (time < oldest) continue; // past its age: as good as gone
      const seq = Number(id.toString().slice(0, -2));
      const message: StoredMessage = { channel, seq, time, binary: fields[3]!.toString() === '1', data: fields[5]!, epoch: this._epoch };
      if (fields[6]?.toString() === 'f') message.from = fields[7]!.toString();
      messages.push(message);
    }
    const start = Math.max(0, since);
    return historyRead(messages, latest, start);
  }

  async latest(channel: string): Promise<number> {
    return (await this.read(channel, Number.MAX_SAFE_INTEGER)).latest;
  }

  /** Deletes every key of this prefix's history (tests; an operator's reset). */
  async wipe(): Promise<void> {
    const client = this._require();
    let cursor = '0';
    do {
      const [next, keys] = (await client.sendCommand([
        'SCAN',
        cursor,
        'MATCH',
        `${escapeGlob(this.prefix)}history:*`,
        'COUNT',
        '1000',
      ])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await client.sendCommand(['DEL', ...keys]);
    } while (cursor !== '0');
  }

  private _keys(channel: string): string[] {
    const p = `${this.prefix}history:`;
    return [`${p}epoch`, `${p}seq:${channel}`, `${p}log:${channel}`, `${p}bytes:${channel}`, `${p}top`, `${p}seen`];
  }

  private _require(): RedisClient {
    if (this._unwatch === null || this._state === 'closed') throw new Error('The Redis history is not connected');
    return this.link.command;
  }

  /** Loads the scripts, so that calls find them (sent before any call made after this). */
  private async _loadScripts(client: RedisClient): Promise<void> {
    await Promise.all([APPEND, READ].map((script) => client.sendCommand(['SCRIPT', 'LOAD', script])));
  }

  /**
   * EVALSHA with the script's SHA1 computed here, so that every call sends its one command at once, in
   * the order the calls were made, and Redis runs them in that order (an append that first had to load
   * its script could be overtaken by later ones). The scripts are loaded on connect and on every
   * reconnect; should Redis still answer NOSCRIPT (its script cache flushed by hand), the call is sent
   * again with the script itself (EVAL, which loads it), and may then land after calls made later.
   */
  private async _script(script: string, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
    const client = this._require();
    try {
      return await client.sendCommand(['EVALSHA', scriptSha(script), String(keys.length), ...keys, ...args], COMMAND_OPTIONS);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    }
    return client.sendCommand(['EVAL', script, String(keys.length), ...keys, ...args], COMMAND_OPTIONS);
  }
}

/** Bits of the `seen` bitmap (128 KiB). */
const SEEN_BITS = 1 << 20;

function seenBit(channel: string): number {
  return hashName(channel) % SEEN_BITS;
}

const SHAS = new Map<string, string>();
/** The id Redis gives a script: the SHA1 of its text, in hex. */
function scriptSha(script: string): string {
  let sha = SHAS.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    SHAS.set(script, sha);
  }
  return sha;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
