// The chat page served at GET /: pick a name and a channel, then talk. Bundled by esbuild into
// dist/relay/page/chat.js at build time. It talks to the relay with wavecast/browser (src/browser/, the
// wavecast.v1 subprotocol): it reconnects by itself and recovers what was said while it was offline,
// lines typed while offline are queued, and who is online comes from the protocol's presence.
import {
  MAX_TEXT_LENGTH,
  channelFromLocation,
  channelProblem,
  channelUrl,
  cleanName,
  decodeIncoming,
  encodeChat,
  nameHue,
} from './chat-message.js';
import { WavecastClient, type ChannelMessage, type ClientEvents } from '../../browser/index.js';

const NAME_KEY = 'wavecast.name';

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
  chat: element<HTMLElement>('chat'),
  messages: element<HTMLOListElement>('messages'),
  composer: element<HTMLFormElement>('composer'),
  text: element<HTMLInputElement>('text'),
  send: element<HTMLButtonElement>('send'),
  leave: element<HTMLButtonElement>('leave'),
};

const params = new URLSearchParams(location.search);
const token = params.get('token');
/** The relay's ids of this page's connections (one per connection: a reconnection gets a new one). */
const ownIds = new Set<string>();
const MAX_OWN_IDS = 1000;

let socket: WavecastClient | null = null;
let channel = channelFromLocation(location.search, location.hash);
let name = '';

// ---------------------------------------------------------------- joining and leaving

function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeName(value: string): void {
  try {
    localStorage.setItem(NAME_KEY, value);
  } catch {
    // Private browsing: the name is simply not remembered.
  }
}

function showJoinForm(): void {
  ui.name.value = name || storedName();
  ui.channel.value = channel;
  ui.wsHint.textContent = channelProblem(channel) === null ? channelUrl(location, channel, null) : '';
  ui.join.hidden = false;
  ui.chat.hidden = true;
  ui.where.hidden = true;
  (ui.name.value ? ui.channel : ui.name).focus();
}

function join(newName: string, newChannel: string): void {
  name = newName;
  channel = newChannel;
  storeName(name);
  const query = new URLSearchParams(location.search);
  query.set('channel', channel);
  history.replaceState(null, '', `${location.pathname}?${query.toString()}`);
  document.title = `${channel} · Wavecast chat`;
  ui.join.hidden = true;
  ui.chat.hidden = false;
  ui.where.hidden = false;
  ui.channelLabel.textContent = `#${channel}`;
  ui.online.textContent = '';
  ui.messages.replaceChildren();
  notice(`You are ${name}. Messages on #${channel} go to everyone connected to it.`);

  const client = new WavecastClient(channelUrl(location, channel, token), { name, autoConnect: false, backoff: { max: 15_000 } });
  socket = client;
  client.on('state', onSocketState);
  client.on('message', onMessage);
  client.on('presence', (p) => {
    if (p.channel === channel) ui.online.textContent = `${p.count} online`;
  });
  client.on('joined', (j) => {
    if (j.you !== undefined && !ownIds.has(j.you)) {
      ownIds.add(j.you);
      if (ownIds.size > MAX_OWN_IDS) ownIds.delete(ownIds.values().next().value!);
      // Lines sent just after connecting can arrive before the joined envelope that tells the id.
      for (const item of ui.messages.querySelectorAll<HTMLElement>(`li.msg[data-from="${CSS.escape(j.you)}"]`)) item.classList.add('mine');
    }
    if (j.rejoin) notice(j.recovered > 0 ? `Reconnected: ${j.recovered} missed message${j.recovered === 1 ? '' : 's'} above.` : 'Reconnected.');
    else notice(`Connected to #${channel}.`);
  });
  client.on('gap', (g) => notice(g.reason === 'reset' ? 'The relay restarted: messages sent while you were away may be missing.' : `Messages ${g.from} to ${g.to} were missed and are no longer available.`, true));
  client.on('error', (e) => {
    if (e.code === 'bad_channel') {
      // Joining again would be refused again: back to the form, with the relay's reason.
      leave();
      showJoinError(e.message);
      return;
    }
    notice(`The relay refused a request: ${e.message}`, true);
  });
  client.on('dropped', () => notice('Offline for too long: an unsent message was dropped.', true));
  client.join(channel);
  client.connect();
}

function leave(): void {
  socket?.close();
  socket = null;
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

// ---------------------------------------------------------------- the connection

function setStatus(state: string, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

function setComposerEnabled(enabled: boolean): void {
  ui.text.disabled = !enabled;
  ui.send.disabled = !enabled;
}

function onSocketState(event: ClientEvents['state']): void {
  switch (event.state) {
    case 'connecting':
      setStatus('connecting', 'connecting…');
      break;
    case 'open':
      setStatus('open', 'connected');
      setComposerEnabled(true);
      break;
    case 'reconnecting': {
      if (event.delay === undefined) {
        setStatus('connecting', 'reconnecting…');
        break;
      }
      const seconds = Math.max(1, Math.round(event.delay / 1000));
      if (event.code === 1006) checkToken();
      setStatus('waiting', `offline · retrying in ${seconds}s`);
      ui.online.textContent = '';
      notice(describeClose(event.code ?? 1006, event.reason ?? '') + ` Reconnecting in ${seconds}s… What you type now is sent then.`, true);
      break;
    }
    case 'closed':
    case 'idle':
      setStatus('stopped', 'not connected');
      setComposerEnabled(false);
      break;
  }
}

let tokenChecked = false;

/** A browser cannot see why an upgrade was refused: ask the relay once whether the token is the reason. */
function checkToken(): void {
  if (tokenChecked) return;
  tokenChecked = true;
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  fetch(`/channels/${encodeURIComponent(channel)}`, { headers, cache: 'no-store' })
    .then((response) => {
      if (response.status !== 401) {
        tokenChecked = false;
        return;
      }
      notice(token ? 'The relay did not accept the token in this page\'s address.' : 'This relay needs a token: open the page with ?token=… in its address.', true);
    })
    .catch(() => {
      tokenChecked = false; // offline: ask again next time
    });
}

function describeClose(code: number, reason: string): string {
  if (reason === 'The browser is offline.') return reason;
  if (code === 1001) return 'The relay is restarting.';
  if (code === 1008) return `The relay closed the connection: ${reason || 'policy violation'}.`;
  if (code === 1009) return 'The relay closed the connection: a message was too large.';
  if (reason) return `Connection closed (${code}: ${reason}).`;
  return 'Connection lost.';
}

window.addEventListener('online', () => socket?.retryNow());
// The browser knows before the connection does (which can take minutes to notice).
window.addEventListener('offline', () => socket?.drop('The browser is offline.'));

// ---------------------------------------------------------------- messages

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (text.trim() === '' || socket === null) return;
  // Offline, the client queues it and sends it once it is back.
  if (socket.publish(channel, encodeChat({ name, text: text.slice(0, MAX_TEXT_LENGTH) }))) {
    ui.text.value = '';
  }
  ui.text.focus();
});

function onMessage(incoming: ChannelMessage): void {
  if (incoming.channel !== channel) return;
  const message = incoming.binary ? ({ kind: 'binary', bytes: base64Length(incoming.data) } as const) : decodeIncoming(incoming.data);
  const item = document.createElement('li');
  item.className = 'msg';
  const who = document.createElement('span');
  who.className = 'who';
  const body = document.createElement('p');
  body.className = 'text';
  if (message.kind === 'chat') {
    who.textContent = message.name;
    who.style.color = `hsl(${nameHue(message.name)} 65% 42%)`;
    body.textContent = message.text;
    if (incoming.from !== undefined) {
      item.dataset.from = incoming.from;
      if (ownIds.has(incoming.from)) item.classList.add('mine');
    }
  } else if (message.kind === 'text') {
    who.textContent = 'plain client';
    body.textContent = message.text;
  } else {
    who.textContent = 'plain client';
    body.textContent = `binary message, ${message.bytes} bytes`;
    body.classList.add('binary');
  }
  item.dataset.seq = String(incoming.seq);
  const time = document.createElement('time');
  const now = new Date(incoming.time);
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  item.append(who, time, body);
  append(item);
}

function base64Length(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

function notice(text: string, bad = false): void {
  const item = document.createElement('li');
  item.className = bad ? 'notice bad' : 'notice';
  item.textContent = text;
  append(item);
}

/** Adds an item and keeps the newest in view, unless the reader has scrolled up. */
function append(item: HTMLElement): void {
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ---------------------------------------------------------------- start

ui.name.value = storedName();
showJoinForm();
