// The browser's event objects, as the WHATWG WebSocket interface hands them to onopen, onmessage,
// onclose, onerror and addEventListener listeners.

export class WebSocketEvent {
  readonly type: string;
  target: unknown = null;
  constructor(type: string) {
    this.type = type;
  }
  get currentTarget(): unknown {
    return this.target;
  }
}

export class MessageEvent extends WebSocketEvent {
  readonly data: unknown;
  constructor(data: unknown) {
    super('message');
    this.data = data;
  }
}

export class CloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(code: number, reason: string, wasClean: boolean) {
    super('close');
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
  }
}

export class ErrorEvent extends WebSocketEvent {
  readonly error: unknown;
  readonly message: string;
  constructor(error: unknown) {
    super('error');
    this.error = error;
    this.message = error instanceof Error ? error.message : String(error);
  }
}

export type EventListenerLike<E> = ((event: E) => void) | { handleEvent(event: E): void };
