// permessage-deflate without sockets: negotiation from header strings in both roles, and the codec
// (zlib wrapper) fed bytes directly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  acceptDeflateResponse,
  deflateOffer,
  negotiateDeflateAsServer,
  resolveDeflateOptions,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../../src/protocol/deflate.js';
import { createDeflateCompression, zlibActivity, type DeflateCodec } from '../../src/connection/deflate-codec.js';
import { ProtocolError } from '../../src/protocol/parser.js';
import { noise, zeroBomb } from '../helpers/deflate.js';

function options(o: boolean | PerMessageDeflateOptions = true) {
  const resolved = resolveDeflateOptions(o);
  assert.ok(resolved);
  return resolved;
}

function server(header: string, o: boolean | PerMessageDeflateOptions = true) {
  const result = negotiateDeflateAsServer(header, options(o));
  assert.equal(result.ok, true, result.ok ? '' : result.message);
  return result.ok ? result.agreement : null;
}

function client(header: string | undefined, o: boolean | PerMessageDeflateOptions | null = true) {
  return acceptDeflateResponse(header, o === null ? null : options(o));
}

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe('options', () => {
  test('off when false, undefined or null; defaults when true', () => {
    assert.equal(resolveDeflateOptions(false), null);
    assert.equal(resolveDeflateOptions(undefined), null);
    assert.equal(resolveDeflateOptions(null), null);
    const o = options(true);
    assert.equal(o.threshold, 1024);
    assert.equal(o.concurrencyLimit, 10);
  });

  test('window sizes outside 8-15, a negative threshold and a zero limit are refused up front', () => {
    assert.throws(() => resolveDeflateOptions({ serverMaxWindowBits: 7 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ clientMaxWindowBits: 16 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ clientMaxWindowBits: 10.5 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ threshold: -1 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ concurrencyLimit: 0 }), RangeError);
    assert.ok(resolveDeflateOptions({ serverMaxWindowBits: 8, clientMaxWindowBits: true }));
  });
});

describe('server negotiation', () => {
  test('the simplest offer is accepted with the simplest response', () => {
    const a = server('permessage-deflate');
    assert.deepEqual(a, { response: 'permessage-deflate', params: DEFAULT_PARAMS });
  });

  test("a browser's offer (client_max_window_bits without a value)", () => {
    const a = server('permessage-deflate; client_max_window_bits');
    assert.equal(a?.response, 'permessage-deflate');
    assert.deepEqual(a?.params, DEFAULT_PARAMS);
  });

  test('each parameter of an offer is honoured', () => {
    const a = server(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
    assert.equal(
      a?.response,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
    assert.deepEqual(a?.params, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
  });

  test('quoted values and spacing are accepted', () => {
    const a = server('permessage-deflate ;server_max_window_bits="12" ; client_max_window_bits = 11');
    assert.deepEqual(a?.params, { ...DEFAULT_PARAMS, serverMaxWindowBits: 12, clientMaxWindowBits: 11 });
  });

  test('a bad offer is declined and the next one accepted', () => {
    const cases = [
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11',
      'permessage-deflate; foo',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover=yes',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=abc',
    ];
    for (const bad of cases) {
      assert.equal(server(bad), null, bad);
      const a = server(`${bad}, permessage-deflate; client_no_context_takeover`);
      assert.equal(a?.response, 'permessage-deflate; client_no_context_takeover', bad);
    }
  });

  test('several offers: the first acceptable one wins; other extensions are ignored', () => {
    const a = server('x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, permessage-deflate');
    assert.equal(a?.response, 'permessage-deflate; server_max_window_bits=10');
    assert.equal(server('x-webkit-deflate-frame, foo; bar=1'), null);
    assert.equal(server(''), null);
  });

  test('a header that does not parse refuses the handshake', () => {
    const result = negotiateDeflateAsServer('permessage-deflate; =', options());
    assert.equal(result.ok, false);
    assert.equal(negotiateDeflateAsServer('permessage-deflate; a="b', options()).ok, false);
  });

  test('serverNoContextTakeover: true always answers it; false declines offers that ask for it', () => {
    assert.equal(
      server('permessage-deflate', { serverNoContextTakeover: true })?.response,
      'permessage-deflate; server_no_context_takeover',
    );
    assert.equal(server('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false }), null);
    assert.equal(server('permessage-deflate', { serverNoContextTakeover: false })?.response, 'permessage-deflate');
  });

  test('clientNoContextTakeover: true asks the client to reset', () => {
    const a = server('permessage-deflate', { clientNoContextTakeover: true });
    assert.equal(a?.response, 'permessage-deflate; client_no_context_takeover');
    assert.equal(a?.params.clientNoContextTakeover, true);
  });

  test('serverMaxWindowBits: the smaller of ours and the offered value; false declines a limit', () => {
    assert.equal(server('permessage-deflate', { serverMaxWindowBits: 10 })?.response, 'permessage-deflate; server_max_window_bits=10');
    assert.equal(server('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 })?.params.serverMaxWindowBits, 10);
    assert.equal(
      server('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 })?.response,
      'permessage-deflate; server_max_window_bits=9',
    );
    assert.equal(server('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: false }), null);
    assert.equal(server('permessage-deflate', { serverMaxWindowBits: false })?.response, 'permessage-deflate');
  });

  test('clientMaxWindowBits: limits a client that allows it; offers that do not allow it are declined', () => {
    assert.equal(
      server('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 })?.response,
      'permessage-deflate; client_max_window_bits=10',
    );
    assert.equal(
      server('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 })?.response,
      'permessage-deflate; client_max_window_bits=9',
    );
    assert.equal(server('permessage-deflate', { clientMaxWindowBits: 10 }), null);
    assert.equal(
      server('permessage-deflate, permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 })?.params.clientMaxWindowBits,
      10,
    );
    // Never above an offered value; never present when not offered.
    assert.equal(server('permessage-deflate; client_max_window_bits=11')?.response, 'permessage-deflate; client_max_window_bits=11');
    assert.equal(server('permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: false })?.response, 'permessage-deflate');
  });
});

describe('client negotiation', () => {
  test('the offer follows the options (client_max_window_bits without a value by default)', () => {
    assert.equal(deflateOffer(options()), 'permessage-deflate; client_max_window_bits');
    assert.equal(
      deflateOffer(
        options({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }),
      ),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    );
    assert.equal(deflateOffer(options({ clientMaxWindowBits: false })), 'permessage-deflate');
  });

  test('every offer the client builds is one our server accepts as it was made', () => {
    for (const o of [
      {},
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true },
      { serverMaxWindowBits: 9 },
      { clientMaxWindowBits: 12 },
    ]) {
      const a = server(deflateOffer(options(o)));
      assert.ok(a);
      const back = client(a.response, o);
      assert.ok(back.ok && back.agreement);
      assert.deepEqual(back.agreement.params, a.params);
    }
  });

  test('no header: no compression', () => {
    assert.deepEqual(client(undefined), { ok: true, agreement: null });
    assert.deepEqual(client('  '), { ok: true, agreement: null });
  });

  test('a valid response gives the parameters', () => {
    const r = client('permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    assert.ok(r.ok);
    assert.deepEqual(r.agreement?.params, { ...DEFAULT_PARAMS, serverNoContextTakeover: true, clientMaxWindowBits: 10 });
    assert.equal(r.agreement?.response, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
  });

  test('the server may add server_no_context_takeover, client_no_context_takeover and server_max_window_bits', () => {
    const r = client('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9');
    assert.ok(r.ok);
    assert.deepEqual(r.agreement?.params, {
      ...DEFAULT_PARAMS,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
    });
  });

  test('a response that breaks the rules fails the connection', () => {
    const failures: [string, PerMessageDeflateOptions | null, RegExp][] = [
      ['permessage-deflate; =', {}, /Invalid Sec-WebSocket-Extensions/],
      ['foo', {}, /not requested: foo/],
      ['permessage-deflate, foo', {}, /not requested: foo/],
      ['permessage-deflate', null, /not requested/],
      ['permessage-deflate, permessage-deflate', {}, /more than once/],
      ['permessage-deflate; client_max_window_bits', {}, /needs a value/],
      ['permessage-deflate; server_max_window_bits=7', {}, /invalid value "7"/],
      ['permessage-deflate; server_max_window_bits=08', {}, /invalid value "08"/],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, /more than once/],
      ['permessage-deflate; server_no_context_takeover=1', {}, /takes no value/],
      ['permessage-deflate; bogus', {}, /unknown parameter "bogus"/],
      ['permessage-deflate', { serverNoContextTakeover: true }, /server_no_context_takeover/],
      ['permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: false }, /client_no_context_takeover/],
      ['permessage-deflate', { serverMaxWindowBits: 10 }, /did not accept server_max_window_bits/],
      ['permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }, /above the 10 offered/],
      ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }, /not offered/],
      ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 11 }, /above the 11 offered/],
    ];
    for (const [header, o, message] of failures) {
      const r = acceptDeflateResponse(header, o === null ? null : options(o));
      assert.equal(r.ok, false, header);
      if (!r.ok) assert.match(r.message, message, header);
    }
  });

  test('what the client offered binds it even when the response leaves it out', () => {
    const r = client('permessage-deflate', { clientNoContextTakeover: true, clientMaxWindowBits: 11 });
    assert.ok(r.ok);
    assert.deepEqual(r.agreement?.params, { ...DEFAULT_PARAMS, clientNoContextTakeover: true, clientMaxWindowBits: 11 });
    const smaller = client('permessage-deflate; server_max_window_bits=9; client_max_window_bits=10', {
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 11,
    });
    assert.ok(smaller.ok);
    assert.equal(smaller.agreement?.params.serverMaxWindowBits, 9);
    assert.equal(smaller.agreement?.params.clientMaxWindowBits, 10);
  });
});

// ---------------------------------------------------------------- the codec

function codec(params: Partial<DeflateParams> = {}, o: PerMessageDeflateOptions = {}, isServer = true, maxPayload = 0): DeflateCodec {
  return createDeflateCompression({ ...DEFAULT_PARAMS, ...params }, options(o), { isServer, maxPayload });
}

function run(fn: (cb: (error: Error | null, result?: Buffer) => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => fn((error, result) => (error ? reject(error) : resolve(result!))));
}

const compress = (c: DeflateCodec, data: Buffer, fin = true) => run((cb) => c.compress(data, fin, cb));
const decompress = (c: DeflateCodec, data: Buffer, fin = true) => run((cb) => c.decompress(data, fin, cb));
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('codec', () => {
  test('the examples of RFC 7692 7.2.3 inflate to "Hello"', async () => {
    const examples = [
      'f2 48 cd c9 c9 07 00', // one compressed block
      '00 05 00 fa ff 48 65 6c 6c 6f 00', // a stored block
      'f3 48 cd c9 c9 07 00', // a block with BFINAL set
      'f3 48 cd c9 c9 07 00 00', // BFINAL, then an empty block of a new stream
      'f2 48 05 00 00 00 ff ff ca c9 c9 07 00', // two blocks in one message
    ];
    for (const example of examples) {
      const c = codec();
      assert.equal((await decompress(c, hex(example))).toString(), 'Hello', example);
      c.cleanup();
    }
  });

  test('the shared-window example of RFC 7692 7.2.3.2 needs context takeover', async () => {
    const c = codec();
    assert.equal((await decompress(c, hex('f2 48 cd c9 c9 07 00'))).toString(), 'Hello');
    assert.equal((await decompress(c, hex('f2 00 11 00 00'))).toString(), 'Hello');
    c.cleanup();
  });

  test('a message ending in a final block resets the inflater for the next message', async () => {
    const c = codec();
    assert.equal((await decompress(c, hex('f3 48 cd c9 c9 07 00'))).toString(), 'Hello');
    assert.equal(c.contexts.inflate, false);
    assert.equal((await decompress(c, hex('f2 48 cd c9 c9 07 00'))).toString(), 'Hello');
    assert.equal((await decompress(c, hex('f2 00 11 00 00'))).toString(), 'Hello');
    // A whole zlib stream per message (Z_FINISH), as some senders do.
    for (const text of ['first message', 'second message']) {
      assert.equal((await decompress(c, deflateRawSync(Buffer.from(text)))).toString(), text);
    }
    c.cleanup();
  });

  test('compress: sync-flushed, without the 4-byte tail, and inflatable by zlib', async () => {
    const c = codec();
    const data = Buffer.from('Hello, Hello, Hello, Hello'.repeat(50));
    const out = await compress(c, data);
    assert.ok(out.length < data.length / 10);
    assert.notDeepEqual(out.subarray(-4), TAIL);
    assert.deepEqual(inflateRawSync(Buffer.concat([out, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }), data);
    c.cleanup();
  });

  test('an empty message compresses to the single byte 0x00', async () => {
    const c = codec();
    assert.deepEqual(await compress(c, Buffer.alloc(0)), Buffer.from([0]));
    assert.deepEqual(await compress(c, Buffer.alloc(0)), Buffer.from([0]));
    assert.equal((await decompress(c, Buffer.from([0]))).length, 0);
    c.cleanup();
  });

  test('round trips between the two roles keep the window between messages', async () => {
    const serverSide = codec({}, {}, true);
    const clientSide = codec({}, {}, false);
    const message = Buffer.concat([noise(3000, 7), Buffer.from(' and some text')]);
    const first = await compress(serverSide, message);
    const second = await compress(serverSide, message);
    assert.ok(second.length < first.length / 10, 'the second copy refers to the first');
    assert.deepEqual(await decompress(clientSide, first), message);
    assert.deepEqual(await decompress(clientSide, second), message);
    serverSide.cleanup();
    clientSide.cleanup();
  });

  test('fragments compress as one stream; only the last loses its tail', async () => {
    const sender = codec({}, {}, false);
    const receiver = codec({}, {}, true);
    const parts = [Buffer.from('part one, '.repeat(40)), Buffer.alloc(0), Buffer.from('part two, '.repeat(40))];
    const a = await compress(sender, parts[0]!, false);
    const b = await compress(sender, parts[1]!, false);
    const c = await compress(sender, parts[2]!, true);
    assert.deepEqual(a.subarray(-4), TAIL);
    assert.deepEqual(await decompress(receiver, Buffer.concat([a, b, c])), Buffer.concat(parts));
    sender.cleanup();
    receiver.cleanup();
  });

  test("windows of 8 to 15 bits work both ways (8 compresses with zlib's 9, reaching back 250 bytes)", async () => {
    const message = Buffer.concat([noise(700, 3), noise(700, 3), noise(200, 5), noise(200, 5)]);
    for (let bits = 8; bits <= 15; bits++) {
      const params = { serverMaxWindowBits: bits, clientMaxWindowBits: bits };
      const a = codec(params, {}, true);
      const b = codec(params, {}, false);
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await decompress(b, await compress(a, message)), message, `${bits} bits`);
        assert.deepEqual(await decompress(a, await compress(b, message)), message, `${bits} bits`);
      }
      a.cleanup();
      b.cleanup();
    }
  });

  test('zlib contexts are made on first use and freed after each message without context takeover', async () => {
    const keep = codec();
    assert.deepEqual(keep.contexts, { deflate: false, inflate: false });
    const packed = await compress(keep, Buffer.from('x'.repeat(2000)));
    await decompress(keep, packed);
    assert.deepEqual(keep.contexts, { deflate: true, inflate: true });
    keep.cleanup();
    assert.deepEqual(keep.contexts, { deflate: false, inflate: false });

    const reset = codec({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const one = await compress(reset, Buffer.from('y'.repeat(2000)));
    assert.equal(reset.contexts.deflate, false);
    await decompress(reset, one);
    assert.equal(reset.contexts.inflate, false);
    // Fragments of one message share a context until the last one.
    await compress(reset, Buffer.from('z'.repeat(2000)), false);
    assert.equal(reset.contexts.deflate, true);
    await compress(reset, Buffer.from('z'.repeat(2000)), true);
    assert.equal(reset.contexts.deflate, false);
    // Without context takeover the same message compresses the same each time.
    assert.deepEqual(await compress(reset, Buffer.from('y'.repeat(2000))), one);
    reset.cleanup();
  });

  test('maxPayload applies to the inflated size, and a message of exactly maxPayload passes', async () => {
    const data = Buffer.from('a'.repeat(100_000));
    const packed = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const exact = codec({}, {}, true, 100_000);
    assert.equal((await decompress(exact, packed)).length, 100_000);
    exact.cleanup();
    const under = codec({}, {}, true, 99_999);
    await assert.rejects(decompress(under, packed), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.closeCode, 1009);
      assert.equal(error.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      return true;
    });
    assert.equal(under.contexts.inflate, false);
    under.cleanup();
  });

  test('a 1 GiB bomb in a 1 MiB message stops at the limit, before the end of its input', async () => {
    const bomb = await zeroBomb(1024); // 1 GiB of zeros
    assert.ok(bomb.length < 1.1 * 1024 * 1024, `bomb of ${bomb.length} bytes`);
    // Garbage after the bomb: an inflater that went on to the end would report 1007, not 1009.
    const payload = Buffer.concat([bomb, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const c = codec({}, {}, true, 2 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(decompress(c, payload), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.closeCode, 1009);
      return true;
    });
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    assert.equal(zlibActivity().running, 0);
    c.cleanup();
  });

  test('corrupt data fails with 1007, never throws', async () => {
    for (const bad of ['ff ff ff ff', '07', 'f2 48 cd c9 c9 07 00 07', 'ed c1 01 0d 00 00 00 c2 a0 f7 4f 6d 0f']) {
      const c = codec();
      await assert.rejects(decompress(c, hex(bad)), (error: unknown) => {
        assert.ok(error instanceof ProtocolError, bad);
        assert.equal(error.closeCode, 1007, bad);
        return true;
      });
      // The connection is failed after this, but the codec stays usable and can be cleaned up.
      assert.equal((await decompress(c, hex('f2 48 cd c9 c9 07 00'))).toString(), 'Hello');
      c.cleanup();
    }
  });

  test('operations of one direction keep their order', async () => {
    const a = codec({}, {}, true);
    const b = codec({}, {}, false);
    const messages = Array.from({ length: 50 }, (_, i) => Buffer.from(`message ${i} `.repeat(1 + (i % 7) * 30)));
    const packed = await Promise.all(messages.map((m) => compress(a, m)));
    const unpacked = await Promise.all(packed.map((p) => decompress(b, p)));
    assert.deepEqual(unpacked, messages);
    a.cleanup();
    b.cleanup();
  });

  test('at most concurrencyLimit zlib operations run at once across codecs', async () => {
    const codecs = Array.from({ length: 12 }, () => codec({}, { concurrencyLimit: 2 }));
    let peak = 0;
    const done = codecs.map((c, i) =>
      run((cb) => {
        c.compress(noise(64 * 1024, i + 1), true, (error, result) => {
          peak = Math.max(peak, zlibActivity().running);
          cb(error, result);
        });
      }),
    );
    const now = zlibActivity();
    assert.equal(now.running, 2);
    assert.equal(now.waiting, 10);
    await Promise.all(done);
    assert.ok(peak <= 2, `peak ${peak}`);
    assert.deepEqual(zlibActivity(), { running: 0, waiting: 0 });
    for (const c of codecs) c.cleanup();
  });

  test('cleanup fails what is under way and waiting, frees the slots, and later calls fail', async () => {
    const busy = Array.from({ length: 3 }, () => codec({}, { concurrencyLimit: 1 }));
    const results = busy.map((c) =>
      run((cb) => c.compress(noise(32 * 1024), true, cb)).then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    const second = run((cb) => busy[0]!.compress(Buffer.from('queued'), true, cb)).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    for (const c of busy) c.cleanup();
    for (const r of [...(await Promise.all(results)), await second]) assert.match(r, /closed/);
    assert.deepEqual(zlibActivity(), { running: 0, waiting: 0 });
    await assert.rejects(compress(busy[0]!, Buffer.from('after')), /closed/);
    const fresh = codec();
    assert.equal((await decompress(fresh, await compress(fresh, Buffer.from('still works')))).toString(), 'still works');
    fresh.cleanup();
  });
});
