// `wavecast serve`: runs the relay (src/relay/) from the command line. Flags are checked before anything
// starts (a bad one exits 2 with a message); the relay then runs until SIGINT or SIGTERM, when it shuts
// down gracefully and the command exits 0. The listening line is the only thing written to stdout.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { UsageError, helpText, integer, number, parseArgs, type FlagSpec, type FlagValues } from './args.js';
import { createLogger, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS } from '../relay/log.js';
import type { RelayCluster } from '../relay/cluster.js';
import { Relay, RELAY_DEFAULTS, type RelayOptions } from '../relay/relay.js';
import type { ClusterSettings } from './serve-cluster.js';
import { listenFailure, listeningLine, pageUrl } from './serve-address.js';
import { checkDocsFlags, DOCS_FLAGS } from './serve-docs.js';
import { DOCS_UNAVAILABLE } from '../relay/docs/load.js';
import { JWT_UNAVAILABLE } from '../relay/jwt.js';
import { MAX_HISTORY, Namespaces } from '../relay/namespaces.js';

const USAGE = 'wavecast serve [options]';
const DESCRIPTION = `Runs the Wavecast relay. Every path is a channel: a WebSocket client on ws://HOST:PORT/<channel> gets
every message any client of that channel sends, itself included. GET / serves a chat page;
POST /channels/<channel>/messages publishes a message; GET /channels/<channel>/messages?since=SEQ
reads the channel's history; the subprotocol wavecast.v1 adds sequence numbers, recovery and presence; GET /healthz and GET /metrics (Prometheus).

Several relays (nodes) serve as one through a broker, Redis or NATS (see the options of those names):
publishes cross nodes, and history, sequence numbers and presence are shared through it (Redis Streams,
NATS JetStream), so a client that reconnects to another node recovers what it missed. Several worker
processes on one port need a broker too. See docs/cluster.md.

Collaborative documents (Yjs): y-websocket's WebsocketProvider connects to ws://HOST:PORT/docs/<name>;
GET /edit/<name> is an editor page; GET and POST /docs/<name> read a document and apply an update.
They are kept under --data-dir, or in PostgreSQL (--postgres), or by the broker. See docs/documents.md.`;

export const SERVE_FLAGS: Record<string, FlagSpec> = {
  port: { type: 'number', short: 'p', default: 3000, env: 'PORT', value: 'PORT', description: 'port to listen on (0: any free port)' },
  host: { type: 'string', default: 'localhost', value: 'HOST', description: 'address to listen on (0.0.0.0 for every interface)' },
  token: {
    type: 'string',
    env: 'WAVECAST_TOKEN',
    value: 'TOKEN',
    description: 'require this bearer token on upgrades (or ?token=), publishes, /channels and /metrics (default: none, open to all)',
  },
  'jwt-secret': {
    type: 'string',
    env: 'WAVECAST_JWT_SECRET',
    value: 'SECRET',
    description:
      'require a JWT signed with this HS256 secret on every WebSocket (Authorization: Bearer, ?token=, or a wavecast.v1 auth envelope): it names the user and the channels it may subscribe to and publish on (see docs/auth.md; needs the jose package) (default: none)',
  },
  'jwt-key': {
    type: 'string',
    value: 'FILE',
    description: "the same with a public key: a PEM file (RS256, ES256 or EdDSA by the key's type) or a JWKS file (default: none)",
  },
  'auth-url': {
    type: 'string',
    value: 'URL',
    description:
      "ask this backend who each connection is: the relay POSTs the upgrade's Cookie and Authorization to it and takes its JSON answer (user, name, permissions) or its 401/403 (see docs/auth.md); a backend slow or down refuses new connections with 503 and leaves open ones alone (default: none)",
  },
  'auth-timeout': {
    type: 'number',
    default: 2,
    value: 'SECONDS',
    description: 'how long --auth-url has to answer (must be less than --handshake-timeout)',
  },
  config: {
    type: 'string',
    value: 'FILE',
    description:
      'channel namespaces (JSON): per channel-name prefix, who may publish (clients or backend) and subscribe (anyone, users, or by a token claim), presence and join/leave envelopes on or off, anonymous access, history size and age (see docs/auth.md) (default: none, every channel open as the tokens allow)',
  },
  'api-key': {
    type: 'string',
    env: 'WAVECAST_API_KEY',
    value: 'KEY',
    description:
      "turn on the server API for backends (POST /api/publish, history, presence, disconnect, remove, channels, info; see docs/auth.md) with this key as its bearer token; it then also opens /metrics, which a client's token no longer does (default: none, the API is off)",
  },
  'jwt-leeway': { type: 'number', default: 5, value: 'SECONDS', description: "clock skew allowed on a JWT's exp and nbf" },
  origin: {
    type: 'list',
    value: 'ORIGIN',
    description:
      "allow WebSocket upgrades and publishes from pages of this origin only, besides the relay's own page (repeatable; * for any) (default: any)",
  },
  'max-payload': {
    type: 'number',
    default: 65536,
    value: 'BYTES',
    description: 'largest message accepted, over WebSocket (1009 beyond) or HTTP (413)',
  },
  'rate-limit': {
    type: 'number',
    default: 20,
    value: 'PER_SECOND',
    description: 'messages a second one connection may send (0: no limit); over it the connection is closed with 1008',
  },
  'rate-burst': {
    type: 'number',
    default: 40,
    value: 'MESSAGES',
    description: 'messages one connection may send at once before the rate limit applies',
  },
  'http-rate-limit': {
    type: 'number',
    default: RELAY_DEFAULTS.httpRateLimit.rate,
    value: 'PER_SECOND',
    description:
      'HTTP publishes (POST /channels/<channel>/messages) a second one client address may make (0: no limit); over it: 429 with Retry-After',
  },
  'http-rate-burst': {
    type: 'number',
    default: RELAY_DEFAULTS.httpRateLimit.burst,
    value: 'REQUESTS',
    description: 'HTTP publishes one client address may make at once before --http-rate-limit applies',
  },
  'max-backpressure': { type: 'number', default: 1048576, value: 'BYTES', description: 'most bytes queued for one slow client' },
  'backpressure-policy': {
    type: 'string',
    default: 'drop',
    value: 'drop|close',
    description: 'past --max-backpressure: skip messages for the client, or close it with 1008',
  },
  'max-connections': {
    type: 'number',
    default: 10000,
    value: 'N',
    description:
      'most open connections of any kind (WebSocket, HTTP, TLS handshakes and request heads under way); when full, the one waiting longest without a request is cut to make room, else 503 (0: as many as the file descriptor limit allows, which also caps a larger N)',
  },
  'max-connections-per-ip': {
    type: 'number',
    default: RELAY_DEFAULTS.maxConnectionsPerIp,
    value: 'N',
    description: 'most connections from one address (an IPv6 /64 counts as one); more are answered 429 (0: no limit)',
  },
  'handshake-timeout': {
    type: 'number',
    default: RELAY_DEFAULTS.handshakeTimeout / 1000,
    value: 'SECONDS',
    description:
      "a TLS handshake, then the request head, then a WebSocket upgrade's checks must each be done within this; a connection that has sent nothing or half a head is answered 408 and closed",
  },
  'request-timeout': {
    type: 'number',
    default: RELAY_DEFAULTS.requestTimeout / 1000,
    value: 'SECONDS',
    description: 'a whole HTTP request, body included, must have arrived within this (408 otherwise; 0: no limit)',
  },
  'keep-alive-timeout': {
    type: 'number',
    default: RELAY_DEFAULTS.keepAliveTimeout / 1000,
    value: 'SECONDS',
    description: 'an HTTP connection idle between requests is closed after this',
  },
  'idle-timeout': {
    type: 'number',
    default: RELAY_DEFAULTS.idleTimeout / 1000,
    value: 'SECONDS',
    description:
      'a WebSocket on which no message went either way for this long is closed with 1000; pings and pongs do not count (0: never)',
  },
  'public-url': {
    type: 'list',
    value: 'URL',
    description:
      "a URL the relay is reached at besides the address it listens on, such as https://chat.example.com behind a proxy: with --origin, pages of its origin are the relay's own (repeatable) (default: none)",
  },
  heartbeat: {
    type: 'number',
    default: 30,
    value: 'SECONDS',
    description: 'ping connections quiet this long, drop those silent as long again (0: off)',
  },
  history: {
    type: 'number',
    default: 100,
    value: 'N',
    description:
      'messages kept per channel for clients that reconnect (wavecast.v1) and GET /channels/<channel>/messages (0: none); a --config namespace may set its own',
  },
  'history-ttl': {
    type: 'number',
    default: 3600,
    value: 'SECONDS',
    description: 'longest a message is kept in the history (0: no age limit); a --config namespace may set its own',
  },
  'history-bytes': {
    type: 'number',
    default: 1048576,
    value: 'BYTES',
    description: 'most payload bytes kept in the history per channel (NATS counts about 100 bytes of subject and headers per message too)',
  },
  'history-total-bytes': {
    type: 'number',
    default: 67108864,
    value: 'BYTES',
    description:
      'most memory the history of all channels together may take, counting what each channel holds (about 512 bytes, its name, and for its kept messages 32 bytes each and a ring of their bytes; the quietest channels lose their oldest first); in memory only: with a broker, its own limits apply',
  },
  'max-channels': {
    type: 'number',
    default: RELAY_DEFAULTS.maxChannels,
    value: 'N',
    description:
      'most channels the relay keeps numbers and history for (the quietest is forgotten first; clients asking for its messages get a gap); in memory only',
  },
  'max-channels-per-connection': {
    type: 'number',
    default: RELAY_DEFAULTS.maxChannelsPerConnection,
    value: 'N',
    description: 'most channels one wavecast.v1 connection may join',
  },
  redis: {
    type: 'string',
    value: 'URL',
    description:
      'join a cluster through Redis (redis://host:6379): publishes between nodes, history and sequence numbers in Redis Streams, presence of every node (default: none, one process)',
  },
  nats: {
    type: 'string',
    value: 'URL',
    description:
      'join a cluster through NATS with JetStream (nats://host:4222), the same way (history in JetStream streams) (default: none)',
  },
  'cluster-prefix': {
    type: 'string',
    default: 'wavecast',
    value: 'NAME',
    description: 'names of the keys (Redis: NAME:…) or subjects and streams (NATS) of this cluster; nodes that serve together share it',
  },
  'presence-updates': {
    type: 'number',
    default: RELAY_DEFAULTS.presenceUpdates,
    value: 'N',
    description:
      "presence (join/leave) envelopes a channel's members get one by one per second; more in that second are sent as one summary at its end (in a cluster, the same for the deltas between nodes)",
  },
  'presence-heartbeat': {
    type: 'number',
    default: 5,
    value: 'SECONDS',
    description: 'in a cluster, how often a node tells the others it is alive; the members of a node silent 3 times as long are dropped',
  },
  workers: {
    type: 'number',
    default: 1,
    value: 'N',
    description: 'processes serving this port (node:cluster); more than 1 needs --redis or --nats',
  },
  ...DOCS_FLAGS,
  'metrics-channels': {
    type: 'number',
    default: 20,
    value: 'N',
    description: 'how many of the busiest channels /metrics lists subscribers for',
  },
  'shutdown-timeout': {
    type: 'number',
    default: 10,
    value: 'SECONDS',
    description:
      'on SIGINT/SIGTERM, how long clients get to take what was queued and HTTP requests to finish; then whatever is still connected is cut off',
  },
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    description: 'PEM certificate (chain): serve https:// and wss:// (needs --tls-key) (default: none, plain http:// and ws://)',
  },
  'tls-key': { type: 'string', value: 'FILE', description: 'PEM private key for --tls-cert' },
  'log-level': { type: 'string', default: 'info', value: LOG_LEVELS.join('|'), description: 'least important events logged (to stderr)' },
  'log-format': {
    type: 'string',
    default: 'text',
    value: LOG_FORMATS.join('|'),
    description: 'one line of text, or one JSON object, per event',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help and exit' },
};

export interface ServeIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Registers for SIGINT and SIGTERM; returns a function that unregisters. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

const processIo: ServeIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  onSignal(handler) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
};

/** Runs `wavecast serve` with `argv` (the arguments after "serve"); resolves with the exit status. */
export async function runServe(argv: string[], io: ServeIo = processIo): Promise<number> {
  let settings: ServeSettings;
  try {
    const parsed = parseArgs(argv, SERVE_FLAGS, io.env);
    if (parsed.flags.help === true) {
      io.stdout(helpText(USAGE, DESCRIPTION, SERVE_FLAGS));
      return 0;
    }
    if (parsed.positionals.length > 0)
      throw new UsageError(`unexpected argument "${parsed.positionals[0]}" (wavecast serve takes only options)`);
    settings = checkFlags(parsed.flags);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`wavecast serve: ${error.message}\nRun "wavecast serve --help" for the options.\n`);
      return error.exitCode;
    }
    throw error;
  }

  const worker = settings.workers > 1 ? (cluster.isPrimary ? 'primary' : String(cluster.worker?.id)) : undefined;
  const log = createLogger({
    level: settings.logLevel,
    format: settings.logFormat,
    write: io.stderr,
    ...(worker !== undefined ? { fields: { worker } } : {}),
  });
  if (settings.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./workers.js');
    return runPrimary(settings.workers, log, io, settings.relay.host);
  }
  // A worker is stopped by the primary (SIGTERM); Ctrl-C in a terminal reaches every process, so the
  // worker leaves SIGINT to the primary rather than count it as a second signal.
  if (worker !== undefined) process.on('SIGINT', () => undefined);
  const signals: ServeIo['onSignal'] = worker !== undefined ? (handler) => onSigterm(handler) : io.onSignal;

  let relayCluster: RelayCluster | undefined;
  if (settings.cluster !== undefined) {
    try {
      const { startCluster } = await import('./serve-cluster.js');
      relayCluster = await startCluster(settings.cluster, log);
    } catch (error) {
      log.error(`cannot start the relay: ${(error as Error).message ?? String(error)}`);
      return 1;
    }
  }
  let relay: Relay;
  try {
    relay = await Relay.start({ ...settings.relay, log, ...(relayCluster !== undefined ? { cluster: relayCluster } : {}) });
  } catch (error) {
    await relayCluster?.close().catch(() => undefined);
    const failure = error as NodeJS.ErrnoException;
    log.error(
      `cannot start the relay: ${failure.code === DOCS_UNAVAILABLE || failure.code === JWT_UNAVAILABLE ? failure.message : listenFailure(failure, settings.relay.host, settings.relay.port)}`,
    );
    return 1;
  }

  if (worker !== undefined) (await import('./workers.js')).reportListening(relay.url);
  else io.stdout(`${listeningLine(relay.url, settings.relay.host)}\n`);
  log.info('relay started', {
    url: relay.url,
    page: pageUrl(relay.url, settings.relay.host),
    token: settings.relay.token ? 'required' : 'none',
    users:
      settings.relay.authUrl !== undefined
        ? `asked of ${settings.relay.authUrl.url}`
        : settings.relay.jwt !== undefined
          ? 'JWT required'
          : 'anonymous',
    origins: settings.relay.origins.length > 0 ? settings.relay.origins.join(',') : 'any',
    maxPayload: settings.relay.maxPayload,
    rateLimit: settings.relay.rateLimit.rate > 0 ? `${settings.relay.rateLimit.rate}/s burst ${settings.relay.rateLimit.burst}` : 'off',
    maxConnections: relay.maxConnections,
    maxConnectionsPerIp: settings.relay.maxConnectionsPerIp || 'none',
    broker: relayCluster?.broker,
    node: relayCluster?.adapter.nodeId,
    documents: relay.documents,
    pid: process.pid,
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const unregister = signals((signal) => {
      if (stopping) {
        log.warn(`${signal} again: cutting off every connection now`);
        relay.terminate();
        return;
      }
      stopping = true;
      log.info(`${signal} received: shutting down`, { connections: relay.metrics.connectionsOpened - relay.metrics.connectionsClosed });
      relay.close(settings.shutdownTimeout).then(
        () => {
          unregister();
          log.info('relay stopped', {
            messagesIn: relay.metrics.messagesIn.websocket + relay.metrics.messagesIn.http,
            messagesOut: relay.metrics.messagesOut,
          });
          resolve(0);
        },
        (error: unknown) => {
          unregister();
          log.error('shutdown failed', { error: String(error) });
          resolve(1);
        },
      );
    });
  });
}

function onSigterm(handler: (signal: NodeJS.Signals) => void): () => void {
  process.on('SIGTERM', handler);
  return () => process.off('SIGTERM', handler);
}

interface ServeSettings {
  relay: Omit<RelayOptions, 'log'>;
  /** With --redis or --nats. */
  cluster?: ClusterSettings;
  workers: number;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: (typeof LOG_FORMATS)[number];
  /** ms */
  shutdownTimeout: number;
}

/** Checks the values of the flags and turns them into the relay's options; throws UsageError. */
export function checkFlags(flags: FlagValues): ServeSettings {
  const port = integer(flags, 'port', 0, 65535);
  const host = String(flags.host);
  if (host.trim() === '') throw new UsageError('--host needs an address (such as localhost or 0.0.0.0)');
  const token = flags.token as string | undefined;
  if (token !== undefined && token.trim() === '') throw new UsageError('--token may not be empty');
  const jwtSecret = flags.jwtSecret as string | undefined;
  const jwtKey = flags.jwtKey as string | undefined;
  if (jwtSecret !== undefined && jwtKey !== undefined)
    throw new UsageError('--jwt-secret and --jwt-key do not go together: tokens are checked with one of them');
  if (jwtSecret !== undefined && jwtSecret.length < 16)
    throw new UsageError('--jwt-secret must be at least 16 characters (32 random bytes are better): a short HS256 secret can be guessed');
  const jwtLeeway = number(flags, 'jwt-leeway', 0);
  const authUrl = flags.authUrl as string | undefined;
  const authTimeout = number(flags, 'auth-timeout', 0.05);
  if (authUrl !== undefined) {
    if (!/^https?:\/\/\S+$/i.test(authUrl) || !URL.canParse(authUrl))
      throw new UsageError(`--auth-url needs an http:// or https:// URL, not "${authUrl}"`);
    if (jwtSecret !== undefined || jwtKey !== undefined)
      throw new UsageError('--auth-url and --jwt-secret/--jwt-key do not go together: the backend, or the tokens, say who a connection is');
  }
  const configFile = flags.config as string | undefined;
  let namespaces: Namespaces | undefined;
  if (configFile !== undefined) {
    try {
      namespaces = Namespaces.load(configFile);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const apiKey = flags.apiKey as string | undefined;
  if (apiKey !== undefined && apiKey.length < 16) throw new UsageError('--api-key must be at least 16 characters: it opens the server API');
  if (apiKey !== undefined && apiKey === token)
    throw new UsageError('--api-key must differ from --token: clients carry the token, only backends may have the api key');
  const origins = flags.origin as string[];
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+\/?$/i.test(origin)) {
      throw new UsageError(`--origin needs an origin such as https://chat.example.com (scheme and host, no path), not "${origin}"`);
    }
  }
  const maxPayload = integer(flags, 'max-payload', 1, 1024 * 1024 * 1024);
  const rate = number(flags, 'rate-limit', 0);
  const burst = integer(flags, 'rate-burst', 1, Number.MAX_SAFE_INTEGER);
  const httpRate = number(flags, 'http-rate-limit', 0);
  const httpBurst = integer(flags, 'http-rate-burst', 1, Number.MAX_SAFE_INTEGER);
  const maxBackpressure = integer(flags, 'max-backpressure', 1, Number.MAX_SAFE_INTEGER);
  const policy = String(flags.backpressurePolicy);
  if (policy !== 'drop' && policy !== 'close') throw new UsageError(`--backpressure-policy must be drop or close, not "${policy}"`);
  const maxConnections = integer(flags, 'max-connections', 0, Number.MAX_SAFE_INTEGER);
  const maxConnectionsPerIp = integer(flags, 'max-connections-per-ip', 0, Number.MAX_SAFE_INTEGER);
  const handshakeTimeout = number(flags, 'handshake-timeout', 0.1);
  const requestTimeout = number(flags, 'request-timeout', 0);
  if (requestTimeout > 0 && requestTimeout < handshakeTimeout) {
    throw new UsageError(
      `--request-timeout (${requestTimeout}) may not be shorter than --handshake-timeout (${handshakeTimeout}): the request head is part of the request`,
    );
  }
  if (authUrl !== undefined && authTimeout >= handshakeTimeout) {
    throw new UsageError(
      `--auth-timeout (${authTimeout}) must be shorter than --handshake-timeout (${handshakeTimeout}): the backend's answer is part of the upgrade`,
    );
  }
  const keepAliveTimeout = number(flags, 'keep-alive-timeout', 0.1);
  const idleTimeout = number(flags, 'idle-timeout', 0);
  const publicUrls = flags.publicUrl as string[];
  for (const url of publicUrls) {
    if (!/^https?:\/\/[^/\s]+(\/\S*)?$/i.test(url) || !URL.canParse(url))
      throw new UsageError(`--public-url needs a URL such as https://chat.example.com, not "${url}"`);
  }
  const heartbeat = number(flags, 'heartbeat', 0);
  const metricsChannels = integer(flags, 'metrics-channels', 0, 10_000);
  const historyLimit = integer(flags, 'history', 0, MAX_HISTORY);
  const historyTtl = number(flags, 'history-ttl', 0);
  const historyBytes = integer(flags, 'history-bytes', 0, Number.MAX_SAFE_INTEGER);
  const historyTotalBytes = integer(flags, 'history-total-bytes', 0, Number.MAX_SAFE_INTEGER);
  const maxChannels = integer(flags, 'max-channels', 1, Number.MAX_SAFE_INTEGER);
  const maxChannelsPerConnection = integer(flags, 'max-channels-per-connection', 1, 100_000);
  const shutdownTimeout = number(flags, 'shutdown-timeout', 0);
  const redis = flags.redis as string | undefined;
  const nats = flags.nats as string | undefined;
  if (redis !== undefined && nats !== undefined) throw new UsageError('--redis and --nats do not go together: a cluster uses one broker');
  const prefix = String(flags.clusterPrefix);
  if (!/^[A-Za-z0-9_-]+$/.test(prefix))
    throw new UsageError(`--cluster-prefix may hold only letters, digits, '_' and '-', not "${prefix}"`);
  const presenceHeartbeat = number(flags, 'presence-heartbeat', 0.05);
  const presenceUpdates = integer(flags, 'presence-updates', 0, 10_000);
  const workers = integer(flags, 'workers', 1, 256);
  let clusterSettings: ClusterSettings | undefined;
  // Whole milliseconds: Redis's PEXPIRE and JetStream's max_age take integers.
  const flagBounds = { limit: historyLimit, ttl: Math.ceil(historyTtl * 1000), maxBytes: historyBytes };
  // Each channel's: its namespace's size and age where the config sets them.
  const history = namespaces?.historyBounds(flagBounds) ?? flagBounds;
  if (redis !== undefined) {
    if (!/^rediss?:\/\/\S+$/.test(redis)) throw new UsageError(`--redis needs a URL such as redis://127.0.0.1:6379, not "${redis}"`);
    clusterSettings = { broker: 'redis', url: redis, prefix, presenceInterval: presenceHeartbeat * 1000, presenceUpdates, history };
  } else if (nats !== undefined) {
    if (!/^(nats|tls):\/\/\S+$/.test(nats)) throw new UsageError(`--nats needs a URL such as nats://127.0.0.1:4222, not "${nats}"`);
    clusterSettings = { broker: 'nats', url: nats, prefix, presenceInterval: presenceHeartbeat * 1000, presenceUpdates, history };
  }
  if (workers > 1 && clusterSettings === undefined) {
    throw new UsageError(
      `--workers ${workers} needs --redis or --nats: each worker is a process of its own, and without a broker their publishes, history and presence would not be shared`,
    );
  }
  const logLevel = String(flags.logLevel);
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`);
  const logFormat = String(flags.logFormat);
  if (!isLogFormat(logFormat)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, not "${logFormat}"`);
  return {
    relay: {
      port,
      host,
      tls: readTls(flags.tlsCert as string | undefined, flags.tlsKey as string | undefined),
      maxPayload,
      token,
      apiKey,
      namespaces,
      ...(authUrl !== undefined ? { authUrl: { url: authUrl, timeout: authTimeout * 1000 } } : {}),
      ...(jwtSecret !== undefined || jwtKey !== undefined ? { jwt: { secret: jwtSecret, keyFile: jwtKey, leeway: jwtLeeway } } : {}),
      origins,
      rateLimit: { rate, burst },
      httpRateLimit: { rate: httpRate, burst: httpBurst },
      maxBackpressure,
      backpressurePolicy: policy,
      maxConnections,
      maxConnectionsPerIp,
      handshakeTimeout: handshakeTimeout * 1000,
      requestTimeout: requestTimeout * 1000,
      keepAliveTimeout: keepAliveTimeout * 1000,
      idleTimeout: idleTimeout * 1000,
      publicUrls,
      heartbeat: heartbeat * 1000,
      metricsChannels,
      history: { limit: historyLimit, ttl: historyTtl * 1000, maxBytes: historyBytes, maxTotalBytes: historyTotalBytes, maxChannels },
      maxChannelsPerConnection,
      presenceUpdates,
      docs: checkDocsFlags(flags, clusterSettings),
    },
    ...(clusterSettings !== undefined ? { cluster: clusterSettings } : {}),
    workers,
    logLevel,
    logFormat,
    shutdownTimeout: shutdownTimeout * 1000,
  };
}

function readTls(certFile: string | undefined, keyFile: string | undefined): RelayOptions['tls'] {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither');
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const tls = { cert: read('--tls-cert', certFile), key: read('--tls-key', keyFile) };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new UsageError(`--tls-cert/--tls-key: ${(error as Error).message}`);
  }
  return tls;
}
