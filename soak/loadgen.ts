// The soak's load generator, run as a child process: opens the connections (ws package clients), churns
// them while the server publishes, and checks every message each connection receives: per topic, the
// sequence numbers must follow on from the one the server's hello named, without gaps, through the last
// one published before the shutdown. Reports over IPC.
import WebSocket from 'ws';
import type { FromLoad, LoadReport, StartLoad, ToLoad } from './protocol.js';

interface Client {
  id: number;
  ws: WebSocket;
  /** Topic indexes this client gets: its own and 'all'. */
  topics: [number, number];
  /** Next sequence number expected per topic (0 until the hello arrives). */
  next: [number, number];
  churned: boolean;
  checked: boolean;
  closed: boolean;
  closeCode: number;
  clean: boolean;
}

const clients = new Map<number, Client>();
let config: StartLoad;
let nextId = 0;
let opened = 0;
let churned = 0;
let failedOpens = 0;
let received = 0;
let lost = 0;
let disorder = 0;
let churning: NodeJS.Timeout | null = null;
let rssMax = 0;

/** Conditions waited for; each is checked whenever a connection opens or closes. */
let waiters: Array<() => boolean> = [];
function changed(): void {
  waiters = waiters.filter((done) => !done());
}
function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      if (!condition()) return false;
      clearTimeout(timer);
      resolve();
      return true;
    };
    if (!done()) waiters.push(done);
  });
}
const countWhere = (test: (c: Client) => boolean) => {
  let n = 0;
  for (const c of clients.values()) if (test(c)) n++;
  return n;
};

function send(message: FromLoad): void {
  process.send!(message);
}

function open(): Promise<void> {
  const id = config.firstId + nextId++;
  const topicIndex = id % config.topics;
  const ws = new WebSocket(`ws://127.0.0.1:${config.port}/?id=${id}`, { perMessageDeflate: false });
  const client: Client = {
    id,
    ws,
    topics: [topicIndex, config.topics],
    next: [0, 0],
    churned: false,
    checked: false,
    closed: false,
    closeCode: 0,
    clean: false,
  };
  clients.set(id, client);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      // The hello: the last sequence number of each of our topics when we were subscribed.
      const hello = JSON.parse(data.toString()) as { last: [number, number] };
      client.next = [hello.last[0] + 1, hello.last[1] + 1];
      return;
    }
    received++;
    const topic = data.readUInt16BE(0);
    const seq = data.readUInt32BE(2);
    const k = topic === client.topics[0] ? 0 : topic === client.topics[1] ? 1 : -1;
    if (k === -1 || client.next[k] === 0) {
      disorder++;
      return;
    }
    if (seq > client.next[k]) lost += seq - client.next[k];
    else if (seq < client.next[k]) disorder++;
    client.next[k] = seq + 1;
  });
  ws.on('error', () => {});
  return new Promise<void>((resolve) => {
    ws.once('open', () => {
      opened++;
      resolve();
      changed();
    });
    ws.once('close', (code: number) => {
      client.closed = true;
      client.closeCode = code;
      // ws reports a clean close with the peer's code; an abrupt end is 1006.
      client.clean = code !== 1006;
      resolve();
      changed();
    });
    ws.once('unexpected-response', () => failedOpens++);
  });
}

async function openMany(count: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await open();
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.openConcurrency, count) }, worker));
}

let churnOwed = 0;
let churnLast = 0;
let churnStart = 0;
let churnMs = 0;

function churn(): void {
  // What is owed follows the clock: a tick that comes late (the process busy reading) catches up.
  const now = Date.now();
  churnOwed += (config.churnPerSecond * (now - churnLast)) / 1000;
  churnLast = now;
  const due = Math.floor(churnOwed);
  if (due === 0) return;
  churnOwed -= due;
  // Only open connections are churned (one still opening, dropped, would not be a connection that was made).
  const candidates = [...clients.values()].filter((c) => !c.churned && c.ws.readyState === WebSocket.OPEN);
  for (let i = 0; i < due && candidates.length > 0; i++) {
    const client = candidates.splice(Math.floor(Math.random() * candidates.length), 1)[0]!;
    client.churned = true;
    // The replacement first, then the drop: the number of connections never sinks below the target, and
    // when connections open slower than asked, the drops (the churn rate reported) slow down with them.
    void open().then(() => {
      churned++;
      if (i % 2 === 0) client.ws.close(1000, 'churn');
      else client.ws.terminate();
    });
  }
}

function sample(): void {
  rssMax = Math.max(rssMax, process.memoryUsage().rss);
}

process.on('message', async (message: ToLoad) => {
  if (message.type === 'start') {
    config = message;
    await openMany(config.connections);
    sample();
    send({ type: 'ready', open: countWhere((c) => c.ws.readyState === WebSocket.OPEN) });
    churnStart = churnLast = Date.now();
    if (config.churnPerSecond > 0) churning = setInterval(churn, 100);
  } else if (message.type === 'stopChurn') {
    if (churning) clearInterval(churning);
    churning = null;
    churnMs = Date.now() - churnStart;
    // Replacements still opening must be open before the shutdown: they are checked too.
    await until(() => countWhere((c) => c.ws.readyState === WebSocket.CONNECTING) === 0, 30_000);
    for (const client of clients.values()) client.checked = !client.churned && client.ws.readyState === WebSocket.OPEN;
    sample();
    send({ type: 'churnStopped', open: countWhere((c) => c.checked) });
  } else if (message.type === 'final') {
    // The server has shut down; every connection should close (or have closed) with its 1001.
    await until(() => countWhere((c) => !c.closed) === 0, 15_000);
    sample();
    const closes: Record<string, number> = {};
    let checked = 0;
    for (const client of clients.values()) {
      if (!client.checked) continue;
      checked++;
      const key = `${client.closeCode}${client.clean ? '' : ' (abnormal)'}`;
      closes[key] = (closes[key] ?? 0) + 1;
      // The tail: everything up to the last message published before the shutdown must have come.
      for (let k = 0; k < 2; k++) {
        const last = message.finals[client.topics[k]!]!;
        const next = client.next[k]!;
        if (next === 0) lost += last;
        else if (next <= last) lost += last + 1 - next;
      }
    }
    const report: LoadReport = {
      type: 'report',
      opened,
      churned,
      checked,
      received,
      lost,
      disorder,
      closes,
      stillOpen: countWhere((c) => !c.closed),
      failedOpens,
      rssMax,
      churnMs,
    };
    send(report);
    process.disconnect();
  }
});
