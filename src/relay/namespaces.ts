// Channel namespaces (--config FILE): rules per channel-name prefix, and the one place that decides
// whether an identity may subscribe to or publish on a channel, and what history a channel keeps. Without a config (or for a channel in
// no namespace) the rule is the token's own lists (`subscribe`, `publish`), which an open relay's
// anonymous connections pass for every channel: today's open relay.
//
//   {"namespaces": {
//     "news:":  {"publish": "backend", "presence": false},
//     "team:":  {"subscribe": {"claim": "teams"}, "joinLeave": false},
//     "staff:": {"subscribe": "users", "anonymous": false},
//     "live:":  {"history": 0},
//     "log:":   {"history": 1000, "historyTtl": 86400}
//   }}
//
// publish: "clients" (default: as the token allows) or "backend" (only the server API and the api key);
// subscribe: "anyone" (default: as the token allows), "users" (any verified user), or {"claim": NAME}
// (a user whose claim NAME, a list, holds the channel's name after the prefix);
// presence: false (no names, no join/leave envelopes); joinLeave: false (names, but no join/leave
// envelopes); anonymous: false (connections without a verified user may not use it); history: most
// messages kept per channel (0: none; default --history); historyTtl: longest kept, in seconds (0: no age
// limit; default --history-ttl). The bytes kept per channel stay --history-bytes for every channel.
import { readFileSync } from 'node:fs';
import { sameBounds, type ChannelBounds, type HistoryBounds } from './history.js';
import type { Identity } from './identity.js';

export interface Namespace {
  prefix: string;
  publish: 'clients' | 'backend';
  subscribe: 'anyone' | 'users' | { claim: string };
  presence: boolean;
  joinLeave: boolean;
  anonymous: boolean;
  /** Most messages kept per channel (null: the --history flag's). */
  history: number | null;
  /** Longest a message is kept (ms; null: the --history-ttl flag's). */
  historyTtl: number | null;
}

const DEFAULT: Omit<Namespace, 'prefix'> = {
  publish: 'clients',
  subscribe: 'anyone',
  presence: true,
  joinLeave: true,
  anonymous: true,
  history: null,
  historyTtl: null,
};

/** Most messages kept per channel that --history or a namespace may ask for. */
export const MAX_HISTORY = 1_000_000;
/** Longest a namespace may keep a message (s): a year. */
const MAX_HISTORY_TTL = 366 * 24 * 3600;

/** Most namespaces a config may have. */
const MAX_NAMESPACES = 1000;

export class Namespaces {
  /** Longest prefix first. */
  private readonly _list: Namespace[];

  constructor(list: Namespace[] = []) {
    this._list = [...list].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Reads and checks a config file; throws an Error that says what is wrong. */
  static load(file: string): Namespaces {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`--config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return Namespaces.parse(value, file);
  }

  static parse(value: unknown, where = 'the config'): Namespaces {
    const fail = (message: string): never => {
      throw new Error(`--config ${where}: ${message}`);
    };
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('it must be a JSON object with "namespaces"');
    const raw = (value as { namespaces?: unknown }).namespaces ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('"namespaces" must be an object: prefix → rules');
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length > MAX_NAMESPACES) fail(`at most ${MAX_NAMESPACES} namespaces`);
    const list: Namespace[] = [];
    for (const [prefix, rules] of entries) {
      if (typeof rules !== 'object' || rules === null || Array.isArray(rules))
        fail(`the rules of ${JSON.stringify(prefix)} must be an object`);
      const r = rules as Record<string, unknown>;
      for (const key of Object.keys(r))
        if (!(key in DEFAULT))
          fail(`${JSON.stringify(prefix)}: unknown rule ${JSON.stringify(key)} (there are ${Object.keys(DEFAULT).join(', ')})`);
      const namespace: Namespace = { prefix, ...DEFAULT };
      if (r.publish !== undefined) {
        if (r.publish !== 'clients' && r.publish !== 'backend') fail(`${JSON.stringify(prefix)}: "publish" is "clients" or "backend"`);
        namespace.publish = r.publish as Namespace['publish'];
      }
      if (r.subscribe !== undefined) {
        const s = r.subscribe as unknown;
        if (s === 'anyone' || s === 'users') namespace.subscribe = s;
        else if (
          typeof s === 'object' &&
          s !== null &&
          typeof (s as { claim?: unknown }).claim === 'string' &&
          (s as { claim: string }).claim !== ''
        )
          namespace.subscribe = { claim: (s as { claim: string }).claim };
        else fail(`${JSON.stringify(prefix)}: "subscribe" is "anyone", "users" or {"claim": "NAME"}`);
      }
      for (const key of ['presence', 'joinLeave', 'anonymous'] as const) {
        if (r[key] === undefined) continue;
        if (typeof r[key] !== 'boolean') fail(`${JSON.stringify(prefix)}: "${key}" is true or false`);
        namespace[key] = r[key] as boolean;
      }
      if (r.history !== undefined) {
        const n = r.history;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_HISTORY)
          fail(
            `${JSON.stringify(prefix)}: "history" is a whole number of messages from 0 (none kept) to ${MAX_HISTORY}, not ${JSON.stringify(n)}`,
          );
        namespace.history = n as number;
      }
      if (r.historyTtl !== undefined) {
        const t = r.historyTtl;
        if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_HISTORY_TTL)
          fail(`${JSON.stringify(prefix)}: "historyTtl" is seconds from 0 (no age limit) to ${MAX_HISTORY_TTL}, not ${JSON.stringify(t)}`);
        // Whole milliseconds: Redis's PEXPIRE and JetStream's max_age take integers.
        namespace.historyTtl = Math.ceil((t as number) * 1000);
      }
      list.push(namespace);
    }
    return new Namespaces(list);
  }

  /** The namespace of a channel: the longest prefix that starts its name (else the defaults). */
  of(channel: string): Namespace {
    for (const namespace of this._list) if (channel.startsWith(namespace.prefix)) return namespace;
    return { prefix: '', ...DEFAULT };
  }

  /**
   * Each channel's history bounds: its namespace's size and age where the config sets them, else
   * `flags` (the --history flags; the bytes bound is always theirs).
   */
  historyBounds(flags: HistoryBounds): ChannelBounds {
    const own = new Map<string, HistoryBounds>();
    for (const namespace of this._list)
      if (namespace.history !== null || namespace.historyTtl !== null)
        own.set(namespace.prefix, {
          limit: namespace.history ?? flags.limit,
          ttl: namespace.historyTtl ?? flags.ttl,
          maxBytes: flags.maxBytes,
        });
    if (own.size === 0) return sameBounds(flags);
    // A channel whose namespace sets neither has the flags' (rules are not taken from shorter prefixes).
    const ttls = [flags.ttl, ...[...own.values()].map((bounds) => bounds.ttl)].filter((ttl) => ttl > 0);
    return {
      of: (channel) => own.get(this.of(channel).prefix) ?? flags,
      shortestTtl: ttls.length > 0 ? Math.min(...ttls) : 0,
    };
  }

  /** Null when the identity may subscribe to the channel, else why not. */
  subscribeRefusal(identity: Identity, channel: string): string | null {
    const namespace = this.of(channel);
    if (identity.user === null && !namespace.anonymous) return `${JSON.stringify(channel)} is for signed-in users only`;
    const rule = namespace.subscribe;
    let allowed: boolean;
    if (rule === 'anyone') allowed = identity.subscribe.allows(channel);
    else if (rule === 'users') allowed = identity.user !== null;
    else {
      const listed = identity.claims[rule.claim];
      const rest = channel.slice(namespace.prefix.length);
      allowed = identity.user !== null && Array.isArray(listed) && (listed.includes(rest) || listed.includes(channel));
    }
    return allowed ? null : `User ${JSON.stringify(identity.user)} may not subscribe to ${JSON.stringify(channel)}`;
  }

  /** Null when the identity may publish on the channel, else why not. */
  publishRefusal(identity: Identity, channel: string): string | null {
    const namespace = this.of(channel);
    if (namespace.publish === 'backend') return `Only the backend publishes on ${JSON.stringify(channel)}`;
    if (identity.user === null && !namespace.anonymous) return `${JSON.stringify(channel)} is for signed-in users only`;
    return identity.publish.allows(channel) ? null : `User ${JSON.stringify(identity.user)} may not publish on ${JSON.stringify(channel)}`;
  }
}
