// The browser's event objects, as the WHATWG WebSocket interface hands them to onopen, onmessage,
// onclose, onerror and addEventListener listeners. Made as the DOM makes them (`new CloseEvent('close',
// { code, reason, wasClean })`), with read-only attributes that are enumerable accessors on the prototype.

// Assigned by WebSocketEvent's static block: the one way to set an event's target from outside the class.
let setTarget: (event: WebSocketEvent, target: unknown) => void;

export class WebSocketEvent {
  #type: string;
  #target: unknown = null;
  constructor(type: string) {
    this.#type = type;
  }
  get target(): any {
    return this.#target;
  }
  get type(): string {
    return this.#type;
  }
  /** As in browsers (not enumerable: `ws`'s events do not have it). */
  get currentTarget(): any {
    return this.#target;
  }
  static {
    setTarget = (event, target) => {
      event.#target = target;
    };
  }
}

/** Sets the event's target (and currentTarget): the WebSocket that dispatches it. */
export function targetEvent<E extends WebSocketEvent>(event: E, target: unknown): E {
  setTarget(event, target);
  return event;
}

export interface MessageEventInit {
  data?: unknown;
}

export class MessageEvent extends WebSocketEvent {
  #data: unknown;
  constructor(type: string, init: MessageEventInit = {}) {
    super(type);
    this.#data = init.data === undefined ? null : init.data;
  }
  /** A string for a text message; for a binary one, what `binaryType` asks for. */
  get data(): any {
    return this.#data;
  }
}

export interface CloseEventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

export class CloseEvent extends WebSocketEvent {
  #code: number;
  #reason: string;
  #wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type);
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
    this.#wasClean = init.wasClean ?? false;
  }
  get code(): number {
    return this.#code;
  }
  get reason(): string {
    return this.#reason;
  }
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

export interface ErrorEventInit {
  error?: unknown;
  message?: string;
}

export class ErrorEvent extends WebSocketEvent {
  #error: unknown;
  #message: string;
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type);
    this.#error = init.error === undefined ? null : init.error;
    this.#message = init.message ?? '';
  }
  get error(): any {
    return this.#error;
  }
  get message(): string {
    return this.#message;
  }
}

// WebIDL attributes are enumerable accessors.
for (const [prototype, names] of [
  [WebSocketEvent.prototype, ['target', 'type']],
  [MessageEvent.prototype, ['data']],
  [CloseEvent.prototype, ['code', 'reason', 'wasClean']],
  [ErrorEvent.prototype, ['error', 'message']],
] as const) {
  for (const name of names) Object.defineProperty(prototype, name, { enumerable: true });
}

/**
 * A listener of events of shape `E`. Its parameter is checked both ways (a method's parameter is), so that a
 * listener typed for the classes above and one typed for `@types/ws`'s shapes both fit.
 */
export type EventHandler<E> = { bivariance(event: E): void }['bivariance'];
export type EventListenerLike<E> = EventHandler<E> | { handleEvent(event: E): void };

// What a listener is typed to get: the shapes `@types/ws` gives the events (the objects are the classes
// above). Interfaces rather than the classes, so that a handler typed for `ws` fits and a Wavecast socket
// passes where a `ws` one is expected.

/** An open event, and what every event has. */
export interface OpenEventShape {
  type: string;
  target: any;
}
export interface MessageEventShape extends OpenEventShape {
  /** A string for a text message; for a binary one, what `binaryType` asks for. */
  data: any;
}
export interface CloseEventShape extends OpenEventShape {
  code: number;
  reason: string;
  wasClean: boolean;
}
export interface ErrorEventShape extends OpenEventShape {
  error: any;
  message: string;
}
