// What the chat page remembers: the name (localStorage), and for the tab only (sessionStorage) the relay's
// token and the ids of the tab's connections. Storage that refuses (private browsing) or holds something
// unreadable is treated as empty: the page works, it simply remembers less.

export const NAME_KEY = 'wavecast.name';
export const TOKEN_KEY = 'wavecast.token';
export const OWN_IDS_KEY = 'wavecast.own-ids';

export const session = (): Storage => sessionStorage;
export const local = (): Storage => localStorage;

export function load(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null;
  }
}

export function save(storage: () => Storage, key: string, value: string | null): void {
  try {
    if (value === null) storage().removeItem(key);
    else storage().setItem(key, value);
  } catch {
    // Not remembered.
  }
}

/** A list of strings saved as JSON ([] when there is none or it is not one). */
export function loadList(storage: () => Storage, key: string): string[] {
  try {
    const value = JSON.parse(load(storage, key) ?? '[]') as unknown;
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Takes `?token=` out of the page's address (so that the address people share carries no secret) and
 * keeps it for the tab; returns it (null: the address had none).
 */
export function takeTokenFromAddress(): string | null {
  const query = new URLSearchParams(location.search);
  const given = query.get('token');
  if (given === null) return null;
  query.delete('token');
  const rest = query.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  save(session, TOKEN_KEY, given || null);
  return given || null;
}
