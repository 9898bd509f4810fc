// The server, as a `ws` user sees it, side by side with `ws` 8: each scenario runs once with `ws` and once
// with Wavecast (test/helpers/ws-compat.ts). What the handshake accepts and how it refuses (status, body),
// handleUpgrade() used twice, clientTracking, verifyClient, the options object and close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type Ws from 'ws';
import { closeServer, listenHttp } from '../helpers/net.js';
import { readHttpResponse, rawSocket } from '../helpers/raw-ws.js';
import { describeError, listening, sameAsWs, shutDown } from '../helpers/ws-compat.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Sends a request head by hand and reads the whole answer: its status, the headers a user looks at, the body. */
async function answer(port: number, lines: string[], path = '/'): Promise<string> {
  const socket = await rawSocket(port);
  const response = readHttpResponse(socket);
  socket.write([`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...lines].join('\r\n') + '\r\n\r\n');
  const { status, head, body } = await response;
  if (status === 101) {
    socket.destroy();
    return '101';
  }
  const extra = ['Sec-WebSocket-Version', 'Retry-After']
    .map((name) => [name, new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1]])
    .filter(([, value]) => value !== undefined);
  return `${status} ${body}${extra.map(([name, value]) => ` (${name}: ${value})`).join('')}`;
}

test('what the handshake accepts and how it refuses, in the order ws checks', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, port } = await listening(impl);
    wss.on('connection', (peer: Ws) => peer.terminate());
    const upgrade = ['Upgrade: websocket', 'Connection: Upgrade'];
    const result = {
      'version 13': await answer(port, [...upgrade, `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13']),
      'version 8': await answer(port, [...upgrade, `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 8']),
      'version 7': await answer(port, [...upgrade, `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 7']),
      'no version': await answer(port, [...upgrade, `Sec-WebSocket-Key: ${KEY}`]),
      'no key, no version': await answer(port, [...upgrade]),
      'a bad key': await answer(port, [...upgrade, 'Sec-WebSocket-Key: not-a-key', 'Sec-WebSocket-Version: 13']),
      'Upgrade: h2c': await answer(port, ['Upgrade: h2c', 'Connection: Upgrade', `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13']),
      'repeated subprotocols': await answer(port, [
        ...upgrade,
        `Sec-WebSocket-Key: ${KEY}`,
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: a, a',
      ]),
      // (ws's node:http server would keep the connection alive after its answer; this asks it not to.)
      'a plain request': await answer(port, ['Connection: close']),
    };
    await shutDown(wss);
    return result;
  });
  assert.deepEqual(seen, {
    'version 13': '101',
    'version 8': '101',
    'version 7': '400 Missing or invalid Sec-WebSocket-Version header (Sec-WebSocket-Version: 13, 8)',
    'no version': '400 Missing or invalid Sec-WebSocket-Version header (Sec-WebSocket-Version: 13, 8)',
    'no key, no version': '400 Missing or invalid Sec-WebSocket-Key header',
    'a bad key': '400 Missing or invalid Sec-WebSocket-Key header',
    'Upgrade: h2c': '400 Invalid Upgrade header',
    'repeated subprotocols': '400 Invalid Sec-WebSocket-Protocol header',
    'a plain request': '426 Upgrade Required',
  });
});

test('verifyClient and path refusals: 401 by default, the status, body and headers given, 400 for another path', async () => {
  const seen = await sameAsWs(async (impl) => {
    const syncServer = await listening(impl, { verifyClient: () => false });
    const asyncServer = await listening(impl, {
      path: '/only',
      verifyClient: (
        info: { origin: string; req: IncomingMessage },
        done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
      ) => {
        done(false, 429, `slow down, ${info.origin}`, { 'Retry-After': '120' });
      },
    });
    const upgrade = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13'];
    const result = {
      sync: await answer(syncServer.port, upgrade),
      async: await answer(asyncServer.port, [...upgrade, 'Origin: https://app.example'], '/only?x=1'),
      wrongPath: await answer(asyncServer.port, upgrade, '/other'),
    };
    await shutDown(syncServer.wss);
    await shutDown(asyncServer.wss);
    return result;
  });
  assert.deepEqual(seen, {
    sync: '401 Unauthorized',
    async: '429 slow down, https://app.example (Retry-After: 120)',
    wrongPath: '400 Bad Request',
  });
});

test('handleUpgrade() twice with one socket throws, as in ws, instead of answering twice', async () => {
  const seen = await sameAsWs(async (impl) => {
    const http = createServer();
    const wss = new impl.WebSocketServer({ noServer: true });
    const outcome = new Promise<string>((resolve) => {
      http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        wss.handleUpgrade(request, socket, head, (ws: Ws) => ws.close());
        try {
          wss.handleUpgrade(request, socket, head, () => resolve('called back twice'));
          resolve('accepted twice');
        } catch (error) {
          resolve(describeError(error as Error));
        }
      });
    });
    const port = await listenHttp(http);
    const client = new impl.WebSocket(`ws://127.0.0.1:${port}`);
    const closed = new Promise<number>((resolve) => client.on('close', resolve));
    const result = { thrown: await outcome, clientClosed: await closed };
    await closeServer(http);
    return result;
  });
  assert.deepEqual(seen, {
    thrown: 'error Error: server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
    clientClosed: 1005,
  });
});

test('clientTracking: false leaves clients undefined; close() calls back, and with an error once closed', async () => {
  const seen = await sameAsWs(async (impl) => {
    const { wss, url } = await listening(impl, { clientTracking: false });
    const client = new impl.WebSocket(url);
    await new Promise((resolve) => client.once('open', resolve));
    const clients = wss.clients === undefined ? 'undefined' : `a Set of ${wss.clients.size}`;
    client.terminate();
    await new Promise((resolve) => client.once('close', resolve));
    const closed = await new Promise<string>((resolve) => wss.close((error) => resolve(`closed ${error ?? 'without error'}`)));
    const again = await new Promise<string>((resolve) => wss.close((error) => resolve(`${error?.message}`)));
    return { clients, closed, again };
  });
  assert.deepEqual(seen, { clients: 'undefined', closed: 'closed without error', again: 'The server is not running' });
});

test('the options object has the defaults of ws', async () => {
  const seen = await sameAsWs(async (impl) => {
    const wss = new impl.WebSocketServer({ noServer: true });
    const options = wss.options as Record<string, unknown>;
    const shown: Record<string, unknown> = {};
    for (const name of [
      'allowSynchronousEvents',
      'autoPong',
      'maxPayload',
      'skipUTF8Validation',
      'perMessageDeflate',
      'clientTracking',
      'closeTimeout',
      'noServer',
    ]) {
      shown[name] = options[name];
    }
    shown.WebSocket = options.WebSocket === impl.WebSocket;
    return shown;
  });
  assert.equal(seen.maxPayload, 100 * 1024 * 1024);
});

test('a client that offers version 8 (Sec-WebSocket-Origin) is accepted, and verifyClient sees its origin', async () => {
  const seen = await sameAsWs(async (impl) => {
    const origins: string[] = [];
    const { wss, url } = await listening(impl, { verifyClient: (info: { origin: string }) => origins.push(info.origin) > 0 });
    const client = new impl.WebSocket(url, { protocolVersion: 8, origin: 'https://old.example' });
    await new Promise((resolve) => client.once('open', resolve));
    client.terminate();
    await shutDown(wss);
    return origins;
  });
  assert.deepEqual(seen, ['https://old.example']);
});

test('an HTTP request to a server with a WebSocketServer attached still gets the HTTP handler', async () => {
  const seen = await sameAsWs(async (impl) => {
    const http = createServer((_request, response) => response.end('plain'));
    const wss = new impl.WebSocketServer({ server: http });
    const port = await listenHttp(http);
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/' }, async (response) => {
        let text = '';
        for await (const chunk of response) text += chunk;
        resolve(text);
      })
        .on('error', reject)
        .end();
    });
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await closeServer(http);
    return body;
  });
  assert.equal(seen, 'plain');
});
