// Reconnection delays, the one backoff of the project (the browser client and the broker links): exponential
// with jitter, as a pure function (no timers, no Node API: the browser bundle has it too).

export interface BackoffOptions {
  /** Delay before the first retry (ms). Default 500. */
  initial?: number;
  /** Longest delay (ms). Default 30000. */
  max?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Share of the delay that is random, 0 to 1 (0.5: between half and all of it). Default 0.5. */
  jitter?: number;
}

/** The delay before retry number `attempt` (0 for the first), given a random number in [0, 1). */
export function backoffDelay(attempt: number, random: number, options: BackoffOptions = {}): number {
  const initial = options.initial ?? 500;
  const max = options.max ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const base = Math.min(max, initial * factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter + jitter * Math.min(1, Math.max(0, random))));
}
