// The relay soak's load generator, run as a child process: many wavecast/browser clients (with
// wavecast's own WebSocket) join two channels each, publish over WebSocket, and are dropped abruptly
// now and then (their socket destroyed under them, or their drop()), so that they reconnect and recover
// with `since`. Every message their 'message' events deliver is checked per client and channel: the
// next sequence number each time; at the end each must be at the channel's latest. Reports over IPC.
import { WavecastClient } from '../src/browser/index.js';
import { WebSocket } from '../src/index.js';
import type { FromRelayLoad, RelayLoadReport, StartRelayLoad, ToRelayLoad } from './relay-protocol.js';

/** wavecast's WebSocket as the browser's constructor (url, protocols), without compression. */
class NodeWebSocket extends WebSocket {
  constructor(url: string, protocols: string) {
    super(url, protocols, { perMessageDeflate: false });
  }
}

interface Member {
  channel: string;
  /** The last seq delivered (undefined until the first 'joined'). */
  last: number | undefined;
  joinedSinceOpen: boolean;
}

interface Sim {
  id: number;
  client: WavecastClient;
  members: Map<string, Member>;
}

const sims: Sim[] = [];
let config: StartRelayLoad;
const report: RelayLoadReport = {
  type: 'report',
  clients: 0,
  terminated: 0,
  dropped: 0,
  reconnects: 0,
  published: 0,
  received: 0,
  losses: 0,
  duplicates: 0,
  gaps: 0,
  behind: 0,
  rssMax: 0,
};
let timers: NodeJS.Timeout[] = [];

let waiters: Array<() => boolean> = [];
const changed = () => (waiters = waiters.filter((done) => !done()));
function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = () => {
      if (!condition()) return false;
      clearTimeout(timer);
      resolve(true);
      return true;
    };
    if (!done()) waiters.push(done);
  });
}

const send = (message: FromRelayLoad) => process.send!(message);
const sample = () => (report.rssMax = Math.max(report.rssMax, process.memoryUsage().rss));
const allJoined = () => sims.every((s) => s.client.state === 'open' && [...s.members.values()].every((m) => m.joinedSinceOpen));

function start(id: number): Sim {
  const client = new WavecastClient(`${config.url}/`, {
    WebSocket: NodeWebSocket,
    name: `c${id}`,
    backoff: { ...config.backoff, jitter: 0.5 },
    pingInterval: 0,
  });
  const c = config.channels;
  const first = c[id % c.length]!;
  const second = c[(id * 7 + 1) % c.length] === first ? c[(id + 1) % c.length]! : c[(id * 7 + 1) % c.length]!;
  const sim: Sim = {
    id,
    client,
    members: new Map([first, second].map((channel) => [channel, { channel, last: undefined, joinedSinceOpen: false }])),
  };
  client.on('state', (s) => {
    if (s.state === 'open' && s.previous === 'reconnecting') report.reconnects++;
    if (s.state !== 'open') for (const m of sim.members.values()) m.joinedSinceOpen = false;
    changed();
  });
  client.on('joined', (j) => {
    const m = sim.members.get(j.channel)!;
    if (m.last === undefined) m.last = j.seq;
    else if (j.seq > m.last) report.losses += j.seq - m.last; // 'joined' past what was delivered
    m.joinedSinceOpen = true;
    changed();
  });
  client.on('message', (message) => {
    const m = sim.members.get(message.channel)!;
    report.received++;
    if (m.last === undefined) m.last = message.seq - 1;
    if (message.seq <= m.last) report.duplicates++;
    else {
      report.losses += message.seq - m.last - 1;
      m.last = message.seq;
    }
    changed();
  });
  client.on('gap', () => report.gaps++);
  for (const channel of sim.members.keys()) client.join(channel);
  return sim;
}

/** Rate-driven work on a 10 ms timer: what is owed follows the clock. */
function every(perSecond: number, act: () => void): void {
  if (perSecond <= 0) return;
  let owed = 0;
  let last = Date.now();
  timers.push(
    setInterval(() => {
      const now = Date.now();
      owed += (perSecond * (now - last)) / 1000;
      last = now;
      for (; owed >= 1; owed--) act();
    }, 10),
  );
}

const random = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
let counter = 0;

process.on('message', async (message: ToRelayLoad) => {
  if (message.type === 'start') {
    config = message;
    for (let i = 0; i < config.clients; i++) {
      sims.push(start(i));
      // A few at a time, so that the relay is not asked to accept them all in one turn.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    report.clients = sims.length;
    await until(allJoined, 120_000);
    sample();
    send({ type: 'ready', open: sims.filter((s) => s.client.state === 'open').length });
    every(config.publishPerSecond, () => {
      const sim = random(sims);
      sim.client.publish(random([...sim.members.keys()]), `w${sim.id}:${++counter}`);
      report.published++;
    });
    every(config.dropsPerSecond, () => {
      const sim = random(sims);
      if (sim.client.state !== 'open') return;
      if ((report.dropped + report.terminated) % 3 === 2) {
        sim.client.drop('soak');
        report.dropped++;
      } else {
        // Abrupt: the TCP connection is destroyed under the client, which sees a 1006.
        (sim.client as unknown as { _socket: WebSocket })._socket.terminate();
        report.terminated++;
      }
    });
    timers.push(setInterval(sample, 1000));
  } else if (message.type === 'quiesce') {
    for (const timer of timers) clearInterval(timer);
    timers = [];
    await until(allJoined, 60_000);
    send({ type: 'quiet', open: sims.filter((s) => s.client.state === 'open').length });
  } else if (message.type === 'final') {
    // Every client must reach the latest seq of its channels (what is still on its way comes).
    const latest = new Map(config.channels.map((channel, i) => [channel, message.latest[i]!]));
    const caughtUp = () => sims.every((s) => [...s.members.values()].every((m) => m.last === latest.get(m.channel)));
    await until(caughtUp, 30_000);
    for (const s of sims) {
      for (const m of s.members.values()) {
        const target = latest.get(m.channel)!;
        if (m.last !== target) {
          report.behind++;
          report.losses += Math.max(0, target - (m.last ?? 0));
        }
      }
      s.client.close();
    }
    sample();
    send(report);
    process.disconnect();
  }
});
