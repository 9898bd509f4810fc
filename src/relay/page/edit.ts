// The editor page, /edit/<document>: CodeMirror bound to the document's Y.Text "text" by
// y-codemirror.next, synced through the relay by y-websocket's provider (ws://host/docs/<document>),
// with the others' cursors and selections under their names and colours. Offline, typing goes on in
// the page's own copy; back online, the provider reconnects and Yjs merges both sides.
import { EditorState, Compartment } from '@codemirror/state';
import { basicSetup, EditorView } from 'codemirror';
import * as decoding from 'lib0/decoding';
import { yCollab } from 'y-codemirror.next';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

const COLOURS = ['#2458d3', '#b4286b', '#1a7f37', '#9a6700', '#7b3fe4', '#c0262d', '#0b7a8a', '#a04f12'];
const NAME_KEY = 'wavecast.editor.name';

const params = new URLSearchParams(location.search);
const token = params.get('token');
const docName = decodeName(location.pathname.slice('/edit/'.length)) || 'welcome';

const ui = {
  doc: element('doc-name'),
  status: element('status'),
  name: element('name') as HTMLInputElement,
  people: element('people'),
  hint: element('hint'),
  editor: element('editor'),
};

const ydoc = new Y.Doc();
const provider = new WebsocketProvider(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/docs`,
  encodeURIComponent(docName),
  ydoc,
  {
    params: token !== null ? { token } : {},
  },
);
const text = ydoc.getText('text');
const colour = COLOURS[ydoc.clientID % COLOURS.length]!;
const readOnly = new Compartment();
let refusal: string | null = null;

// The relay says "permission denied" (an auth message) to an editor of a read-only document.
provider.messageHandlers[2] = (_encoder, decoder) => {
  if (decoding.readVarUint(decoder) !== 0) return;
  refusal = `read-only: ${decoding.readVarString(decoder)}`;
  view.dispatch({ effects: readOnly.reconfigure(EditorState.readOnly.of(true)) });
  showStatus();
};

const view = new EditorView({
  parent: ui.editor,
  state: EditorState.create({
    doc: text.toString(),
    extensions: [basicSetup, EditorView.lineWrapping, readOnly.of(EditorState.readOnly.of(false)), yCollab(text, provider.awareness)],
  }),
});

ui.doc.textContent = docName;
document.title = `${docName} — Wavecast editor`;
ui.name.value = localStorage.getItem(NAME_KEY) ?? `Guest ${ydoc.clientID % 1000}`;
setUser();
ui.name.addEventListener('change', () => {
  const name = ui.name.value.trim();
  if (name !== '') localStorage.setItem(NAME_KEY, name);
  setUser();
});
ui.hint.textContent = `Share this address to edit together. From code: new WebsocketProvider('${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/docs', ${JSON.stringify(encodeURIComponent(docName))}, ydoc)`;

provider.on('status', showStatus);
provider.on('sync', showStatus);
provider.on('connection-close', (event) => {
  if (event !== null && event.code >= 4400 && event.code < 4500) refusal = `refused: ${event.reason || event.code}`;
  showStatus();
});
provider.awareness.on('change', showPeople);
// The browser knows before the socket does: go offline at once, and back as soon as it can.
window.addEventListener('offline', () => provider.disconnect());
window.addEventListener('online', () => provider.connect());
showStatus();
showPeople();

function setUser(): void {
  const name = ui.name.value.trim() || 'Anonymous';
  provider.awareness.setLocalStateField('user', { name, color: colour, colorLight: `${colour}33` });
}

function showStatus(): void {
  const [state, label] = currentStatus();
  ui.status.dataset.state = state;
  ui.status.textContent = label;
}

function currentStatus(): [state: string, label: string] {
  if (refusal !== null) return ['refused', refusal];
  if (provider.synced) return ['synced', 'saved on the relay'];
  if (provider.wsconnected || provider.wsconnecting) return ['connecting', 'connecting…'];
  return ['offline', 'offline: keep typing, your changes merge when the connection is back'];
}

function showPeople(): void {
  const items: HTMLLIElement[] = [];
  provider.awareness.getStates().forEach((state, clientId) => {
    const user = (state as { user?: { name?: unknown; color?: unknown } }).user;
    if (user === undefined || typeof user.name !== 'string') return;
    const item = document.createElement('li');
    item.textContent = clientId === ydoc.clientID ? `${user.name} (you)` : user.name;
    item.style.background = typeof user.color === 'string' && /^#[0-9a-f]{6}$/i.test(user.color) ? user.color : '#5b6470';
    items.push(item);
  });
  ui.people.replaceChildren(...items);
}

function decodeName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`The page has no #${id}`);
  return found;
}
