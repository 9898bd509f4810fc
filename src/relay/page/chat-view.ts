// The chat page's message list: delivered messages grouped by sender, own lines on the other side, lines
// still on their way (pending) kept at the bottom until the relay has them, and notices between them.
// DOM only: what to show comes from chat.ts, which talks to the relay.
import { nameColours } from './chat-message.js';

/** Most messages and notices kept on the page: the oldest go first (the relay keeps the history). */
export const MAX_SHOWN = 1000;
/** Messages from one sender closer than this (ms) share one name and time. */
const GROUP_WINDOW = 5 * 60_000;

export interface Shown {
  seq: number;
  time: number;
  /** Who sent it: a chat name, or null for a message from an HTTP post or a plain WebSocket client. */
  name: string | null;
  text: string;
  binary?: boolean;
  mine: boolean;
  from?: string;
}

const API_LABEL = 'via API';
const API_TITLE = 'Sent by an HTTP POST or a plain WebSocket client, not from a chat page';

export class MessageList {
  constructor(private readonly _list: HTMLOListElement) {}

  clear(): void {
    this._list.replaceChildren();
  }

  /** A delivered message, in the relay's order: above the lines still pending. */
  message(shown: Shown): HTMLLIElement {
    const item = this._item(shown.name, shown.mine, shown.time);
    item.dataset.seq = String(shown.seq);
    if (shown.from !== undefined) item.dataset.from = shown.from;
    const body = item.querySelector<HTMLElement>('.text')!;
    body.textContent = shown.text;
    if (shown.binary === true) body.classList.add('binary');
    this._insert(item, this._list.querySelector('li.pending'));
    return item;
  }

  /** A line typed here that the relay does not have yet: at the bottom, marked as on its way. */
  pending(name: string, text: string, time: number): HTMLLIElement {
    const item = this._item(name, true, time);
    item.classList.add('pending');
    item.querySelector<HTMLElement>('.text')!.textContent = text;
    const state = document.createElement('span');
    state.className = 'state';
    item.append(state);
    this._insert(item, null);
    return item;
  }

  /** Sets how a pending line stands: waiting for the connection, sent, or not sent (with the reason). */
  setPendingState(item: HTMLElement, state: 'queued' | 'sending' | 'failed', reason = ''): void {
    item.dataset.state = state;
    const label = item.querySelector<HTMLElement>('.state');
    if (label === null) return;
    label.textContent =
      state === 'queued' ? 'waiting for the connection' : state === 'sending' ? 'sending…' : `not sent: ${reason} (click to try again)`;
  }

  /** Takes a pending line away (it is shown as delivered in its place in the relay's order). */
  remove(item: HTMLElement): void {
    const next = item.nextElementSibling;
    item.remove();
    if (next instanceof HTMLElement) this._group(next);
  }

  /** Marks the messages of a connection id as this page's own (its id can come after its first lines). */
  markMine(from: string): void {
    for (const item of this._list.querySelectorAll<HTMLElement>(`li.msg[data-from="${CSS.escape(from)}"]`)) {
      item.classList.add('mine');
      this._group(item);
      if (item.nextElementSibling instanceof HTMLElement) this._group(item.nextElementSibling);
    }
  }

  /** A line between the messages (connected, someone joined, ...); `bad` ones are shown as a problem. */
  notice(text: string, bad = false): HTMLLIElement {
    const item = document.createElement('li');
    item.className = bad ? 'notice bad' : 'notice';
    item.textContent = text;
    this._insert(item, this._list.querySelector('li.pending'));
    return item;
  }

  private _item(name: string | null, mine: boolean, time: number): HTMLLIElement {
    const item = document.createElement('li');
    item.className = mine ? 'msg mine' : 'msg';
    item.dataset.key = name === null ? 'api' : `name:${name}`;
    item.dataset.time = String(time);
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    if (name === null) {
      who.textContent = API_LABEL;
      who.title = API_TITLE;
      who.classList.add('api');
    } else {
      who.textContent = name;
      const colours = nameColours(name);
      who.style.setProperty('--name-light', colours.light);
      who.style.setProperty('--name-dark', colours.dark);
    }
    const stamp = document.createElement('time');
    const date = new Date(time);
    stamp.dateTime = date.toISOString();
    stamp.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    item.title = date.toLocaleString();
    meta.append(who, stamp);
    const body = document.createElement('p');
    body.className = 'text';
    item.append(meta, body);
    return item;
  }

  /** Inserts before `before` (null: at the end), regroups, keeps the newest in view, trims the oldest. */
  private _insert(item: HTMLLIElement, before: Element | null): void {
    const list = this._list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    list.insertBefore(item, before);
    this._group(item);
    if (item.nextElementSibling instanceof HTMLElement) this._group(item.nextElementSibling);
    while (list.childElementCount > MAX_SHOWN) {
      list.firstElementChild!.remove();
    }
    if (list.firstElementChild instanceof HTMLElement) this._group(list.firstElementChild);
    if (atBottom || item.classList.contains('pending')) list.scrollTop = list.scrollHeight;
  }

  /** A message continues the group above it when the same sender sent it shortly after: no name, no time. */
  private _group(item: HTMLElement): void {
    if (!item.classList.contains('msg')) return;
    const previous = item.previousElementSibling as HTMLElement | null;
    const continues =
      previous?.classList.contains('msg') &&
      previous.dataset.key === item.dataset.key &&
      previous.classList.contains('mine') === item.classList.contains('mine') &&
      Math.abs(Number(item.dataset.time) - Number(previous.dataset.time)) < GROUP_WINDOW;
    item.classList.toggle('cont', continues);
  }
}
