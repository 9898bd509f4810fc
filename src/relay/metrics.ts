// The relay's counters and their Prometheus text exposition (format 0.0.4): connections, messages and
// bytes in and out, what the slow-client and rate-limit policies did, and subscribers per channel for
// the busiest channels only, so that a relay with many channels keeps a bounded scrape.
import type { ServerStats } from '../server/stats.js';
import type { GateStats } from './connection-gate.js';

export type MessageSource = 'websocket' | 'http';

export class RelayMetrics {
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** Messages received from WebSocket clients and HTTP publishes, and their payload bytes. */
  readonly messagesIn: Record<MessageSource, number> = { websocket: 0, http: 0 };
  readonly bytesIn: Record<MessageSource, number> = { websocket: 0, http: 0 };
  /** Messages written to WebSocket clients (one per recipient), and their payload bytes. */
  messagesOut = 0;
  bytesOut = 0;
  rateLimitCloses = 0;
  /** HTTP publishes answered 429 for going over the rate limit of their client address. */
  httpRateLimited = 0;
  readonly startedAt = Date.now();

  /** Publishes refused because the history could not store them (its broker was unreachable). */
  publishFailures = 0;

  /** Counts a message received and its delivery to `recipients` connections. */
  relayed(source: MessageSource, bytes: number, recipients: number): void {
    this.received(source, bytes);
    this.sent(bytes, recipients);
  }

  received(source: MessageSource, bytes: number): void {
    this.messagesIn[source]++;
    this.bytesIn[source] += bytes;
  }

  sent(bytes: number, recipients: number): void {
    this.messagesOut += recipients;
    this.bytesOut += bytes * recipients;
  }
}

/** The link to the broker of a cluster, for /metrics. */
export interface BrokerMetrics {
  /** 'redis' or 'nats'. */
  broker: string;
  up: boolean;
  disconnects: number;
  reconnects: number;
  /** Messages from other nodes. */
  received: number;
  /** Nodes heard from (presence). */
  nodes: number;
}

/** What the exposition reads besides the relay's own counters. */
export interface MetricsSources {
  metrics: RelayMetrics;
  stats: ServerStats;
  /** Open WebSocket connections. */
  connections: number;
  /** Bytes waiting in the relay to be sent to clients (slow readers). */
  queuedBytes: number;
  /** Channels with at least one subscriber. */
  channels: readonly string[];
  subscriberCount(channel: string): number;
  /** At most this many channels get a per-channel line (the busiest ones). */
  topChannels: number;
  /** In a cluster: the broker link. */
  broker?: BrokerMetrics | undefined;
  /** Connections of any kind held (what --max-connections bounds), and what the connection gate did. */
  gate?: { open: number; stats: GateStats } | undefined;
}

/** Renders the Prometheus text exposition. */
export function renderMetrics(source: MetricsSources): string {
  const { metrics, stats } = source;
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[labels: string, value: number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${formatValue(value)}`);
  };
  const single = (value: number): Array<[string, number]> => [['', value]];
  const bySource = (values: Record<MessageSource, number>): Array<[string, number]> => [
    ['{source="websocket"}', values.websocket],
    ['{source="http"}', values.http],
  ];

  metric('wavecast_relay_connections', 'gauge', 'Open WebSocket connections.', single(source.connections));
  metric('wavecast_relay_connections_opened_total', 'counter', 'WebSocket connections accepted.', single(metrics.connectionsOpened));
  metric('wavecast_relay_connections_closed_total', 'counter', 'WebSocket connections closed.', single(metrics.connectionsClosed));
  metric(
    'wavecast_relay_messages_received_total',
    'counter',
    'Messages received, from WebSocket clients and HTTP publishes.',
    bySource(metrics.messagesIn),
  );
  metric('wavecast_relay_received_bytes_total', 'counter', 'Payload bytes of the messages received.', bySource(metrics.bytesIn));
  metric(
    'wavecast_relay_messages_sent_total',
    'counter',
    'Messages sent to WebSocket clients (one per recipient).',
    single(metrics.messagesOut),
  );
  metric('wavecast_relay_sent_bytes_total', 'counter', 'Payload bytes of the messages sent.', single(metrics.bytesOut));
  metric('wavecast_relay_queued_bytes', 'gauge', 'Bytes waiting in the relay to be sent to clients.', single(source.queuedBytes));
  metric(
    'wavecast_relay_dropped_messages_total',
    'counter',
    'Messages skipped for clients too slow to take them.',
    single(stats.droppedMessages),
  );
  metric(
    'wavecast_relay_slow_client_closes_total',
    'counter',
    'Connections closed for falling too far behind.',
    single(stats.slowClientCloses),
  );
  metric(
    'wavecast_relay_rate_limit_closes_total',
    'counter',
    'Connections closed for sending over the rate limit.',
    single(metrics.rateLimitCloses),
  );
  metric(
    'wavecast_relay_http_rate_limited_total',
    'counter',
    'HTTP publishes refused (429) for going over the rate limit of their client address.',
    single(metrics.httpRateLimited),
  );
  metric(
    'wavecast_relay_heartbeat_timeouts_total',
    'counter',
    'Connections dropped for not answering pings.',
    single(stats.heartbeatTimeouts),
  );
  metric(
    'wavecast_relay_idle_closes_total',
    'counter',
    'WebSocket connections closed for exchanging no message for --idle-timeout.',
    single(stats.idleCloses),
  );
  const gate = source.gate;
  if (gate !== undefined) {
    metric(
      'wavecast_relay_tcp_connections',
      'gauge',
      'Open connections of any kind (WebSocket, HTTP, TLS handshakes and request heads under way): what --max-connections bounds.',
      single(gate.open),
    );
    metric(
      'wavecast_relay_refused_connections_total',
      'counter',
      'Connections refused: their address was at --max-connections-per-ip (429), or the relay was full (503).',
      [
        ['{reason="address"}', gate.stats.refusedPerAddress],
        ['{reason="capacity"}', gate.stats.refusedAtCapacity],
      ],
    );
    metric(
      'wavecast_relay_evicted_connections_total',
      'counter',
      'Connections cut to make room when the relay was full: they had waited longest without a request under way.',
      single(gate.stats.evicted),
    );
  }
  metric(
    'wavecast_relay_rejected_upgrades_total',
    'counter',
    'WebSocket upgrades refused (token, origin, channel name, connection limit, shutdown).',
    single(stats.rejectedUpgrades),
  );
  metric('wavecast_relay_channels', 'gauge', 'Channels with at least one subscriber.', single(source.channels.length));
  const top = busiest(source.channels, source.subscriberCount, source.topChannels);
  metric(
    'wavecast_relay_channel_subscribers',
    'gauge',
    `Subscribers of the busiest channels (at most ${source.topChannels}).`,
    top.map(([channel, count]) => [`{channel="${escapeLabel(channel)}"}`, count]),
  );
  metric(
    'wavecast_relay_publish_failures_total',
    'counter',
    'Publishes refused because the history could not store them (broker unreachable).',
    single(metrics.publishFailures),
  );
  const broker = source.broker;
  if (broker !== undefined) {
    const label = `{broker="${escapeLabel(broker.broker)}"}`;
    metric('wavecast_relay_broker_up', 'gauge', 'Whether the links to the broker (publish and history) are up.', [
      [label, broker.up ? 1 : 0],
    ]);
    metric('wavecast_relay_broker_disconnects_total', 'counter', 'Times the link to the broker was lost.', [[label, broker.disconnects]]);
    metric('wavecast_relay_broker_reconnects_total', 'counter', 'Times the link to the broker came back.', [[label, broker.reconnects]]);
    metric('wavecast_relay_broker_messages_received_total', 'counter', 'Messages received from other nodes.', [[label, broker.received]]);
    metric('wavecast_relay_cluster_nodes', 'gauge', 'Other relay nodes heard from (presence heartbeats).', [[label, broker.nodes]]);
  }
  metric(
    'wavecast_relay_start_time_seconds',
    'gauge',
    'When the relay started, in seconds since the Unix epoch.',
    single(metrics.startedAt / 1000),
  );
  return out.join('\n') + '\n';
}

/** The `limit` channels with the most subscribers, busiest first (ties by name, so output is stable). */
export function busiest(channels: readonly string[], count: (channel: string) => number, limit: number): Array<[string, number]> {
  if (limit <= 0) return [];
  const withCounts = channels.map((channel): [string, number] => [channel, count(channel)]);
  withCounts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return withCounts.length > limit ? withCounts.slice(0, limit) : withCounts;
}

/** Escapes a label value: backslash, double quote and newline, as the text format asks. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
