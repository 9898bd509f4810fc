// Small awaitable helpers for integration tests on real sockets. No sleeps: every wait is for an event,
// bounded by a timeout that fails with a message naming what never happened.
import type { EventEmitter } from 'node:events';
import type { Server } from 'node:net';

export const DEFAULT_TIMEOUT_MS = 5_000;

type Target = EventEmitter | EventTarget;

function isEmitter(target: Target): target is EventEmitter {
  return typeof (target as EventEmitter).on === 'function';
}

/**
 * Resolves with the arguments of the next `event` from an EventEmitter (as an array, like
 * `events.once`), or `[event]` from an EventTarget. Rejects if an EventEmitter emits 'error' first
 * (unless 'error' is what is awaited), or after `timeoutMs` with a message naming the event.
 */
export function once<T extends unknown[] = unknown[]>(target: Target, event: string, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      cleanup();
      resolve(args as T);
    };
    const onError = (error: unknown): void => {
      cleanup();
      reject(error instanceof Error ? error : new Error(`'error' emitted while waiting for '${event}': ${String(error)}`));
    };
    const watchError = event !== 'error' && isEmitter(target);
    const timer = setTimeout(() => {
      cleanup();
      const name = target.constructor?.name ?? 'target';
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}' on ${name}`));
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      if (isEmitter(target)) {
        target.off(event, onEvent);
        if (watchError) target.off('error', onError);
      } else {
        target.removeEventListener(event, onEvent);
      }
    }
    if (isEmitter(target)) {
      target.once(event, onEvent);
      if (watchError) target.once('error', onError);
    } else {
      target.addEventListener(event, onEvent, { once: true });
    }
  });
}

/** Starts `server` (http, https or net) listening on 127.0.0.1 on a free port; resolves with the port. */
export function listenHttp(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(0, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error(`server is not listening on a TCP port (address: ${String(address)})`));
      } else {
        resolve(address.port);
      }
    });
  });
}

/**
 * Closes `server` and resolves once it has stopped. HTTP connections are closed at once; a connection
 * that something else still holds (an upgraded WebSocket, say) makes this reject after `timeoutMs`,
 * naming how many are left open. A server that is not listening counts as closed.
 */
export function closeServer(server: Server, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      server.getConnections((error, count) => {
        const open = error ? 'some' : String(count);
        reject(new Error(`server did not close within ${timeoutMs} ms: ${open} connection(s) still open`));
      });
    }, timeoutMs);
    server.close((error) => {
      clearTimeout(timer);
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
      else resolve();
    });
    const http = server as Server & { closeAllConnections?: () => void };
    if (typeof http.closeAllConnections === 'function') http.closeAllConnections();
  });
}
