// The browser's face of a WebSocket (the WHATWG interface): onopen, onmessage, onclose, onerror and
// addEventListener / removeEventListener, layered over the EventEmitter events of the `ws` face, so that
// both faces see the same connection.
import { EventEmitter } from 'node:events';
import { useFastListenerTable } from './listener-table.js';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, type EventListenerLike } from './events.js';
import type { RawData } from './websocket.js';

interface BrowserState {
  listeners: Map<unknown, { type: string; wrapper: (...args: any[]) => void }>;
  handlers: Record<string, EventListenerLike<any> | null>;
}

export abstract class BrowserFace extends EventEmitter {
  constructor() {
    super();
    useFastListenerTable(this);
  }

  /** The listeners added the browser's way and the on* handlers: made on first use (one field per connection). */
  private _browser: BrowserState | null = null;

  private _browserState(): BrowserState {
    return (this._browser ??= { listeners: new Map(), handlers: {} });
  }

  /** Whether both close frames were exchanged (CloseEvent.wasClean). */
  protected abstract _wasClean(): boolean;

  addEventListener(type: string, listener: EventListenerLike<any>, options?: { once?: boolean }): void {
    if (listener === null || listener === undefined) return;
    const call = (event: WebSocketEvent) => {
      event.target = this;
      if (typeof listener === 'function') listener.call(this, event);
      else listener.handleEvent(event);
    };
    let wrapper: (...args: any[]) => void;
    if (type === 'message') {
      wrapper = (data: RawData, isBinary: boolean) => call(new MessageEvent(isBinary ? data : textOf(data)));
    } else if (type === 'close') {
      wrapper = (code: number, reason: Buffer) =>
        call(new CloseEvent(code, reason.toString(), this._wasClean()));
    } else if (type === 'error') {
      wrapper = (error: unknown) => call(new ErrorEvent(error));
    } else if (type === 'open') {
      wrapper = () => call(new WebSocketEvent('open'));
    } else {
      return;
    }
    const listeners = this._browserState().listeners;
    const key = listenerKey(type, listener);
    if (listeners.has(key)) return;
    listeners.set(key, { type, wrapper });
    if (options?.once) {
      const once = (...args: any[]) => {
        this.removeEventListener(type, listener);
        wrapper(...args);
      };
      listeners.set(key, { type, wrapper: once });
      this.on(type, once);
    } else {
      this.on(type, wrapper);
    }
  }

  removeEventListener(type: string, listener: EventListenerLike<any>): void {
    const key = listenerKey(type, listener);
    const entry = this._browser?.listeners.get(key);
    if (!entry) return;
    this._browser!.listeners.delete(key);
    this.removeListener(entry.type, entry.wrapper);
  }

  private _getHandler(type: string): any {
    return this._browser?.handlers[type] ?? null;
  }

  private _setHandler(type: string, handler: unknown): void {
    const handlers = this._browserState().handlers;
    const previous = handlers[type];
    if (previous) this.removeEventListener(type, previous);
    if (typeof handler === 'function') {
      handlers[type] = handler as EventListenerLike<any>;
      this.addEventListener(type, handler as EventListenerLike<any>);
    } else {
      handlers[type] = null;
    }
  }

  get onopen(): ((event: WebSocketEvent) => void) | null {
    return this._getHandler('open');
  }
  set onopen(handler: ((event: WebSocketEvent) => void) | null) {
    this._setHandler('open', handler);
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return this._getHandler('message');
  }
  set onmessage(handler: ((event: MessageEvent) => void) | null) {
    this._setHandler('message', handler);
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return this._getHandler('close');
  }
  set onclose(handler: ((event: CloseEvent) => void) | null) {
    this._setHandler('close', handler);
  }
  get onerror(): ((event: ErrorEvent) => void) | null {
    return this._getHandler('error');
  }
  set onerror(handler: ((event: ErrorEvent) => void) | null) {
    this._setHandler('error', handler);
  }
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString();
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.from(data).toString();
}

const listenerKeys = new WeakMap<object, Map<string, object>>();
function listenerKey(type: string, listener: EventListenerLike<any>): unknown {
  // One key per (type, listener) pair, as EventTarget dedupes listeners.
  let byType = listenerKeys.get(listener as object);
  if (!byType) {
    byType = new Map();
    listenerKeys.set(listener as object, byType);
  }
  let key = byType.get(type);
  if (!key) {
    key = {};
    byType.set(type, key);
  }
  return key;
}
