// The clock of a connection's times (when it last heard from its peer, when it sent a heartbeat ping).
// Times kept per connection (when it last heard from its peer, when it sent a heartbeat ping) are ms
// since this module loaded, as 32-bit integers, which V8 keeps in the field itself, where a Date.now()
// would be a separate 16-byte number object per connection. The clock wraps after 24.8 days, so times
// are compared through clockDiff(), which is right for any two times less than 24.8 days apart.
const CLOCK_BASE = Date.now();
/** @internal The clock of _lastSeen and _lastMessage (ms, wrapping 32-bit). */
export function connectionClock(): number {
  return (Date.now() - CLOCK_BASE) | 0;
}
/** @internal `later - earlier` in ms, for two readings of connectionClock(). */
export function clockDiff(later: number, earlier: number): number {
  return (later - earlier) | 0;
}
