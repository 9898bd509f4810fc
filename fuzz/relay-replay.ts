// The `relay-replay` fuzz target: a model test of the relay's history and recovery. Three wavecast.v1
// clients and HTTP publish to two channels of an in-process relay that keeps only the last 4 messages per
// channel, in random sequences of join, leave, publish (from a client or over HTTP, alone or in bursts
// that overlap the next operation), disconnect, and rejoin with `since` (the last seq handled, or an
// earlier one) while others publish. Each client's stream per channel is checked against the model as it
// comes: every message of its channels exactly once and in seq order from where it (re)joined, with the
// data that was published under that seq; a `gap` only for messages the history had really dropped (and
// always for those); `joined` naming the last seq sent; and, once everything settles, every member
// up to date.
import fc from 'fast-check';
import {
  checkRelayForgets,
  checkRelayLog,
  exchange,
  fail,
  RawV1,
  sharedRelay,
  type Envelope,
  type RelayUnderTest,
} from './relay-harness.js';
import type { FuzzStats, Target } from './targets.js';

const HISTORY = 4;
const CLIENTS = 3;
const CHANNELS = ['x', 'y'];
const relay = sharedRelay({ maxPayload: 4096, historyLimit: HISTORY });
let inputId = 0;

type Op =
  | { op: 'join'; c: number; ch: number }
  | { op: 'leave'; c: number; ch: number }
  | { op: 'publish'; from: number; ch: number; n: number; settle: boolean }
  | { op: 'drop'; c: number }
  | { op: 'rejoin'; c: number; back: number; missed: number; burst: number; burstFrom: number };

const client = fc.nat(CLIENTS - 1);
const channel = fc.nat(CHANNELS.length - 1);
/** `from`: a client index, or CLIENTS for HTTP. */
const source = fc.nat(CLIENTS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('join' as const), c: client, ch: channel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('leave' as const), c: client, ch: channel }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('publish' as const),
      from: source,
      ch: channel,
      n: fc.integer({ min: 1, max: 7 }),
      settle: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drop' as const), c: client }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('rejoin' as const),
      c: client,
      back: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }),
      missed: fc.nat(8),
      burst: fc.nat(6),
      burstFrom: source,
    }),
  },
);

interface ChannelState {
  /** Joined (or asked to join) on the current connection. */
  member: boolean;
  /** The last seq handled (from `joined` and messages); null before the first join completed. */
  lastSeq: number | null;
  /** A join under way: its since, and the channel's latest seq when it was sent. */
  joining: { since: number | null; latestAtRequest: number; replayed: number } | null;
  /** Messages this client must get next on this channel (null: the first message decides, after a join without since). */
  next: number | null;
}

interface Sim {
  conn: RawV1 | null;
  channels: ChannelState[];
}

interface World {
  r: RelayUnderTest;
  names: string[];
  sims: Sim[];
  /** seq → data per channel (learned from acks, HTTP answers and the first receiver). */
  data: Array<Map<number, string>>;
  /** Latest seq per channel that the model knows was published (updated as answers come). */
  latest: number[];
  /** Publishes under way, as promises that resolve once their seq is known. */
  inflight: Array<Promise<void>>;
  /** Pending acks: id → [channel index, data]. */
  acks: Map<string, [number, string]>;
  counter: number;
  stats: { messages: number; gaps: number; rejoins: number; replayed: number };
}

function learn(w: World, ch: number, seq: number, data: string): void {
  const known = w.data[ch]!.get(seq);
  if (known !== undefined && known !== data)
    fail(`seq ${seq} of ${w.names[ch]} is both ${JSON.stringify(known)} and ${JSON.stringify(data)}`);
  w.data[ch]!.set(seq, data);
  w.latest[ch] = Math.max(w.latest[ch]!, seq);
}

function publish(w: World, from: number, ch: number): void {
  const data = `${w.names[ch]}#${++w.counter}`;
  const sim = w.sims[from];
  if (sim !== undefined && sim.conn !== null && sim.conn.closeCode === null && sim.channels[ch]!.member) {
    const id = `p${w.counter}`;
    w.acks.set(id, [ch, data]);
    sim.conn.sendJson({ type: 'publish', channel: w.names[ch], data, id });
    return;
  }
  const body = Buffer.from(data);
  const request = Buffer.from(
    `POST /channels/${encodeURIComponent(w.names[ch]!)}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${data}`,
  );
  w.inflight.push(
    exchange(w.r.port, [request], { halfClose: false, head: false }).then((x) => {
      const answer = x.answers.at(-1);
      if (answer?.status !== 200) fail(`HTTP publish answered ${answer?.status}: ${answer?.body.toString()}`);
      learn(w, ch, (JSON.parse(answer.body.toString()) as { seq: number }).seq, data);
    }),
  );
}

function join(w: World, c: number, ch: number, since: number | null): void {
  const sim = w.sims[c]!;
  const state = sim.channels[ch]!;
  state.member = true;
  state.joining = { since, latestAtRequest: w.latest[ch]!, replayed: 0 };
  state.next = since === null ? null : since + 1;
  const envelope: Record<string, unknown> = { type: 'join', channel: w.names[ch] };
  if (since !== null) {
    envelope.since = since;
    envelope.epoch = w.r.relay.history.epoch;
  }
  sim.conn!.sendJson(envelope);
}

/** Waits until every publish under way has its answer and every connection has seen all, then checks. */
async function settle(w: World): Promise<void> {
  await Promise.all(w.inflight.splice(0));
  for (const sim of w.sims) if (sim.conn !== null && sim.conn.closeCode === null) await sim.conn.barrier();
  // Acks and HTTP answers tell which seq each publish got; then each client's stream is checked.
  for (const sim of w.sims) {
    if (sim.conn === null) continue;
    for (const e of sim.conn.envelopes) {
      if (e.type !== 'ack') continue;
      const pending = w.acks.get(e.id as string);
      if (pending === undefined) fail(`an ack for ${JSON.stringify(e.id)}, not asked for`);
      w.acks.delete(e.id as string);
      learn(w, pending[0], e.seq as number, pending[1]);
    }
  }
  if (w.acks.size > 0) fail(`no ack for ${[...w.acks.keys()].join(', ')}`);
  for (const [c, sim] of w.sims.entries()) {
    if (sim.conn === null) continue;
    for (const e of sim.conn.take()) check(w, c, e);
    if (sim.conn.problems.length > 0) fail(`client ${c}: ${sim.conn.problems.join('; ')}`);
    if (sim.conn.closeCode !== null) fail(`client ${c} was closed with ${sim.conn.closeCode}`);
    for (const [ch, state] of sim.channels.entries()) {
      if (!state.member) continue;
      if (state.joining !== null) fail(`client ${c} never got 'joined' for ${w.names[ch]}`);
      if (state.lastSeq !== w.latest[ch]) fail(`client ${c} is at seq ${state.lastSeq} of ${w.names[ch]}, which is at ${w.latest[ch]}`);
    }
  }
}

function check(w: World, c: number, e: Envelope): void {
  if (e.type === 'presence' || e.type === 'ack' || e.type === 'left' || e.type === 'pong') return;
  const ch = w.names.indexOf(e.channel as string);
  if (ch === -1) fail(`client ${c} got ${JSON.stringify(e)}`);
  const s = w.sims[c]!.channels[ch]!;
  const where = `client ${c}, ${w.names[ch]}`;
  if (!s.member) fail(`${where}: ${JSON.stringify(e)} while not a member`);
  switch (e.type) {
    case 'gap': {
      const j = s.joining;
      if (j === null || j.since === null || e.reason !== 'expired') fail(`${where}: ${JSON.stringify(e)} outside a join with since`);
      const from = e.from as number;
      const to = e.to as number;
      if (from !== j.since + 1 || to < from) fail(`${where}: gap ${from}..${to} after since ${j.since}`);
      // Gone means older than the last HISTORY messages, when the relay read the history: after the
      // request (so at least what was gone then), at the latest now.
      if (to < j.latestAtRequest - HISTORY)
        fail(`${where}: gap ${from}..${to}, but ${j.latestAtRequest - HISTORY} was already gone when it rejoined`);
      if (to > w.latest[ch]! - HISTORY) fail(`${where}: gap ${from}..${to}, but the last ${HISTORY} of ${w.latest[ch]} are kept`);
      s.next = to + 1;
      w.stats.gaps++;
      return;
    }
    case 'message': {
      const seq = e.seq as number;
      if (s.next === null) {
        // After a join without since: it starts after the newest message when the relay took the join.
        if (s.joining === null || seq <= s.joining.latestAtRequest)
          fail(`${where}: first message ${seq} after a join at ${s.joining?.latestAtRequest}`);
        s.next = seq;
      }
      if (seq !== s.next)
        fail(`${where}: message ${seq} where ${s.next} was due (${seq < s.next ? 'a duplicate or out of order' : 'lost'})`);
      const data = w.data[ch]!.get(seq);
      if (data === undefined) learn(w, ch, seq, e.data as string);
      else if (data !== e.data) fail(`${where}: message ${seq} is ${JSON.stringify(e.data)}, published as ${JSON.stringify(data)}`);
      s.next = seq + 1;
      s.lastSeq = seq;
      if (s.joining !== null) s.joining.replayed++;
      w.stats.messages++;
      return;
    }
    case 'joined': {
      const j = s.joining;
      if (j === null) fail(`${where}: a second 'joined'`);
      const seq = e.seq as number;
      if (s.next === null) {
        if (seq < j.latestAtRequest) fail(`${where}: joined at ${seq}, before the ${j.latestAtRequest} published when it joined`);
        s.next = seq + 1;
      } else if (seq !== s.next - 1) fail(`${where}: joined says ${seq}, the last message sent was ${s.next - 1}`);
      // `recovered` counts the replay read from history; live messages held back during it come on top.
      if (typeof e.recovered !== 'number' || e.recovered > j.replayed)
        fail(`${where}: joined says ${String(e.recovered)} recovered, ${j.replayed} came`);
      s.lastSeq = seq;
      if (j.since !== null) w.stats.replayed += j.replayed;
      s.joining = null;
      return;
    }
    default:
      fail(`${where}: ${JSON.stringify(e)}`);
  }
}

async function run(w: World, op: Op): Promise<void> {
  switch (op.op) {
    case 'join': {
      const sim = w.sims[op.c]!;
      if (sim.conn === null || sim.channels[op.ch]!.member) return;
      join(w, op.c, op.ch, null);
      return settle(w);
    }
    case 'leave': {
      const sim = w.sims[op.c]!;
      const state = sim.channels[op.ch]!;
      if (sim.conn === null || !state.member) return;
      // Publishes under way may reach it or not, depending on which the relay takes first: not a leave's concern.
      await settle(w);
      sim.conn.sendJson({ type: 'leave', channel: w.names[op.ch] });
      await settle(w);
      state.member = false;
      state.lastSeq = null;
      return;
    }
    case 'publish':
      for (let i = 0; i < op.n; i++) publish(w, op.from, op.ch);
      if (op.settle) await settle(w);
      return;
    case 'drop': {
      const sim = w.sims[op.c]!;
      if (sim.conn === null) return;
      await settle(w);
      await sim.conn.destroy();
      sim.conn = null;
      for (const state of sim.channels) state.member = state.member && state.lastSeq !== null;
      return;
    }
    case 'rejoin': {
      const sim = w.sims[op.c]!;
      if (sim.conn !== null) {
        // Drop first (the connection is lost), then come back.
        await run(w, { op: 'drop', c: op.c });
      }
      // What it misses while away (over HTTP, the others may be away too).
      for (let i = 0; i < op.missed; i++) publish(w, CLIENTS, i % CHANNELS.length);
      await settle(w);
      sim.conn = await RawV1.open(w.r.port);
      w.stats.rejoins++;
      for (const [ch, state] of sim.channels.entries()) {
        if (!state.member || state.lastSeq === null) {
          state.member = false;
          continue;
        }
        join(w, op.c, ch, Math.max(0, state.lastSeq - op.back));
      }
      // Others publish while the replay is under way.
      for (let i = 0; i < op.burst; i++) publish(w, op.burstFrom === op.c ? CLIENTS : op.burstFrom, i % CHANNELS.length);
      return settle(w);
    }
  }
}

export const relayReplayTarget: Target = {
  name: 'relay-replay',
  about: `three wavecast.v1 clients and HTTP on two channels of a relay keeping ${HISTORY} messages: random join, leave, publish (bursts overlapping what follows), disconnect, rejoin with since during publishes; each client gets every message of its channels once, in seq order, with its data, a gap only for what history really dropped, and is up to date when things settle`,
  weight: 0.005,
  property: (stats: FuzzStats) =>
    fc.asyncProperty(fc.array(opArb, { minLength: 3, maxLength: 30 }), async (ops) => {
      const r = await relay.get();
      const id = ++inputId;
      const w: World = {
        r,
        names: CHANNELS.map((name) => `replay${id}/${name}`),
        sims: [],
        data: CHANNELS.map(() => new Map()),
        latest: CHANNELS.map(() => 0),
        inflight: [],
        acks: new Map(),
        counter: 0,
        stats: { messages: 0, gaps: 0, rejoins: 0, replayed: 0 },
      };
      try {
        for (let c = 0; c < CLIENTS; c++) {
          w.sims.push({
            conn: await RawV1.open(r.port),
            channels: CHANNELS.map(() => ({ member: false, lastSeq: null, joining: null, next: null })),
          });
        }
        for (const op of ops) await run(w, op);
        await settle(w);
        checkRelayLog(r);
      } finally {
        for (const sim of w.sims) await sim.conn?.destroy();
      }
      // The relay forgets the connections: no session, no member, no client left (a leak would grow here).
      await checkRelayForgets(r);
      const key = `relay-replay ${w.stats.gaps > 0 ? 'with gaps' : w.stats.replayed > 0 ? 'replayed, no gap' : 'live only'}`;
      stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
      for (const [name, n] of Object.entries(w.stats))
        stats.outcomes.set(`relay-replay (${name})`, (stats.outcomes.get(`relay-replay (${name})`) ?? 0) + n);
      stats.inputs++;
      stats.onInput?.();
    }),
  dispose: () => relay.stop(),
};
