// Deterministic payloads, so every server gets exactly the same bytes in every run.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function textPayload(size: number): Buffer {
  let s = '';
  while (s.length < size) s += ALPHABET;
  return Buffer.from(s.slice(0, size), 'ascii');
}

export function binaryPayload(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = 0x2545f491;
  for (let i = 0; i < size; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'radia'];
const WORDS = ['frame', 'socket', 'topic', 'relay', 'deflate', 'message', 'client', 'server', 'buffer', 'event'];

/** A chat-history-like JSON document of exactly `size` bytes (padded in a last field). */
export function jsonPayload(size: number): Buffer {
  const records: unknown[] = [];
  const doc = { type: 'history', channel: 'bench', records, pad: '' };
  for (let i = 0; ; i++) {
    const record = {
      id: 100000 + i,
      user: USERS[i % USERS.length],
      ts: 1700000000000 + i * 1337,
      text: Array.from({ length: 6 }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]).join(' '),
      tags: [WORDS[i % WORDS.length], USERS[(i * 3) % USERS.length]],
      seen: i % 3 === 0,
    };
    records.push(record);
    if (JSON.stringify(doc).length > size) {
      records.pop();
      break;
    }
  }
  doc.pad = 'x'.repeat(Math.max(0, size - JSON.stringify(doc).length));
  return Buffer.from(JSON.stringify(doc));
}
