// The browser's face of a WebSocket (the WHATWG interface): onopen, onmessage, onclose, onerror and
// addEventListener / removeEventListener, layered over the EventEmitter events of the `ws` face, so that
// both faces see the same connection. Each listener added the browser's way is an EventEmitter listener
// (a wrapper that makes the event object) carrying the listener it wraps, so nothing is kept beside the
// emitter's own table: `removeAllListeners()` removes them too, and an on* handler is one such wrapper
// marked as the handler, separate from the listeners added with addEventListener, as in browsers and `ws`.
import { EventEmitter } from 'node:events';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, targetEvent } from './events.js';
import type { CloseEventShape, ErrorEventShape, EventHandler, EventListenerLike, MessageEventShape, OpenEventShape } from './events.js';

const kListener = Symbol('wavecast.listener');
const kHandler = Symbol('wavecast.handler');

type Wrapper = ((...args: any[]) => void) & { [kListener]?: EventListenerLike<any>; [kHandler]?: boolean };

/** The event each type of listener gets. */
export interface WebSocketEventMap {
  open: OpenEventShape;
  error: ErrorEventShape;
  close: CloseEventShape;
  message: MessageEventShape;
}

export interface AddEventListenerOptions {
  /** Remove the listener after its first call. */
  once?: boolean;
}

/**
 * The emitter's listener table. EventEmitter starts every emitter's table as a `{ __proto__: null }` literal,
 * which V8 keeps as a hash table (216 B per connection with two listeners, against 40 B); an object made
 * by a constructor keeps its keys as fast properties, and with a prototype that is empty and has none of its
 * own (not even `constructor`), a lookup of 'toString' or 'constructor' finds nothing, as in the literal.
 */
class ListenerTable {}
Object.setPrototypeOf(ListenerTable.prototype, null);
Reflect.deleteProperty(ListenerTable.prototype, 'constructor');

/**
 * EventEmitter as connections inherit it: the same prototype (every method is EventEmitter's, `instanceof
 * EventEmitter` holds) and the same static side, with a constructor that gives a connection only the two
 * fields a listener needs, its table and their count. EventEmitter's own would add three more to every
 * connection (_maxListeners and two symbol-keyed flags) whose unset values its methods read from the
 * prototype all the same: the default listener limit, and `EventEmitter.captureRejections` as it is when an
 * event is emitted.
 */
function ConnectionEmitter(this: { _events: object; _eventsCount: number }): void {
  this._events = new ListenerTable();
  this._eventsCount = 0;
}
ConnectionEmitter.prototype = EventEmitter.prototype;
Object.setPrototypeOf(ConnectionEmitter, EventEmitter);

export abstract class BrowserFace extends (ConnectionEmitter as unknown as typeof EventEmitter) {
  /** @internal Whether both close frames were exchanged (CloseEvent.wasClean). */
  protected abstract _wasClean(): boolean;

  /** @internal What a MessageEvent's data is for a message: text as a string, binary as `binaryType` made it. */
  protected abstract _eventData(data: unknown, isBinary: boolean): unknown;

  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: EventListenerLike<WebSocketEventMap[K]>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerLike<any>, options?: AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerLike<any>, options?: AddEventListenerOptions): void {
    addWrapper(this, type, listener, options?.once === true, false);
  }

  removeEventListener<K extends keyof WebSocketEventMap>(type: K, listener: EventListenerLike<WebSocketEventMap[K]>): void;
  removeEventListener(type: string, listener: EventListenerLike<any>): void;
  removeEventListener(type: string, listener: EventListenerLike<any>): void {
    for (const wrapper of this.listeners(type) as Wrapper[]) {
      if (wrapper[kListener] === listener && !wrapper[kHandler]) {
        this.removeListener(type, wrapper);
        return;
      }
    }
  }

  get onopen(): EventHandler<OpenEventShape> | null {
    return getHandler(this, 'open');
  }
  set onopen(handler: EventHandler<OpenEventShape> | null) {
    setHandler(this, 'open', handler);
  }
  get onmessage(): EventHandler<MessageEventShape> | null {
    return getHandler(this, 'message');
  }
  set onmessage(handler: EventHandler<MessageEventShape> | null) {
    setHandler(this, 'message', handler);
  }
  get onclose(): EventHandler<CloseEventShape> | null {
    return getHandler(this, 'close');
  }
  set onclose(handler: EventHandler<CloseEventShape> | null) {
    setHandler(this, 'close', handler);
  }
  get onerror(): EventHandler<ErrorEventShape> | null {
    return getHandler(this, 'error');
  }
  set onerror(handler: EventHandler<ErrorEventShape> | null) {
    setHandler(this, 'error', handler);
  }
}

// WebIDL attributes are enumerable accessors.
for (const name of ['onopen', 'onmessage', 'onclose', 'onerror']) Object.defineProperty(BrowserFace.prototype, name, { enumerable: true });

// The helpers of the event-handler attributes and addEventListener are functions, not private methods: a
// class with private methods gives each instance a brand field, 8 bytes on every connection.

function addWrapper(face: BrowserFace, type: string, listener: EventListenerLike<any>, once: boolean, handler: boolean): void {
  if (listener === null || listener === undefined) return;
  if (!handler) {
    // As EventTarget does: the same listener for the same type is added once.
    for (const wrapper of face.listeners(type) as Wrapper[]) if (wrapper[kListener] === listener && !wrapper[kHandler]) return;
  }
  let wrapper: Wrapper;
  if (type === 'message') {
    wrapper = function (this: BrowserFace, data: unknown, isBinary: boolean) {
      callListener(listener, this, targetEvent(new MessageEvent('message', { data: this._eventData(data, isBinary) }), this));
    };
  } else if (type === 'close') {
    wrapper = function (this: BrowserFace, code: number, reason: Buffer) {
      const event = new CloseEvent('close', { code, reason: reason.toString(), wasClean: this._wasClean() });
      callListener(listener, this, targetEvent(event, this));
    };
  } else if (type === 'error') {
    wrapper = function (this: BrowserFace, error: Error) {
      callListener(listener, this, targetEvent(new ErrorEvent('error', { error, message: error?.message }), this));
    };
  } else if (type === 'open') {
    wrapper = function (this: BrowserFace) {
      callListener(listener, this, targetEvent(new WebSocketEvent('open'), this));
    };
  } else {
    return;
  }
  wrapper[kListener] = listener;
  wrapper[kHandler] = handler;
  if (once) face.once(type, wrapper);
  else face.on(type, wrapper);
}

function getHandler(face: BrowserFace, type: string): any {
  for (const wrapper of face.listeners(type) as Wrapper[]) if (wrapper[kHandler]) return wrapper[kListener];
  return null;
}

function setHandler(face: BrowserFace, type: string, handler: unknown): void {
  for (const wrapper of face.listeners(type) as Wrapper[]) {
    if (wrapper[kHandler]) {
      face.removeListener(type, wrapper);
      break;
    }
  }
  if (typeof handler === 'function') addWrapper(face, type, handler as EventListenerLike<any>, false, true);
}

function callListener(listener: EventListenerLike<any>, target: unknown, event: WebSocketEvent): void {
  if (typeof listener === 'function') listener.call(target, event);
  else listener.handleEvent(event);
}
