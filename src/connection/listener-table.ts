// EventEmitter keeps its listeners in `_events`, which it makes as a null-prototype object literal; V8
// stores such an object as a hash table, about 160 bytes more than an object with the same few keys in
// fast (in-object) properties, and a server holds one emitter per connection for the user's listeners:
// for an idle connection that is a tenth of its memory. (Not for the socket: with its six or more
// events, its table would outgrow the in-object slots and save nothing.) The table given here
// behaves the same for every lookup EventEmitter makes: its prototype is empty and has no prototype
// itself, so a missing event (`constructor` included) is undefined. If EventEmitter later replaces the
// table (removeAllListeners does), that is only the usual cost again.
import type { EventEmitter } from 'node:events';

const NO_LISTENERS: object = Object.create(null);

/** Gives `emitter` (with few listeners) a listener table with fast properties, holding the listeners it has now. */
export function useFastListenerTable(emitter: EventEmitter): void {
  const holder = emitter as unknown as { _events?: Record<string | symbol, unknown> };
  const current = holder._events;
  if (current === undefined || current === null || typeof current !== 'object') return;
  const table = Object.create(NO_LISTENERS) as Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(current)) table[key] = current[key];
  holder._events = table;
}
