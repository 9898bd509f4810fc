// What the soak runner (the server's process) and its load generator (a child process) tell each other
// over IPC, and the layout of the messages the server publishes.

export interface StartLoad {
  type: 'start';
  port: number;
  /** Connections to hold open. */
  connections: number;
  /** Topics t0..t(topics-1); client n subscribes to t(n % topics) and to the topic 'all'. */
  topics: number;
  /** Connections closed (half cleanly, half abruptly) and replaced each second. */
  churnPerSecond: number;
  /** Connection attempts in flight at once while ramping up. */
  openConcurrency: number;
  /** This generator's first connection id (ids go up from it; the topic is id % topics). */
  firstId: number;
}

export type ToLoad = StartLoad | { type: 'stopChurn' } | { type: 'final'; finals: number[] };

export interface LoadReport {
  type: 'report';
  /** Connections opened in all (including replacements) and those churned away by the generator. */
  opened: number;
  churned: number;
  /** Connections open when the shutdown began, whose every message is checked. */
  checked: number;
  /** Messages those received, and how many they should have but did not (gaps and a missing tail). */
  received: number;
  lost: number;
  /** Messages out of order or duplicated. */
  disorder: number;
  /** How the checked connections closed: close code (and whether clean) to count. */
  closes: Record<string, number>;
  /** Connections of the generator still not closed when it reported. */
  stillOpen: number;
  /** Connections that failed to open. */
  failedOpens: number;
  rssMax: number;
  /** How long the churn ran (ms), to tell the churn rate reached. */
  churnMs: number;
}

export type FromLoad = { type: 'ready'; open: number } | { type: 'churnStopped'; open: number } | LoadReport;

/** Topic index of 'all' in the published messages (after t0..t(topics-1)). */
export const allTopicIndex = (topics: number) => topics;

/** A published message: topic index (u16), sequence number in that topic (u32), padding. */
export function encodePublished(topic: number, seq: number, size: number): Buffer {
  const out = Buffer.alloc(Math.max(6, size));
  out.writeUInt16BE(topic, 0);
  out.writeUInt32BE(seq, 2);
  return out;
}
