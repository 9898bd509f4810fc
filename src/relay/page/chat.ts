// The chat page served at GET /: pick a name and a channel, then talk. Bundled by esbuild into
// dist/relay/page/chat.js at build time. It talks to the relay as a plain WebSocket client of the
// channel, and reads the number of people online from GET /channels/<channel>.
import {
  MAX_TEXT_LENGTH,
  channelFromLocation,
  channelUrl,
  cleanName,
  decodeIncoming,
  encodeChat,
  nameHue,
} from './chat-message.js';
import { ReconnectingSocket, type SocketState } from './reconnecting-socket.js';

const NAME_KEY = 'wavecast.name';
const ONLINE_POLL_MS = 10_000;
const ONLINE_MIN_GAP_MS = 1_000;

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
const sender = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

let socket: ReconnectingSocket | null = null;
let channel = channelFromLocation(location.search, location.hash);
let name = '';
let onlineTimer: number | null = null;

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
  ui.wsHint.textContent = channelUrl(location, channel, null);
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

  socket = new ReconnectingSocket(channelUrl(location, channel, token));
  socket.onstate = onSocketState;
  socket.onmessage = onMessage;
  socket.start();
  onlineTimer = window.setInterval(refreshOnline, ONLINE_POLL_MS);
}

function leave(): void {
  socket?.stop();
  socket = null;
  if (onlineTimer !== null) window.clearInterval(onlineTimer);
  onlineTimer = null;
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
  ui.joinError.hidden = true;
  join(newName, newChannel);
  ui.text.focus();
});

ui.channel.addEventListener('input', () => {
  ui.wsHint.textContent = channelUrl(location, ui.channel.value.trim() || 'lobby', null);
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

function onSocketState(state: SocketState): void {
  switch (state.state) {
    case 'connecting':
      setStatus('connecting', state.attempt === 0 ? 'connecting…' : 'reconnecting…');
      setComposerEnabled(false);
      break;
    case 'open':
      setStatus('open', 'connected');
      setComposerEnabled(true);
      notice(state.reconnected ? 'Reconnected.' : `Connected to #${channel}.`);
      refreshOnline();
      break;
    case 'waiting': {
      const seconds = Math.max(1, Math.round(state.delay / 1000));
      setStatus('waiting', `offline · retrying in ${seconds}s`);
      setComposerEnabled(false);
      ui.online.textContent = '';
      notice(describeClose(state.code, state.reason) + ` Reconnecting in ${seconds}s…`, true);
      break;
    }
    case 'stopped':
      setStatus('stopped', 'not connected');
      setComposerEnabled(false);
      break;
  }
}

function describeClose(code: number, reason: string): string {
  if (code === 1001) return 'The relay is restarting.';
  if (code === 1008) return `The relay closed the connection: ${reason || 'policy violation'}.`;
  if (code === 1009) return 'The relay closed the connection: a message was too large.';
  if (reason) return `Connection closed (${code}: ${reason}).`;
  return 'Connection lost.';
}

window.addEventListener('online', () => socket?.retryNow());

// ---------------------------------------------------------------- messages

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (text.trim() === '' || socket === null) return;
  if (socket.send(encodeChat({ name, text: text.slice(0, MAX_TEXT_LENGTH), sender }))) {
    ui.text.value = '';
  }
  ui.text.focus();
});

function onMessage(data: unknown): void {
  const message = decodeIncoming(data);
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
    if (message.sender === sender) item.classList.add('mine');
  } else if (message.kind === 'text') {
    who.textContent = 'plain client';
    body.textContent = message.text;
  } else {
    who.textContent = 'plain client';
    body.textContent = `binary message, ${message.bytes} bytes`;
    body.classList.add('binary');
  }
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  item.append(who, time, body);
  append(item);
  refreshOnline();
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

// ---------------------------------------------------------------- who is online

let lastOnlineRefresh = 0;
let onlineTrailing: number | null = null;
let onlineInFlight = false;
let tokenNoticeShown = false;

/** Asks the relay how many are on the channel; at most once a second, the last call always honoured. */
function refreshOnline(): void {
  if (socket === null) return;
  const wait = lastOnlineRefresh + ONLINE_MIN_GAP_MS - Date.now();
  if (wait > 0 || onlineInFlight) {
    onlineTrailing ??= window.setTimeout(() => {
      onlineTrailing = null;
      refreshOnline();
    }, Math.max(wait, ONLINE_MIN_GAP_MS));
    return;
  }
  lastOnlineRefresh = Date.now();
  onlineInFlight = true;
  const asked = channel;
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  fetch(`/channels/${encodeURIComponent(asked)}`, { headers, cache: 'no-store' })
    .then(async (response) => {
      if (response.status === 401) {
        ui.online.textContent = '';
        if (!tokenNoticeShown) notice(token ? 'The relay did not accept the token in this page\'s address.' : 'This relay needs a token: open the page with ?token=… in its address.', true);
        tokenNoticeShown = true;
        return;
      }
      if (!response.ok) return;
      const body = (await response.json()) as { online?: unknown };
      if (asked === channel && socket !== null && typeof body.online === 'number') {
        ui.online.textContent = `${body.online} online`;
      }
    })
    .catch(() => {
      // Offline: the status already says so.
    })
    .finally(() => {
      onlineInFlight = false;
    });
}

// ---------------------------------------------------------------- start

ui.name.value = storedName();
showJoinForm();
