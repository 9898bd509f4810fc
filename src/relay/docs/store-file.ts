// The embedded document store, used when no database is named: one file per document under
// `<data dir>/docs/`, holding the document's name and then its updates as records
// ([length: u32][crc32: u32][update]). An update is appended as it is applied (written at once, not
// fsynced each time: what the operating system has taken survives the relay's crash, not a power cut);
// compaction writes the whole document as one record to a new file, fsyncs it and renames it over the
// old one, so a crash at any point leaves the old file or the new one. A torn last record (the process
// died mid-write) fails its checksum: it is cut off when the document is loaded, and logged.
//
// One process owns a data directory (a lock file with its pid, taken when the first document is opened,
// so that a relay nobody edits on makes no directory): a second relay on the same directory cannot open
// documents there, as two writers would lose each other's compactions; it says so.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import type { DocStore } from './store.js';

const MAGIC = Buffer.from('WCYDOC1\n');
const RECORD_HEADER = 8;

export interface FileStoreOptions {
  /** Told of a torn or corrupt record cut off at load. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

interface Batch {
  records: Buffer[];
  done: Promise<void>;
}

export class FileDocStore implements DocStore {
  readonly description: string;
  private readonly _docs: string;
  /** Operations per document run one after another (appends, compactions). */
  private readonly _chains = new Map<string, Promise<unknown>>();
  /** Appends waiting for the write in flight: written together, as one. */
  private readonly _batches = new Map<string, Batch>();
  /** Documents whose file exists (with its header). */
  private readonly _exists = new Set<string>();

  private readonly _dir: string;
  /** The directory made and locked (null: not yet, or the last attempt failed). */
  private _opened: Promise<FileHandle> | null = null;

  constructor(
    dir: string,
    private readonly _options: FileStoreOptions = {},
  ) {
    this._dir = resolve(dir);
    this._docs = join(this._dir, 'docs');
    this.description = `files under ${this._dir}`;
  }

  /** Makes the directory and takes its lock, once; rejects (and tries again next time) if it cannot. */
  private _open(): Promise<FileHandle> {
    this._opened ??= (async () => {
      try {
        await mkdir(this._docs, { recursive: true });
      } catch (error) {
        throw new Error(`Cannot use the data directory ${this._dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
          cause: error,
        });
      }
      return takeLock(join(this._dir, 'wavecast.lock'));
    })();
    this._opened.catch(() => {
      this._opened = null;
    });
    return this._opened;
  }

  async load(doc: string): Promise<Uint8Array[]> {
    return this._serial(doc, async () => {
      await this._open();
      const path = this._path(doc);
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      const parsed = parseFile(data, doc);
      if (parsed.end < data.length) {
        this._options.warn?.('a document file ended in a torn or corrupt record: cut off', {
          doc,
          file: path,
          kept: parsed.end,
          dropped: data.length - parsed.end,
        });
        if (parsed.end === 0) await unlink(path);
        else await truncate(path, parsed.end);
      }
      if (parsed.end > 0) this._exists.add(doc);
      return parsed.updates;
    });
  }

  append(doc: string, update: Uint8Array): Promise<void> {
    const pending = this._batches.get(doc);
    if (pending !== undefined) {
      pending.records.push(record(update));
      return pending.done;
    }
    const batch: Batch = { records: [record(update)], done: Promise.resolve() };
    this._batches.set(doc, batch);
    batch.done = this._serial(doc, async () => {
      this._batches.delete(doc);
      await this._open();
      const header = this._exists.has(doc) ? [] : [fileHeader(doc)];
      await writeFile(this._path(doc), Buffer.concat([...header, ...batch.records]), { flag: 'a' });
      this._exists.add(doc);
    });
    return batch.done;
  }

  /** The state holds everything in the file (only this process writes it): it replaces the file. */
  compact(doc: string, state: Uint8Array): Promise<number> {
    return this._serial(doc, async () => {
      await this._open();
      const path = this._path(doc);
      const temporary = `${path}.${process.pid}.tmp`;
      const file = await open(temporary, 'w');
      try {
        await file.writeFile(Buffer.concat([fileHeader(doc), record(state)]));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
      this._exists.add(doc);
      return state.length;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this._chains.values()].map((chain) => chain.catch(() => undefined)));
    const lock = await this._opened?.catch(() => null);
    this._opened = null;
    if (lock === undefined || lock === null) return;
    await lock.close();
    await unlink(join(this._dir, 'wavecast.lock')).catch(() => undefined);
  }

  private _path(doc: string): string {
    return join(this._docs, `${createHash('sha256').update(doc).digest('hex').slice(0, 40)}.ydoc`);
  }

  private _serial<T>(doc: string, operation: () => Promise<T>): Promise<T> {
    const previous = this._chains.get(doc) ?? Promise.resolve();
    const next = previous.then(operation, operation);
    const settled = next.catch(() => undefined);
    this._chains.set(doc, settled);
    void settled.then(() => {
      if (this._chains.get(doc) === settled) this._chains.delete(doc);
    });
    return next;
  }
}

function fileHeader(doc: string): Buffer {
  const name = Buffer.from(doc);
  const header = Buffer.allocUnsafe(MAGIC.length + 4 + name.length);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(name.length, MAGIC.length);
  name.copy(header, MAGIC.length + 4);
  return header;
}

function record(update: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER + update.length);
  out.writeUInt32BE(update.length, 0);
  out.writeUInt32BE(crc32(update), 4);
  out.set(update, RECORD_HEADER);
  return out;
}

/** The updates of a document file, and where its last whole, intact record ends (0: no valid header). */
export function parseFile(data: Buffer, doc: string): { updates: Uint8Array[]; end: number } {
  const updates: Uint8Array[] = [];
  if (data.length < MAGIC.length + 4 || !data.subarray(0, MAGIC.length).equals(MAGIC)) return { updates, end: 0 };
  const nameLength = data.readUInt32BE(MAGIC.length);
  let offset = MAGIC.length + 4 + nameLength;
  if (offset > data.length) return { updates, end: 0 };
  const name = data.subarray(MAGIC.length + 4, offset).toString();
  if (name !== doc) throw new Error(`The file of document ${JSON.stringify(doc)} holds ${JSON.stringify(name)} (a name hash collision)`);
  while (offset + RECORD_HEADER <= data.length) {
    const length = data.readUInt32BE(offset);
    const start = offset + RECORD_HEADER;
    if (start + length > data.length) break;
    const update = data.subarray(start, start + length);
    if (crc32(update) !== data.readUInt32BE(offset + 4)) break;
    updates.push(update);
    offset = start + length;
  }
  return { updates, end: offset };
}

async function takeLock(path: string): Promise<FileHandle> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      return handle;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new Error(
        `The data directory ${join(path, '..')} is in use by another relay (pid ${holder}): give each relay its own --data-dir, or share documents through --postgres`,
      );
    }
    await unlink(path).catch(() => undefined); // left by a process that is gone
  }
  throw new Error(`Cannot lock the data directory (${path})`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
