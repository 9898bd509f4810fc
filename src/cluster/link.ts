// The state of a node's link to its broker, one for every part that uses the link (adapter, history,
// documents), and the reconnection backoff the links share.
import { backoffDelay } from '../v1/backoff.js';

/**
 * - `idle`: made, not connected yet
 * - `connecting`: the first connection is under way
 * - `connected`: the broker answers
 * - `reconnecting`: the link was lost; it is being made again (what needs the broker fails meanwhile)
 * - `closed`: closed for good
 */
export type LinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What every link (RedisLink, NatsLink) tells of itself. */
export interface BrokerLink {
  /** The broker's URL, passwords hidden. */
  readonly url: string;
  readonly state: LinkState;
}

/** Longest wait between two attempts to reconnect, in ms, unless set. */
export const DEFAULT_RECONNECT_DELAY = 1000;
/** How long a first connection may take, in ms, unless set. */
export const DEFAULT_CONNECT_TIMEOUT = 5000;

/** The wait before reconnect attempt `attempt` (0, 1, ...): doubles from 50 ms up to `max`, the later half of it random. */
export function reconnectDelay(attempt: number, max: number): number {
  return backoffDelay(attempt, Math.random(), { initial: Math.min(50, max), max, factor: 2, jitter: 0.5 });
}

/** The worse of several states (for a node whose parts share one link, the one to report). */
export function worstState(states: LinkState[]): LinkState {
  for (const state of ['closed', 'reconnecting', 'connecting', 'idle'] as const) if (states.includes(state)) return state;
  return 'connected';
}
