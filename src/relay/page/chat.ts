// The chat page served at GET /: pick a name and a channel, then talk. Bundled by esbuild into
// dist/relay/page/chat.js at build time. It talks to the relay with wavecast/browser (src/browser/, the
// wavecast.v1 subprotocol): on joining it shows the channel's recent history, it reconnects by itself
// and recovers what was said while it was offline, a typed line shows at once as pending and is marked
// delivered when the relay acks it (typed offline, it waits in the client's offline queue), one status
// says how the connection stands, and join/leave lines come from the protocol's presence.
import { MAX_TEXT_LENGTH, channelFromLocation, channelProblem, channelUrl, cleanName, decodeIncoming, encodeChat } from './chat-message.js';
import { MAX_SHOWN, MessageList } from './chat-view.js';
import { NAME_KEY, OWN_IDS_KEY, TOKEN_KEY, load, loadList, local, save, session, takeTokenFromAddress } from './chat-storage.js';
import { WavecastClient, type ChannelMessage, type ClientEvents } from '../../browser/index.js';

/** Connection ids of this tab remembered across reloads, so its earlier lines in the history show as its own. */
const MAX_OWN_IDS = 50;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}`);
  return found as T;
}

const ui = {
  where: element<HTMLDivElement>('where'),
  channelLabel: element<HTMLSpanElement>('channel-label'),
  online: element<HTMLSpanElement>('online'),
  status: element<HTMLSpanElement>('status'),
  join: element<HTMLFormElement>('join'),
  name: element<HTMLInputElement>('name'),
  channel: element<HTMLInputElement>('channel'),
  joinError: element<HTMLParagraphElement>('join-error'),
  wsHint: element<HTMLElement>('ws-hint'),
  tokenForm: element<HTMLFormElement>('token-form'),
  tokenReason: element<HTMLParagraphElement>('token-reason'),
  token: element<HTMLInputElement>('token'),
  chat: element<HTMLElement>('chat'),
  messages: element<HTMLOListElement>('messages'),
  composer: element<HTMLFormElement>('composer'),
  text: element<HTMLInputElement>('text'),
  send: element<HTMLButtonElement>('send'),
  leave: element<HTMLButtonElement>('leave'),
};

const view = new MessageList(ui.messages);

// ---------------------------------------------------------------- what the tab remembers

/**
 * The relay's token: from the address (then taken out of it) or from this tab's sessionStorage; the page
 * asks for it when the relay refuses the one it has.
 */
let token = takeTokenFromAddress() ?? load(session, TOKEN_KEY);

/** The relay's ids of this tab's connections (one per connection: a reconnection gets a new one). */
const ownIds = new Set<string>(loadList(session, OWN_IDS_KEY).slice(-MAX_OWN_IDS));

function addOwnId(id: string): void {
  if (ownIds.has(id)) return;
  ownIds.add(id);
  while (ownIds.size > MAX_OWN_IDS) ownIds.delete(ownIds.values().next().value!);
  save(session, OWN_IDS_KEY, JSON.stringify([...ownIds]));
  view.markMine(id);
}

// ---------------------------------------------------------------- joining and leaving

let client: WavecastClient | null = null;
let channel = channelFromLocation(location.search, location.hash);
let name = '';
/** Whether the channel was joined on this client: the first join shows the history, later ones recover. */
let joinedOnce = false;
/** Set while the connection is down, so that an outage gets one line, not one per attempt. */
let outage = false;

function showJoinForm(): void {
  ui.name.value = name || (load(local, NAME_KEY) ?? '');
  ui.channel.value = channel;
  ui.wsHint.textContent = channelProblem(channel) === null ? channelUrl(location, channel, null) : '';
  ui.join.hidden = false;
  ui.chat.hidden = true;
  ui.where.hidden = true;
  ui.leave.hidden = true;
  ui.tokenForm.hidden = true;
  (ui.name.value ? ui.channel : ui.name).focus();
}

function join(newName: string, newChannel: string): void {
  name = newName;
  channel = newChannel;
  save(local, NAME_KEY, name);
  const query = new URLSearchParams(location.search);
  query.set('channel', channel);
  history.replaceState(null, '', `${location.pathname}?${query.toString()}`);
  document.title = `${channel} · Wavecast chat`;
  ui.join.hidden = true;
  ui.chat.hidden = false;
  ui.where.hidden = false;
  ui.leave.hidden = false;
  ui.channelLabel.textContent = `#${channel}`;
  ui.online.textContent = '';
  view.clear();
  pendings.clear();
  view.notice(`You are ${name}. Messages on #${channel} go to everyone connected to it.`);
  client?.close();
  client = null;
  joinedOnce = false;
  start();
}

/**
 * Starts a client for the channel; again after a new token, from where the last one was, and the lines
 * it had not sent go out on the new one.
 */
function start(): void {
  const since = client?.lastSeq(channel) ?? 0;
  const epoch = client?.epoch(channel);
  client?.close();
  outage = joinedOnce;
  const next = new WavecastClient(channelUrl(location, channel, token), { name, autoConnect: false, backoff: { max: 15_000 } });
  client = next;
  next.on('state', onSocketState);
  next.on('message', onMessage);
  next.on('presence', onPresence);
  next.on('joined', onJoined);
  next.on('ack', (a) => acked(a.id, a.seq));
  next.on('gap', (g) => {
    if (g.reason === 'reset') {
      // The relay's numbers start again: an ack of an earlier connection names nothing now, and its line
      // goes out again (an ack on this connection, which can come before the gap, is of the new run).
      for (const pending of pendings.values()) {
        if (pending.seq === undefined || pending.ackedOn === connections) continue;
        pending.sentBefore = true;
        pending.seq = undefined;
      }
    }
    if (g.reason === 'expired' && !joinedOnce) view.notice('Earlier messages are no longer kept.');
    else
      view.notice(
        g.reason === 'reset'
          ? 'The relay restarted: messages sent while you were away may be missing.'
          : `Messages ${g.from} to ${g.to} were missed and are no longer available.`,
        true,
      );
  });
  next.on('error', (e) => {
    if (e.code === 'unauthorized') {
      // A relay that checks identities (JWT) takes the connection, then wants a token before the join.
      askForToken();
      return;
    }
    if (e.code === 'bad_channel') {
      // Joining again would be refused again: back to the form, with the relay's reason.
      leave();
      showJoinError(e.message);
      return;
    }
    const pending = e.id === undefined ? undefined : pendings.get(String(e.id));
    if (pending !== undefined) view.setPendingState(pending.item, 'failed', e.message);
    else view.notice(`The relay refused a request: ${e.message}`, true);
  });
  next.on('dropped', (d) => {
    const pending = d.id === undefined ? undefined : pendings.get(String(d.id));
    if (pending !== undefined) view.setPendingState(pending.item, 'failed', 'offline for too long');
  });
  // The first join asks for everything the relay keeps (the last 100 messages by default).
  next.join(channel, epoch === undefined ? { since } : { since, epoch });
  for (const pending of pendings.values()) if (pending.seq === undefined) send(pending);
  next.connect();
}

function leave(): void {
  client?.close();
  client = null;
  pendings.clear();
  stopCountdown();
  setStatus('idle', 'not connected');
  document.title = 'Wavecast chat';
  showJoinForm();
}

ui.join.addEventListener('submit', (event) => {
  event.preventDefault();
  const newName = cleanName(ui.name.value);
  const newChannel = ui.channel.value.trim();
  if (newName === '' || newChannel === '') {
    ui.joinError.textContent = 'Pick a name and a channel.';
    ui.joinError.hidden = false;
    return;
  }
  const problem = channelProblem(newChannel);
  if (problem !== null) return showJoinError(problem);
  ui.joinError.hidden = true;
  join(newName, newChannel);
  ui.text.focus();
});

function showJoinError(text: string): void {
  ui.joinError.textContent = text;
  ui.joinError.hidden = false;
  ui.channel.focus();
}

ui.channel.addEventListener('input', () => {
  const value = ui.channel.value.trim() || 'lobby';
  ui.wsHint.textContent = channelProblem(value) === null ? channelUrl(location, value, null) : '';
});

ui.leave.addEventListener('click', leave);

// ---------------------------------------------------------------- the token

ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const given = ui.token.value.trim();
  if (given === '') return;
  token = given;
  save(session, TOKEN_KEY, token);
  ui.tokenForm.hidden = true;
  ui.token.value = '';
  start();
  ui.text.focus();
});

/** The relay refused the token (or wants one): stop retrying and ask for it. */
function askForToken(): void {
  client?.close();
  stopCountdown();
  if (token !== null) save(session, TOKEN_KEY, null);
  ui.tokenReason.textContent = token === null ? 'This relay needs a token to join its channels.' : 'The relay did not accept the token.';
  token = null;
  setStatus('refused', 'needs a token');
  ui.tokenForm.hidden = false;
  ui.token.focus();
}

let tokenCheck: Promise<void> | null = null;

/** A browser cannot see why an upgrade was refused: ask the relay over HTTP whether the token is the reason. */
function checkToken(): void {
  if (tokenCheck !== null) return;
  const checking = client;
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  tokenCheck = fetch(`/channels/${encodeURIComponent(channel)}`, { headers, cache: 'no-store' })
    .then((response) => {
      if (response.status === 401 && client === checking && client !== null) askForToken();
    })
    .catch(() => {
      // The relay is not reachable at all: the client goes on retrying.
    })
    .finally(() => {
      tokenCheck = null;
    });
}

// ---------------------------------------------------------------- the connection's status

function setStatus(state: string, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

let countdown: ReturnType<typeof setInterval> | null = null;

function stopCountdown(): void {
  if (countdown !== null) clearInterval(countdown);
  countdown = null;
}

/** "reconnecting in Ns", counting down to the next attempt (or "offline" while the browser is). */
function waitStatus(until: number): void {
  stopCountdown();
  const show = () => {
    if (!navigator.onLine) return setStatus('offline', 'offline');
    const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    setStatus('waiting', `reconnecting in ${seconds}s`);
  };
  show();
  countdown = setInterval(show, 1000);
}

function onSocketState(event: ClientEvents['state']): void {
  switch (event.state) {
    case 'connecting':
      stopCountdown();
      setStatus('connecting', 'connecting…');
      break;
    case 'open':
      stopCountdown();
      setStatus('open', 'connected');
      sinceOpen.clear();
      connections++;
      for (const pending of pendings.values()) if (pending.item.dataset.state === 'queued') view.setPendingState(pending.item, 'sending');
      break;
    case 'reconnecting':
      if (event.delay === undefined) {
        stopCountdown();
        setStatus('connecting', 'reconnecting…');
        break;
      }
      waitStatus(Date.now() + event.delay);
      ui.online.textContent = '';
      if (event.code === 1006) checkToken();
      // The relay closed for the token: it expired (4001) or none came in time (4002).
      else if (event.code === 4001 || event.code === 4002) {
        askForToken();
        break;
      }
      if (!outage && event.previous === 'open') {
        outage = true;
        view.notice(`${describeClose(event.code ?? 1006, event.reason ?? '')} What you type is sent when the connection is back.`);
      }
      for (const pending of pendings.values()) if (pending.item.dataset.state === 'sending') pending.sentBefore = true;
      break;
    case 'closed':
    case 'idle':
      break;
  }
}

function describeClose(code: number, reason: string): string {
  if (reason === 'The browser is offline.') return 'The browser is offline.';
  if (code === 1001) return 'The relay is restarting.';
  if (code === 1008) return `The relay closed the connection: ${reason || 'policy violation'}.`;
  if (code === 1009) return 'The relay closed the connection: a message was too large.';
  if (reason && code !== 1006) return `Connection closed (${code}: ${reason}).`;
  return 'Connection lost.';
}

window.addEventListener('online', () => client?.retryNow());
// The browser knows before the connection does (which can take minutes to notice).
window.addEventListener('offline', () => {
  client?.drop('The browser is offline.');
  if (client?.state === 'reconnecting') setStatus('offline', 'offline');
});

// ---------------------------------------------------------------- presence

function onJoined(j: ClientEvents['joined']): void {
  if (j.channel !== channel) return;
  if (j.you !== undefined) addOwnId(j.you);
  if (j.name !== undefined && j.name !== name) {
    // The relay names this connection itself (an identity it checked): that is the name others see.
    name = j.name;
    view.notice(`The relay knows you as ${name}.`);
  }
  if (!joinedOnce) view.notice(`Connected to #${channel}.`);
  else if (outage)
    view.notice(j.recovered > 0 ? `Reconnected: ${j.recovered} missed message${j.recovered === 1 ? '' : 's'} above.` : 'Reconnected.');
  joinedOnce = true;
  outage = false;
  // Lines the relay acked but did not send back before this (it counts them as seen): shown as delivered.
  for (const pending of pendings.values()) {
    if (pending.seq !== undefined && pending.seq <= j.seq) {
      pendings.delete(pending.id);
      view.remove(pending.item);
      shownNow(pending.seq, view.message({ seq: pending.seq, time: Date.now(), name, text: pending.text, mine: true }));
    }
  }
  // Lines sent on a connection that dropped before the relay acked them, and not in what it replayed:
  // the relay never had them. They go out again.
  for (const pending of pendings.values()) {
    if (pending.sentBefore && pending.seq === undefined) {
      pending.sentBefore = false;
      send(pending);
    }
  }
}

function onPresence(p: ClientEvents['presence']): void {
  if (p.channel !== channel) return;
  ui.online.textContent = `${p.count} online`;
  ui.online.title = p.names.filter((n) => n !== '').join(', ');
  if (p.event !== undefined && p.name !== undefined) {
    if (p.name !== name) view.notice(`${p.name || 'Someone'} ${p.event === 'join' ? 'joined' : 'left'}.`);
    return;
  }
  // The relay's summary of a busy second.
  const came = (p.joined ?? []).filter((n) => n !== name);
  const went = (p.left ?? []).filter((n) => n !== name);
  if (came.length > 0) view.notice(`${people(came)} joined.`);
  if (went.length > 0) view.notice(`${people(went)} left.`);
  if (p.more !== undefined && p.more > 0) view.notice(`${p.more} more joined or left.`);
}

/** "Ada", "Ada and Grace", "Ada, Grace and 3 others". */
function people(names: string[]): string {
  const shown = names.map((n) => n || 'someone');
  if (shown.length === 1) return shown[0]!;
  if (shown.length <= 3) return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
  return `${shown.slice(0, 2).join(', ')} and ${shown.length - 2} others`;
}

// ---------------------------------------------------------------- messages

interface Pending {
  id: string;
  text: string;
  data: string;
  item: HTMLLIElement;
  /** Sent on a connection that dropped before the ack: sent again after the rejoin if not replayed. */
  sentBefore: boolean;
  /** The relay's sequence number for it, once acked (its message is on its way), and on which connection. */
  seq?: number | undefined;
  ackedOn?: number;
}

/** Lines typed here that the relay has not acked yet, oldest first (by id). */
const pendings = new Map<string, Pending>();
let nextPendingId = 1;

function send(pending: Pending): void {
  if (client === null) return;
  const open = client.state === 'open';
  view.setPendingState(pending.item, open ? 'sending' : 'queued');
  // Offline, the client queues it and sends it once it is back.
  client.publish(channel, pending.data, { id: pending.id });
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value.slice(0, MAX_TEXT_LENGTH);
  if (text.trim() === '' || client === null) return;
  const id = `p${nextPendingId++}`;
  const pending: Pending = { id, text, data: encodeChat({ name, text }), item: view.pending(name, text, Date.now()), sentBefore: false };
  pending.item.dataset.id = id;
  pending.item.addEventListener('click', () => {
    if (pending.item.dataset.state === 'failed') send(pending);
  });
  pendings.set(id, pending);
  send(pending);
  ui.text.value = '';
  ui.text.focus();
});

/**
 * Messages shown since the connection opened, by sequence number: an ack on this connection names one of
 * them when its message came first (numbers of earlier connections may be of another epoch).
 */
const sinceOpen = new Map<number, HTMLElement>();
/** Connections opened so far (each 'open' is a new one). */
let connections = 0;

function shownNow(seq: number, item: HTMLElement): void {
  sinceOpen.set(seq, item);
  if (sinceOpen.size > MAX_SHOWN) sinceOpen.delete(sinceOpen.keys().next().value!);
}

/**
 * The relay acked a line. Its message (which every member gets, the sender too) shows it delivered, in
 * the relay's order: if it came first, the pending line goes now; if not, it goes when it comes.
 */
function acked(id: string | number, seq: number): void {
  const pending = pendings.get(String(id));
  if (pending === undefined) return;
  const item = sinceOpen.get(seq);
  if (item === undefined) {
    pending.seq = seq;
    pending.ackedOn = connections;
    return;
  }
  pendings.delete(pending.id);
  view.remove(pending.item);
  // Its message came before this connection's id was known: it is this page's own.
  if (item.dataset.from !== undefined) addOwnId(item.dataset.from);
}

/** The pending line a message of this page's is: the one acked with its number, else the oldest that says the same. */
function pendingFor(incoming: ChannelMessage, mine: boolean): Pending | undefined {
  for (const pending of pendings.values()) if (pending.seq === incoming.seq) return pending;
  if (!mine) return undefined;
  for (const pending of pendings.values()) if (pending.seq === undefined && pending.data === incoming.data) return pending;
  return undefined;
}

function onMessage(incoming: ChannelMessage): void {
  if (incoming.channel !== channel) return;
  let mine = incoming.from !== undefined && ownIds.has(incoming.from);
  const message = incoming.binary ? ({ kind: 'binary', bytes: base64Length(incoming.data) } as const) : decodeIncoming(incoming.data);
  if (message.kind === 'binary') {
    shownNow(
      incoming.seq,
      view.message({
        seq: incoming.seq,
        time: incoming.time,
        name: null,
        text: `binary message, ${message.bytes} bytes`,
        binary: true,
        mine: false,
      }),
    );
    return;
  }
  if (message.kind === 'text') {
    shownNow(incoming.seq, view.message({ seq: incoming.seq, time: incoming.time, name: null, text: message.text, mine: false }));
    return;
  }
  const pending = pendingFor(incoming, mine);
  if (pending !== undefined) {
    pendings.delete(pending.id);
    view.remove(pending.item);
    mine = true;
  }
  const shown = { seq: incoming.seq, time: incoming.time, name: message.name, text: message.text, mine };
  shownNow(incoming.seq, view.message(incoming.from === undefined ? shown : { ...shown, from: incoming.from }));
  if (pending !== undefined && incoming.from !== undefined) addOwnId(incoming.from);
}

function base64Length(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

// ---------------------------------------------------------------- start

showJoinForm();
