// Rate limits on a real relay. A stall of the relay's event loop (here a deliberate busy loop of 3 s)
// does not close clients that kept to the rate: their messages sent during the stall are read at once
// afterwards, and used to be counted as one burst (10 of 10 clients closed with 1008 after a 13 s stall
// in the issue). And HTTP publishes have a rate limit per client address: 429 with Retry-After.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Worker } from 'node:worker_threads';
import { startRelay } from '../../fuzz/relay-harness.js';
import { once } from '../helpers/net.js';

/** Clients in a worker thread (their own event loop): each sends `perSecond` messages a second and reports closes. */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require('ws');
const { url, count, perSecond } = workerData;
let sent = 0;
const sockets = [];
for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url);
  ws.on('close', (code) => parentPort.postMessage({ closed: code }));
  ws.on('error', () => {});
  sockets.push(new Promise((resolve) => ws.once('open', () => resolve(ws))));
}
Promise.all(sockets).then((open) => {
  parentPort.postMessage({ open: open.length });
  const timer = setInterval(() => {
    sent++;
    for (const ws of open) if (ws.readyState === 1) ws.send('tick ' + sent);
    parentPort.postMessage({ sent });
  }, 1000 / perSecond);
  parentPort.on('message', (m) => {
    if (m === 'count') return parentPort.postMessage({ count: sent });
    clearInterval(timer);
    for (const ws of open) ws.terminate();
    parentPort.postMessage({ done: true });
  });
});
`;

test("a 3 s stall of the relay's event loop does not close clients that kept to the rate", { timeout: 30_000 }, async () => {
  // 5 a second, burst 5; the clients send 4 a second, so the stall's backlog (about 12 each) is past the burst.
  const r = await startRelay({ maxPayload: 1024, historyLimit: 10 }, { rateLimit: { rate: 5, burst: 5 } });
  const worker = new Worker(CLIENTS, { eval: true, workerData: { url: `ws://127.0.0.1:${r.port}/stall`, count: 5, perSecond: 4 } });
  const closes: number[] = [];
  let sent = 0;
  let count = -1;
  const waiters: Array<() => void> = [];
  worker.on('message', (m: { closed?: number; sent?: number; count?: number }) => {
    if (m.closed !== undefined) closes.push(m.closed);
    if (m.count !== undefined) count = m.count;
    if (m.sent !== undefined) sent = m.sent;
    for (const wake of waiters.splice(0)) wake();
  });
  const until = (test: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (test() ? resolve() : waiters.push(check));
      check();
    });
  try {
    await until(() => sent >= 4);
    const start = performance.now();
    while (performance.now() - start < 3000) {
      // the relay's event loop is blocked: the clients' messages wait in the kernel
    }
    const received = r.relay.metrics.messagesIn.websocket;
    worker.postMessage('count');
    await until(() => count >= 0);
    const atStallEnd = count;
    // Eight more messages each after the stall: the backlog has been read and counted by then.
    await until(() => sent >= atStallEnd + 8);
    assert.ok(atStallEnd - received / 5 >= 8, `the stall held back ${atStallEnd - received / 5} messages a client (more than the burst)`);
    assert.deepEqual(closes, [], 'no client was closed');
    assert.equal(r.relay.metrics.rateLimitCloses, 0);
  } finally {
    worker.postMessage('stop');
    await once(worker, 'message', 5000).catch(() => undefined);
    await worker.terminate();
    await r.relay.close(100);
  }
});

function post(port: number, localAddress: string): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: '/channels/news/messages',
        headers: { 'Content-Type': 'text/plain' },
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined, body }),
        );
      },
    );
    req.on('error', reject);
    req.end('hello');
  });
}

test('HTTP publishes are limited per client address: 429 with Retry-After, other addresses served', { timeout: 30_000 }, async () => {
  const r = await startRelay({ maxPayload: 1024, historyLimit: 10 }, { httpRateLimit: { rate: 0.5, burst: 3 } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(r.port, '127.0.0.1')).status);
    assert.deepEqual(statuses, [200, 200, 200]);
    const refused = await post(r.port, '127.0.0.1');
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfter, '2');
    assert.match(refused.body, /Too many publishes from this address: try again in 2 s/);
    assert.equal((await post(r.port, '127.0.0.2')).status, 200, 'another address has its own budget');
    assert.equal(r.relay.history.latest('news'), 4, 'the refused one was not published');
    assert.match(r.relay.metricsText(), /^wavecast_relay_http_rate_limited_total 1$/m);
  } finally {
    await r.relay.close(100);
  }
});
