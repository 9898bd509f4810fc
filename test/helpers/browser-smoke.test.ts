// Proves the browser used by the interop tests works here: Debian's Chromium starts under playwright-core,
// loads a page from a server on 127.0.0.1, runs its script, and opens a WebSocket back to that server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { launchBrowser } from './browser.js';
import { closeServer, listenHttp, once } from './net.js';

const PAGES: Record<string, string> = {
  '/': `<!doctype html>
<html><head><meta charset="utf-8"><title>wavecast smoke</title></head>
<body><script>document.title += ' (script ran)';</script></body></html>`,
  '/websocket': `<!doctype html>
<html><head><meta charset="utf-8"><title>connecting</title></head>
<body><script>
const socket = new WebSocket('ws://' + location.host + '/echo');
socket.onopen = () => socket.send('hello from chromium');
socket.onmessage = (event) => { document.title = 'echo: ' + event.data; };
socket.onerror = () => { document.title = 'websocket error'; };
</script></body></html>`,
};

let browser: Browser;
let server: Server;
let wss: WebSocketServer;
let port: number;

before(async () => {
  server = createServer((request, response) => {
    const page = PAGES[request.url ?? ''];
    response.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(page ?? 'not found');
  });
  wss = new WebSocketServer({ server, path: '/echo' });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  port = await listenHttp(server);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const client of wss?.clients ?? []) client.terminate();
  wss?.close();
  if (server) await closeServer(server);
});

test('Chromium loads a page from 127.0.0.1 and runs its script', { timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(await page.title(), 'wavecast smoke (script ran)');
  } finally {
    await page.close();
  }
});

test('a page in Chromium talks WebSocket to a server on 127.0.0.1', { timeout: 60_000 }, async () => {
  const connected = once(wss, 'connection');
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/websocket`);
    await connected;
    await page.waitForFunction("document.title.startsWith('echo: ') || document.title === 'websocket error'", undefined, {
      timeout: 10_000,
    });
    assert.equal(await page.title(), 'echo: hello from chromium');
  } finally {
    await page.close();
  }
});
