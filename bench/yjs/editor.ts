// The yjs benchmark's editor: one WebSocket (the `ws` package) and one Y.Doc, the same code for every
// server. It speaks the y-websocket protocol; for Hocuspocus, whose protocol is the same messages each
// prefixed with the document's name and opened by an auth message, it adds those. An editor that does
// not `apply` ignores what others change (its own updates are still real Yjs updates): only a few
// observers pay for applying everything, so that the generator is not the bottleneck.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WsClient from 'ws';
import * as Y from 'yjs';

export type Dialect = 'y-websocket' | 'hocuspocus';

const REMOTE = Symbol('remote');

export class BenchEditor {
  readonly doc = new Y.Doc();
  private readonly _ws: WsClient;
  private _onStep2: Array<() => void> = [];
  /** Resolves once the server's answer to our step 1 has arrived (and was applied, when applying). */
  readonly synced: Promise<void>;
  readonly opened: Promise<void>;

  constructor(
    url: string,
    private readonly _name: string,
    private readonly _dialect: Dialect,
    private readonly _apply: boolean,
  ) {
    this._ws = new WsClient(url, { perMessageDeflate: false });
    this._ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this._ws.once('open', () => resolve());
      this._ws.once('error', reject);
    });
    this._ws.on('error', () => undefined);
    this.synced = this.opened.then(() => {
      if (this._dialect === 'hocuspocus')
        this._send((e) => (encoding.writeVarUint(e, 2), encoding.writeVarUint(e, 0), encoding.writeVarString(e, '')));
      return this.roundTrip();
    });
    this._ws.on('message', (data: Buffer) => this._message(data));
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.sendUpdate(update);
    });
  }

  /** Sends step 1 and resolves on the answer: everything this editor sent before was applied by then. */
  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this._onStep2.push(resolve);
      this._send(
        (e) => (encoding.writeVarUint(e, 0), encoding.writeVarUint(e, 0), encoding.writeVarUint8Array(e, Y.encodeStateVector(this.doc))),
      );
    });
  }

  sendUpdate(update: Uint8Array): void {
    this._send((e) => (encoding.writeVarUint(e, 0), encoding.writeVarUint(e, 2), encoding.writeVarUint8Array(e, update)));
  }

  close(): void {
    this._ws.terminate();
    this.doc.destroy();
  }

  private _send(write: (encoder: encoding.Encoder) => void): void {
    if (this._ws.readyState !== WsClient.OPEN) return;
    const encoder = encoding.createEncoder();
    if (this._dialect === 'hocuspocus') encoding.writeVarString(encoder, this._name);
    write(encoder);
    this._ws.send(encoding.toUint8Array(encoder));
  }

  private _message(data: Buffer): void {
    const decoder = decoding.createDecoder(data);
    if (this._dialect === 'hocuspocus') decoding.readVarString(decoder);
    const type = decoding.readVarUint(decoder);
    // Hocuspocus answers a step 1 with type 4 (a sync reply), the same body as a sync message.
    if (type !== 0 && type !== 4) return;
    const sync = decoding.readVarUint(decoder);
    const body = decoding.readVarUint8Array(decoder);
    if (sync === 0) {
      // The server asks for what we have.
      this._send(
        (e) => (
          encoding.writeVarUint(e, 0), encoding.writeVarUint(e, 1), encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(this.doc, body))
        ),
      );
    } else {
      if (this._apply) Y.applyUpdate(this.doc, body, REMOTE);
      if (sync === 1) this._onStep2.shift()?.();
    }
  }
}
